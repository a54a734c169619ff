"""`CHATKIT_AUTH=oidc` on the production site, in Chromium, against a real OpenID provider
on loopback: a stranger is sent to sign in, a signed-in user chats and signs out, an
email outside the allowlist is refused, and a client that is not signed in gets nothing
from the pages, Reflex's event socket, `/api/chatkit` or the upload route."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.prod_site import copy_site, free_port, running_site, wait_until
from tests.e2e.test_prod_backend import _env
from tests.fakes.oidc_provider import oidc_provider, set_user

pytestmark = pytest.mark.slow


@dataclass
class SignInSite:
    url: str
    issuer: str
    root: Path


@pytest.fixture(scope="module")
def signin_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignInSite]:
    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    root: Path = tmp_path_factory.mktemp("signin-site")
    copy_site(root)
    with oidc_provider() as issuer:
        set_user(issuer, "alice", email="alice@example.com", email_verified=True, name="Alice Example")
        set_user(issuer, "mallory", email="mallory@evil.test", email_verified=True, name="Mallory")
        port = free_port()
        env = _env(
            root / "data",
            CHATKIT_SECRET=secrets.token_urlsafe(48),
            CHATKIT_UI_MODE="native",
            CHATKIT_AUTH="oidc",
            CHATKIT_OIDC_ISSUER=issuer,
            CHATKIT_OIDC_CLIENT_ID="chatkit-e2e",
            CHATKIT_OIDC_CLIENT_SECRET=secrets.token_urlsafe(24),
            CHATKIT_ALLOWED_EMAIL_DOMAINS="example.com",
            CHATKIT_PUBLIC_URL=f"http://127.0.0.1:{port}",
        )
        with running_site(root, env, port=port) as url:
            yield SignInSite(url, issuer, root)


def _sign_in_at_provider(page: Any, sub: str) -> None:
    page.locator('input[name="sub"]').wait_for(timeout=30_000)
    page.locator('input[name="sub"]').fill(sub)
    page.get_by_role("button", name="Authorize").click()


def test_sign_in_chat_and_sign_out(signin_site: SignInSite, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{signin_site.url}/")
        assert page.url.startswith(signin_site.issuer)  # sent to the provider first
        _sign_in_at_provider(page, "alice")
        page.get_by_test_id("native-chat").wait_for(timeout=30_000)
        assert page.url.rstrip("/") == signin_site.url
        from playwright.sync_api import expect

        expect(page.get_by_test_id("signed-in-as")).to_have_text("Alice Example", timeout=20_000)
        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        assert cookies["chatkit_site"]["httpOnly"] and cookies["chatkit_site"]["sameSite"] == "Lax"

        composer = page.get_by_test_id("composer-input")
        composer.fill("hello after signing in")
        composer.press("Enter")
        expect(page.get_by_test_id("assistant-message").first).to_contain_text("hello after signing in", timeout=30_000)

        page.get_by_test_id("sign-out").click()
        expect(page.get_by_test_id("auth-title")).to_have_text("Sign out", timeout=20_000)
        page.get_by_test_id("auth-submit").click()
        expect(page.get_by_test_id("auth-title")).to_have_text("Signed out", timeout=20_000)
        page.goto(f"{signin_site.url}/")
        assert page.url.startswith(signin_site.issuer)  # signed out: back to the provider
    finally:
        context.close()


def test_an_email_outside_the_allowlist_gets_a_clear_refusal(signin_site: SignInSite, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{signin_site.url}/")
        _sign_in_at_provider(page, "mallory")
        from playwright.sync_api import expect

        expect(page.get_by_test_id("auth-title")).to_have_text("Not allowed", timeout=20_000)
        assert "not allowed" in page.get_by_test_id("auth-message").inner_text()
        assert "chatkit_site" not in {cookie["name"] for cookie in context.cookies()}
    finally:
        context.close()


def test_a_tampered_state_and_a_replayed_code_are_refused_in_the_browser(signin_site: SignInSite, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    callbacks: list[str] = []
    page.on("request", lambda request: callbacks.append(request.url) if "/auth/callback" in request.url else None)
    try:
        # A tampered state: the provider's answer (its redirect back) is held, then opened
        # with the state changed.
        held: list[str] = []

        def hold_the_answer(route: Any) -> None:
            if route.request.method != "POST":
                route.continue_()
                return
            answer = route.fetch(max_redirects=0)
            held.append(answer.headers["location"])
            route.fulfill(status=200, body="held")

        approve = re.compile(r"/oauth2/authorize")
        page.goto(f"{signin_site.url}/")
        page.route(approve, hold_the_answer)
        _sign_in_at_provider(page, "alice")
        wait_until(lambda: bool(held), timeout=20)
        page.unroute(approve)
        assert "/auth/callback?" in held[0]
        page.goto(held[0].replace("state=", "state=x"))
        expect(page.get_by_test_id("auth-title")).to_have_text("Sign-in failed", timeout=20_000)
        assert "chatkit_site" not in {cookie["name"] for cookie in context.cookies()}

        # A replayed code: a completed sign-in's callback, opened again.
        page.goto(f"{signin_site.url}/")
        _sign_in_at_provider(page, "alice")
        page.get_by_test_id("native-chat").wait_for(timeout=30_000)
        wait_until(lambda: bool(callbacks), timeout=20)
        context.clear_cookies()
        page.goto(callbacks[-1])
        expect(page.get_by_test_id("auth-title")).to_have_text("Sign-in failed", timeout=20_000)
        assert "chatkit_site" not in {cookie["name"] for cookie in context.cookies()}
    finally:
        context.close()


def test_a_client_that_is_not_signed_in_gets_nothing(signin_site: SignInSite) -> None:
    with httpx.Client(base_url=signin_site.url, timeout=30, follow_redirects=False) as client:
        page = client.get("/")
        assert page.status_code == 303 and "/auth/login" in page.headers["location"]
        assert "<script" not in page.text
        handshake = client.get("/_event/", params={"EIO": "4", "transport": "polling"})
        assert handshake.status_code == 401
        upload = client.post("/_upload", content=b"x" * 1000, headers={"reflex-client-token": "made-up"})
        assert upload.status_code == 401
        chatkit = client.post("/api/chatkit", json={"type": "threads.list", "params": {}})
        assert chatkit.status_code == 401
        forged = client.get("/", cookies={"chatkit_site": secrets.token_urlsafe(32)})
        assert forged.status_code == 303
