"""The production site (`reflex run --env prod`, one port) as a public site sees it: the
pages work under their Content-Security-Policy in a real Chromium (native UI and ChatKit's
stub in auto mode), Markdown images from other hosts are never fetched, CORS on the API
only for the allowlist, stalled request bodies are cut, and Reflex's debug logs of a
websocket event carry no cookie and no client token."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.e2e.prod_site import copy_site, running_reflex, wait_until
from tests.e2e.test_prod_backend import _env
from tests.live_server import serve, stalled_request

pytestmark = pytest.mark.slow

PARTNER = "https://partner.example.com"
API_KEY = "ak-" + secrets.token_urlsafe(32)
# Records CSP violations from the first script on; Playwright's init scripts are not
# subject to the page's CSP.
VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


@dataclass
class Site:
    url: str
    log_path: Path
    leaks: list[str] = field(default_factory=list)
    leak_url: str = ""

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def _start(root: Path, **extra: str) -> Iterator[str]:
    copy_site(root)
    env = _env(root / "data", CHATKIT_SECRET=secrets.token_urlsafe(48), **extra)
    arguments = ["--frontend-port", "{port}", "--backend-port", "{port}", "--loglevel", "debug"]
    with running_reflex(
        arguments, cwd=root, env=env, log_path=root / "site.log", ready=["/", "/ping"], timeout=300
    ) as url:
        yield url


@pytest.fixture(scope="module")
def native_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    root = tmp_path_factory.mktemp("public-native")
    leaks: list[str] = []

    async def leak(request: Request) -> PlainTextResponse:
        leaks.append(str(request.url))
        return PlainTextResponse("seen")

    with serve(Starlette(routes=[Route("/{path:path}", leak)])) as leak_url:
        with _start(
            root,
            CHATKIT_UI_MODE="native",
            CHATKIT_ALLOWED_IMAGE_DOMAINS="images.example.com",
            CHATKIT_CORS_ORIGINS=PARTNER,
            CHATKIT_BODY_TIMEOUT_SECONDS="2",
            CHATKIT_API_KEY=API_KEY,
        ) as url:
            yield Site(url, root / "site.log", leaks, leak_url)


@pytest.fixture(scope="module")
def auto_site(tmp_path_factory: pytest.TempPathFactory, stub_script_url: str) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("public-auto")
    with _start(root, CHATKIT_UI_MODE="auto", CHATKIT_SCRIPT_URL=stub_script_url) as url:
        yield Site(url, root / "site.log")


def directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {part[0]: part[1:] for part in parts}


def _page(browser: Any) -> tuple[Any, list[str]]:
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.add_init_script(VIOLATIONS)
    return page, console


def _no_violations(page: Any, console: list[str]) -> None:
    assert page.evaluate("() => window.__csp") == []
    assert not [line for line in console if "Content Security Policy" in line], console


def _ask(page: Any, site: Site, text: str) -> None:
    page.goto(site.url)
    composer = page.get_by_test_id("composer-input")
    composer.wait_for(timeout=30_000)
    composer.fill(text)
    composer.press("Enter")
    page.get_by_test_id("message-actions").first.wait_for(timeout=20_000)


def test_the_native_page_works_under_a_strict_policy(native_site: Site, browser: Any) -> None:
    policy = directives(httpx.get(native_site.url, timeout=10).headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert any(source.startswith("'sha256-") for source in policy["script-src"])
    assert policy["img-src"][:3] == ["'self'", "data:", "blob:"] and "https://images.example.com" in policy["img-src"]
    assert policy["frame-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"]

    page, console = _page(browser)
    try:
        _ask(page, native_site, "hello under a policy")
        # The answer is complete; its text shows once the lazily loaded Markdown renderer is in.
        expect(page.get_by_test_id("assistant-message").first).to_contain_text("offline demo agent", timeout=10_000)
        _no_violations(page, console)
    finally:
        page.close()


def test_a_markdown_image_from_another_host_is_a_link_and_never_fetched(native_site: Site, browser: Any) -> None:
    leak = f"{native_site.leak_url}/leak?q=secret"
    page, console = _page(browser)
    try:
        _ask(page, native_site, f"![x]({leak})")  # the demo agent echoes it inside its Markdown answer
        link = page.get_by_test_id("assistant-message").first.get_by_test_id("blocked-image")
        link.wait_for(timeout=10_000)
        assert leak in link.inner_text() and link.get_attribute("href") == leak
        assert page.locator(f'img[src="{leak}"]').count() == 0
        _no_violations(page, console)
    finally:
        page.close()
    assert native_site.leaks == []


def test_the_api_answers_cors_only_for_the_allowlist(native_site: Site) -> None:
    path = f"{native_site.url}/api/chatkit/workflows/assistant"
    ask = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    allowed = httpx.options(path, headers={"Origin": PARTNER, **ask}, timeout=10)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == PARTNER
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers

    refused = httpx.options(path, headers={"Origin": "https://evil.example", **ask}, timeout=10)
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers

    for origin in ("https://evil.example", "null"):
        answer = httpx.get(path, headers={"Origin": origin}, timeout=10)
        assert answer.status_code == 401  # no token; what matters is the CORS headers
        assert not [name for name in answer.headers if name.lower().startswith("access-control-")]
    partner = httpx.get(path, headers={"Origin": PARTNER}, timeout=10)
    assert partner.headers["access-control-allow-origin"] == PARTNER


def _upload_handler() -> str:
    from reflex_base.utils.format import format_event_handler

    from chatkit_app.ui.native.state import NativeChatState

    return format_event_handler(NativeChatState.attach)  # type: ignore[arg-type]


@pytest.mark.parametrize("route", ["api", "reflex_upload"])
def test_a_stalled_request_body_is_cut_with_408(native_site: Site, route: str, browser: Any) -> None:
    host = native_site.url.removeprefix("http://")
    page = browser.new_page()
    try:
        if route == "api":
            path = "/api/chatkit/session"
            extra = f"Content-Type: application/json\r\nAuthorization: Bearer {API_KEY}\r\n"
        else:  # Reflex's upload route, as a connected page's client (a stranger's token is refused at once)
            page.goto(native_site.url)
            page.get_by_test_id("native-chat").wait_for(timeout=30_000)
            # Connected (the server has answered an event) and Reflex's client token kept.
            page.locator('[data-testid="session-indicator"][data-status="active"]').wait_for(
                state="attached", timeout=30_000
            )
            token = page.wait_for_function("() => window.sessionStorage.getItem('token')", timeout=30_000).json_value()
            assert isinstance(token, str) and token
            path = "/_upload"
            extra = (
                "Content-Type: multipart/form-data; boundary=xyz\r\n"
                f"reflex-client-token: {token}\r\n"
                f"reflex-event-handler: {_upload_handler()}\r\n"
            )
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: 1000\r\n\r\n"
        answer, took = stalled_request(native_site.url, head, b'--xyz\r\nContent-Disposition: form-data; name="files"')
    finally:
        page.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"request_timeout" in answer
    assert 1.5 <= took < 20


def test_reflex_debug_logs_of_an_unknown_handler_carry_no_cookie_or_client_token(
    native_site: Site, browser: Any
) -> None:
    context = browser.new_context()
    page = context.new_page()
    secret_cookie = "sec" + secrets.token_urlsafe(24)
    try:
        context.add_cookies([{"name": "site_session", "value": secret_cookie, "url": native_site.url}])
        page.goto(native_site.url)
        page.get_by_test_id("composer-input").wait_for(timeout=30_000)
        # Reflex saves its client token once the page's websocket is connected
        token = page.wait_for_function("() => sessionStorage.getItem('token')", timeout=20_000).json_value()
        # The same event the page would send, naming a handler that does not exist, on a
        # websocket of our own (Engine.IO/Socket.IO frames by hand); the browser adds the
        # cookies itself.
        page.evaluate(
            """([token, name]) => new Promise((resolve, reject) => {
              const url = `${location.origin.replace("http", "ws")}/_event/?EIO=4&transport=websocket&token=${token}`;
              const ws = new WebSocket(url);
              ws.onerror = reject;
              ws.onmessage = (message) => {
                const data = String(message.data);
                if (data.startsWith("0{")) ws.send("40/_event,");
                else if (data.startsWith("40/_event")) {
                  const event = { token, name, router_data: { pathname: "/" }, payload: {} };
                  ws.send("42/_event," + JSON.stringify(["event", event]));
                  setTimeout(() => { ws.close(); resolve(); }, 500);
                } else if (data === "2") ws.send("3");
              };
            })""",
            [token, "reflex___state____state.no_such_state.no_such_handler"],
        )
        wait_until(lambda: "No registered handler found" in native_site.logs())
        cookies = {cookie["name"]: cookie["value"] for cookie in context.cookies()}
    finally:
        context.close()
    logs = native_site.logs()
    unwrapped = "".join(logs.splitlines())  # the console sink wraps long lines
    assert "'cookie': '[redacted]'" in unwrapped and "'token': '[redacted]'" in unwrapped
    for value in (secret_cookie, token, *(v for v in cookies.values() if len(v) > 8)):
        assert value not in logs and value not in unwrapped, value
    assert "eyJ" not in unwrapped


def test_chatkits_script_loads_under_the_policy_in_auto_mode(
    auto_site: Site, browser: Any, stub_script_url: str
) -> None:
    stub_origin = stub_script_url.rsplit("/", 1)[0]
    policy = directives(httpx.get(auto_site.url, timeout=10).headers["content-security-policy"])
    assert stub_origin in policy["script-src"] and policy["frame-src"] == [stub_origin]
    assert stub_origin in policy["connect-src"]
    page, console = _page(browser)
    try:
        page.goto(auto_site.url)
        page.locator('[data-testid="chat-area"][data-script-status="loaded"]').wait_for(timeout=30_000)
        page.wait_for_function("() => window.__chatkitStub && window.__chatkitStub.options !== null", timeout=20_000)
        # "New chat" runs ChatKit's methods through rx.call_script (eval): allowed in this mode.
        page.get_by_role("button", name="New chat").click()
        page.wait_for_function("() => window.__chatkitStub.calls.some(c => c.method === 'setThreadId')", timeout=10_000)
        _no_violations(page, console)
    finally:
        page.close()
