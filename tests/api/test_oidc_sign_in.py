"""Sign-in with a real OpenID provider on loopback (oidc-provider-mock): code + PKCE,
state and nonce, the email allowlist, replays and sign-out. The browser's steps are
made over HTTP; tests/e2e/test_sign_in.py walks the same flow in Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from chatkit_app.api.app import create_api
from chatkit_app.auth.site_sessions import SITE_COOKIE
from chatkit_app.services import Services, build_services
from tests.api.conftest import asgi_client
from tests.conftest import create_session, make_settings
from tests.fakes.oidc_provider import authorize, oidc_provider, set_user


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with oidc_provider() as url:
        set_user(url, "alice", email="alice@example.com", email_verified=True, name="Alice Example")
        set_user(url, "mallory", email="mallory@evil.test", email_verified=True, name="Mallory")
        set_user(url, "unverified", email="bob@example.com", email_verified=False)
        yield url


def _services(tmp_path: Any, issuer: str, **overrides: Any) -> Services:
    settings = make_settings(
        tmp_path,
        chatkit_auth="oidc",
        chatkit_oidc_issuer=issuer,
        chatkit_oidc_client_id="chatkit-test",
        chatkit_oidc_client_secret="client-secret-" + "s" * 20,
        **overrides,
    )
    return build_services(settings, production=False)


@pytest.fixture
async def site(tmp_path: Any, issuer: str) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    services = _services(tmp_path, issuer, chatkit_allowed_email_domains="example.com")
    async with asgi_client(create_api(lambda: services)) as http:
        yield http, services
    services.close()


async def _start(http: httpx.AsyncClient, next_path: str = "/") -> tuple[str, str]:
    """`/auth/login`: returns the provider's authorize URL and the pending cookie."""
    response = await http.get("/auth/login", params={"next": next_path})
    assert response.status_code == 303, response.text
    pending = response.cookies.get("chatkit_oidc")
    assert pending
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["nonce"][0] and query["state"][0] and "email" in query["scope"][0]
    return response.headers["location"], pending


async def _callback(http: httpx.AsyncClient, pending: str, query: dict[str, str]) -> httpx.Response:
    http.cookies.clear()
    return await http.get("/auth/callback", params=query, headers={"Cookie": f"chatkit_oidc={pending}"})


async def test_sign_in_then_me_then_sign_out(site: tuple[httpx.AsyncClient, Services]) -> None:
    http, _ = site
    url, pending = await _start(http, "/c/some-thread")
    response = await _callback(http, pending, authorize(url, "alice"))
    assert response.status_code == 303, response.text
    assert urlsplit(response.headers["location"]).path == "/c/some-thread"
    cookie = response.cookies.get(SITE_COOKIE)
    assert cookie and "httponly" in response.headers["set-cookie"].lower()
    http.cookies.clear()
    me = (await http.get("/auth/me", headers={"Cookie": f"{SITE_COOKIE}={cookie}"})).json()
    assert me["signedIn"] is True and me["name"] == "Alice Example"
    assert me["userId"].startswith("oidc_") and "alice" not in me["userId"]

    chat = await create_session(http, user_id=me["userId"])
    confirm = await http.get("/auth/logout", headers={"Cookie": f"{SITE_COOKIE}={cookie}"})
    assert confirm.status_code == 200 and 'method="post"' in confirm.text
    assert (await http.get("/auth/me", headers={"Cookie": f"{SITE_COOKIE}={cookie}"})).json()["signedIn"] is True
    out = await http.post("/auth/logout", headers={"Cookie": f"{SITE_COOKIE}={cookie}"})
    assert out.status_code == 200 and "signed out" in out.text.lower()
    assert out.headers["clear-site-data"] == '"storage"'  # the tab's Reflex state goes too
    again = (await http.get("/auth/me", headers={"Cookie": f"{SITE_COOKIE}={cookie}"})).json()
    assert again["signedIn"] is False
    check = await http.get(
        f"/api/chatkit/session/{chat['sessionId']}/validate", headers={"Authorization": f"Bearer {chat['token']}"}
    )
    assert check.status_code == 401 and check.json()["error"]["code"] == "session_revoked"


