"""Who the visitor is, per mode, from what the browser cannot forge; site sessions'
lifetimes on real SQLite and PostgreSQL; signed values; the `next` path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatkit_app.auth.identity import ANON_COOKIE, mint_anonymous_cookie, parse_cookies
from chatkit_app.auth.signed import sign, unsign
from chatkit_app.auth.site_sessions import SITE_COOKIE, SiteSessions
from chatkit_app.auth.visitor import identify
from chatkit_app.db import make_engine, migrate
from chatkit_app.urls import safe_next
from tests.conftest import make_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def site_sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SiteSessions, Clock]]:
    url = f"sqlite:///{tmp_path / 'site.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    migrate(engine)
    clock = Clock()
    yield SiteSessions(engine, idle_seconds=600, max_age_seconds=3600, clock=clock), clock
    engine.dispose()


def test_a_site_session_lives_until_idle_max_age_or_sign_out(site_sessions: tuple[SiteSessions, Clock]) -> None:
    sessions, clock = site_sessions
    cookie = sessions.create("oidc_abc", "a@example.com", "A")
    assert sessions.resolve(cookie) is not None
    assert sessions.resolve(cookie + "x") is None and sessions.resolve(None) is None
    clock.now += 599
    assert sessions.resolve(cookie) is not None  # and touched: idle restarts
    clock.now += 599
    assert sessions.resolve(cookie) is not None
    clock.now += 601
    assert sessions.resolve(cookie) is None  # idle too long
    second = sessions.create("oidc_abc", None, None)
    clock.now += 3601
    assert sessions.resolve(second) is None  # absolute lifetime, even while active
    third = sessions.create("oidc_abc", None, None)
    assert sessions.revoke(third) == "oidc_abc"
    assert sessions.resolve(third) is None
    assert sessions.revoke(third) is None  # an ended sign-in signs nobody out again
    assert sessions.revoke(second) is None
    assert sessions.sweep() == 3
    assert sessions.resolve(sessions.create("oidc_x", None, None)) is not None


def test_sign_out_everywhere(site_sessions: tuple[SiteSessions, Clock]) -> None:
    sessions, _ = site_sessions
    one, two = sessions.create("u1", None, None), sessions.create("u1", None, None)
    other = sessions.create("u2", None, None)
    sessions.revoke_user("u1")
    assert sessions.resolve(one) is None and sessions.resolve(two) is None
    assert sessions.resolve(other) is not None


async def test_anonymous_visitor_comes_from_the_signed_cookie_only(services_with: Any) -> None:
    services = services_with()
    cookie = mint_anonymous_cookie(services.secret)
    visitor = await identify(services, {"cookie": f"x=1; {ANON_COOKIE}={cookie}"}, "203.0.113.9")
    assert visitor is not None and visitor.kind == "anonymous" and visitor.user_id.startswith("anon_")
    anon_id, mac = cookie.split(".")
    forged = f"{anon_id[:-1]}{'A' if anon_id[-1] != 'A' else 'B'}.{mac}"
    assert await identify(services, {"cookie": f"{ANON_COOKIE}={forged}"}, None) is None
    assert await identify(services, {}, None) is None
    other = services_with(chatkit_secret="another-secret-" + "z" * 40)
    assert await identify(other, {"cookie": f"{ANON_COOKIE}={cookie}"}, None) is None


async def test_header_identity_only_from_a_trusted_proxy(services_with: Any) -> None:
    services = services_with(
        chatkit_auth="header", chatkit_auth_header="X-Forwarded-User", chatkit_trusted_proxies="10.0.0.0/8"
    )
    headers = {"x-forwarded-user": "alice@example.com"}
    visitor = await identify(services, headers, "10.1.2.3")
    assert visitor is not None and visitor.user_id == "alice@example.com" and visitor.kind == "header"
    assert await identify(services, headers, "203.0.113.9") is None  # anyone can write the header
    assert await identify(services, {"x-forwarded-user": "bad user!"}, "10.1.2.3") is None
    anon = mint_anonymous_cookie(services.secret)
    assert await identify(services, {"cookie": f"{ANON_COOKIE}={anon}"}, "10.1.2.3") is None  # not this mode


async def test_oidc_visitor_comes_from_a_live_site_session(services_with: Any) -> None:
    services = services_with(chatkit_auth="oidc", chatkit_oidc_issuer="http://127.0.0.1:9", chatkit_oidc_client_id="c")
    cookie = services.site_sessions.create("oidc_1", "a@example.com", "Ada")
    visitor = await identify(services, {"cookie": f"{SITE_COOKIE}={cookie}"}, None)
    assert visitor is not None and visitor.label == "Ada" and visitor.user_id == "oidc_1"
    services.site_sessions.revoke(cookie)
    assert await identify(services, {"cookie": f"{SITE_COOKIE}={cookie}"}, None) is None


def test_settings_refuse_an_incomplete_auth_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CHATKIT_OIDC_ISSUER"):
        make_settings(tmp_path, chatkit_auth="oidc")
    with pytest.raises(ValueError, match="CHATKIT_TRUSTED_PROXIES"):
        make_settings(tmp_path, chatkit_auth="header")


def test_production_oidc_needs_the_public_url(tmp_path: Path) -> None:
    from chatkit_app.settings import ConfigError, check_production

    oidc = {"chatkit_auth": "oidc", "chatkit_oidc_issuer": "https://id.example.com", "chatkit_oidc_client_id": "c"}
    with pytest.raises(ConfigError, match="CHATKIT_PUBLIC_URL"):
        check_production(make_settings(tmp_path, **oidc))
    check_production(make_settings(tmp_path, chatkit_public_url="https://chat.example.com", **oidc))
    check_production(make_settings(tmp_path))


def test_signed_values_check_key_purpose_and_expiry() -> None:
    key = b"k" * 32
    value = sign(key, "a", {"x": 1}, max_age=10, now=1000)
    assert unsign(key, "a", value, now=1005) == {"x": 1, "exp": 1010}
    assert unsign(key, "a", value, now=1011) is None
    assert unsign(key, "b", value, now=1005) is None
    assert unsign(b"j" * 32, "a", value, now=1005) is None
    assert unsign(key, "a", value.replace(".", "x.", 1), now=1005) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/c/abc?x=1", "/c/abc?x=1"),
        (None, "/"),
        ("", "/"),
        ("https://evil.test/", "/"),
        ("//evil.test", "/"),
        ("/\\evil.test", "/"),
        ("/a\nb", "/"),
        ("relative", "/"),
    ],
)
def test_next_is_a_path_on_this_site(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_cookie_header_parsing() -> None:
    assert parse_cookies('a=1; b="2"; a=3; junk; =x') == {"a": "1", "b": "2"}
    assert parse_cookies(None) == {}


def test_repeated_cookie_headers_are_joined_as_reflex_joins_them() -> None:
    from chatkit_app.net import headers_of

    headers = headers_of([(b"Cookie", b"a=1"), (b"cookie", b"b=2"), (b"Host", b"x"), (b"host", b"y")])
    assert parse_cookies(headers["cookie"]) == {"a": "1", "b": "2"} and headers["host"] == "y"


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("unknown", "unknown"),
    ],
)
def test_new_identities_are_counted_per_ipv4_address_or_ipv6_64(address: str, key: str) -> None:
    from chatkit_app.limits.policy import address_key

    assert address_key(address) == key