async def test_the_same_account_is_the_same_user_and_the_cookie_is_not_stored(
    site: tuple[httpx.AsyncClient, Services],
) -> None:
    http, services = site
    ids, cookies = [], []
    for _ in range(2):
        url, pending = await _start(http)
        response = await _callback(http, pending, authorize(url, "alice"))
        cookies.append(response.cookies[SITE_COOKIE])
        http.cookies.clear()
        ids.append((await http.get("/auth/me", headers={"Cookie": f"{SITE_COOKIE}={cookies[-1]}"})).json()["userId"])
    assert ids[0] == ids[1] and cookies[0] != cookies[1]
    with services.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT id FROM chatkit_site_session").scalars().all()
    assert len(stored) == 2 and not set(stored) & set(cookies)


async def test_an_email_outside_the_allowlist_is_refused(site: tuple[httpx.AsyncClient, Services]) -> None:
    http, _ = site
    url, pending = await _start(http)
    response = await _callback(http, pending, authorize(url, "mallory"))
    assert response.status_code == 403
    assert "not allowed" in response.text.lower()
    assert SITE_COOKIE not in response.cookies


async def test_an_unverified_email_is_refused_even_in_an_allowed_domain(
    site: tuple[httpx.AsyncClient, Services],
) -> None:
    http, _ = site
    url, pending = await _start(http)
    response = await _callback(http, pending, authorize(url, "unverified"))
    assert response.status_code == 403


async def test_tampered_state_is_refused(site: tuple[httpx.AsyncClient, Services]) -> None:
    http, _ = site
    url, pending = await _start(http)
    query = authorize(url, "alice")
    response = await _callback(http, pending, {**query, "state": query["state"] + "x"})
    assert response.status_code == 400
    assert SITE_COOKIE not in response.cookies
    forged = pending[:-2] + ("AA" if not pending.endswith("AA") else "BB")
    assert (await _callback(http, forged, query)).status_code == 400
    assert (await _callback(http, "", query)).status_code == 400


async def test_a_replayed_code_is_refused(site: tuple[httpx.AsyncClient, Services]) -> None:
    http, _ = site
    url, pending = await _start(http)
    query = authorize(url, "alice")
    assert (await _callback(http, pending, query)).status_code == 303
    replay = await _callback(http, pending, query)
    assert replay.status_code == 400
    assert SITE_COOKIE not in replay.cookies


async def test_a_wrong_nonce_is_refused(site: tuple[httpx.AsyncClient, Services]) -> None:
    """An ID token minted for another sign-in attempt (its nonce) does not sign this one in."""
    http, services = site
    url_a, pending_a = await _start(http)
    _url_b, pending_b = await _start(http)
    query_a = authorize(url_a, "alice")
    # Attempt B's cookie with attempt A's state would fail on state; keep A's state but B's nonce:
    from chatkit_app.auth.signed import sign, unsign

    saved_a = unsign(services.secret, "oidc-pending", pending_a)
    saved_b = unsign(services.secret, "oidc-pending", pending_b)
    assert saved_a and saved_b
    mixed = sign(services.secret, "oidc-pending", {**saved_a, "nonce": saved_b["nonce"]}, max_age=600)
    response = await _callback(http, mixed, query_a)
    assert response.status_code == 400
    assert "did not check out" in response.text


async def test_the_next_path_cannot_leave_the_site(site: tuple[httpx.AsyncClient, Services]) -> None:
    http, _ = site
    for hostile in ("https://evil.test/", "//evil.test/x", "/\\evil.test"):
        url, pending = await _start(http, hostile)
        response = await _callback(http, pending, authorize(url, "alice"))
        assert response.status_code == 303
        assert urlsplit(response.headers["location"]).path == "/"
        assert "evil" not in response.headers["location"]


async def test_an_unreachable_provider_says_so(tmp_path: Any) -> None:
    services = _services(tmp_path, "http://127.0.0.1:9")
    async with asgi_client(create_api(lambda: services)) as http:
        response = await http.get("/auth/login")
    services.close()
    assert response.status_code == 503
    assert "cannot be reached" in response.text
