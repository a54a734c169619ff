"""The ChatKit component in a real browser, with OpenAI's script replaced by a local stub
element that keeps ChatKit's surface (setOptions, methods, chatkit.* events) and talks to
our server through the options it was given, as ChatKit does."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import jwt
from sqlalchemy import text

from chatkit_app.services import get_services

READY = '[data-testid="chat-area"][data-ready="true"]'


def _open_chat(site: Any, browser: Any) -> Any:
    page = browser.new_page()
    page.goto(site.frontend_url)
    page.wait_for_function("() => window.__chatkitStub && window.__chatkitStub.options", timeout=90_000)
    page.locator(READY).wait_for(timeout=30_000)
    return page


def _send(page: Any, text: str) -> None:
    page.evaluate("(text) => document.querySelector('openai-chatkit').sendUserMessage({text})", text)


def _stub(page: Any, expression: str) -> Any:
    return page.evaluate(f"() => window.__chatkitStub.{expression}")


def _jti(authorization: str) -> str:
    token = authorization.removeprefix("Bearer ")
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


def test_options_come_from_python_and_config_and_no_secret_reaches_the_page(site: Any, browser: Any) -> None:
    page = _open_chat(site, browser)
    try:
        options = _stub(page, "options")
        # From assets/chatkit-config.json (the workflow's public UI options) ...
        assert options["startScreen"]["greeting"].startswith("Hi! I'm the offline demo agent")
        assert [p["prompt"] for p in options["startScreen"]["prompts"]] == ["help", "show a widget"]
        assert options["theme"]["radius"] == "round"
        assert options["composer"]["placeholder"] == "Message the assistant…"
        # ... and the self-hosted API decided by the server: our backend, a localhost key.
        assert re.fullmatch(r"http://(localhost|127\.0\.0\.1):\d+/api/chatkit", options["api"]["url"])
        assert options["api"]["domainKey"] == "domain_pk_localhost_dev"
        assert options["api"]["uploadStrategy"] == {"type": "two_phase"}
        fns = page.evaluate(
            "() => { const o = window.__chatkitStub.options;"
            " return [typeof o.api.fetch, typeof o.onClientTool, typeof o.widgets.onAction]; }"
        )
        assert fns == ["function", "function", "function"]

        html = page.content()
        serialized = json.dumps(options)
        secret = os.environ["CHATKIT_SECRET"]
        for text in (html, serialized):
            assert secret not in text
            assert "eyJ" not in text  # no session token in the DOM or the options
        assert all("eyJ" not in cookie["value"] for cookie in page.context.cookies())
    finally:
        page.close()


def test_chatkit_calls_reach_the_server_authorised_and_events_reach_python(site: Any, browser: Any) -> None:
    page = _open_chat(site, browser)
    requests: list[dict[str, str]] = []
    page.on("request", lambda r: requests.append({"url": r.url, "auth": r.headers.get("authorization", "")}))
    try:
        _send(page, "hello from the stub")
        page.wait_for_function("() => window.__chatkitStub.replies.length === 1", timeout=30_000)
        chat = page.get_by_test_id("chat-area")
        page.locator('[data-testid="chat-area"][data-responses="1"]').wait_for(timeout=15_000)
        thread_id = chat.get_attribute("data-thread")
        assert thread_id and thread_id == page.evaluate("() => document.querySelector('openai-chatkit').threadId")
        assert _stub(page, "lastStatus") == 200
        assert "hello from the stub" in _stub(page, "replies[0]")

        calls = [r for r in requests if r["url"].endswith("/api/chatkit")]
        assert calls and all(r["auth"].startswith("Bearer eyJ") for r in calls)
        # The thread is in the server's store, owned by the page's user.
        services = get_services()
        user_id = services.sessions._get(_session_id(calls[0]["auth"])).user_id
        with services.engine.connect() as connection:
            owner = connection.execute(text("SELECT user_id FROM chatkit_thread WHERE id = :id"), {"id": thread_id})
            assert owner.scalar_one() == user_id

        # A client tool from the agent runs in the browser and reaches Python, which
        # changes ChatKit's theme reactively.
        _send(page, "dark mode please")
        page.locator('[data-testid="chat-area"][data-color-scheme="dark"]').wait_for(timeout=30_000)
        page.wait_for_function("() => window.__chatkitStub.options.theme.colorScheme === 'dark'", timeout=15_000)
        assert _stub(page, "options.theme.radius") == "round"  # merged over the config's theme

        # ChatKit's imperative methods, called from a Python event handler.
        page.get_by_role("button", name="New chat").click()
        page.wait_for_function(
            "() => window.__chatkitStub.calls.some(c => c.method === 'focusComposer')", timeout=15_000
        )
        methods = [c["method"] for c in _stub(page, "calls")]
        assert "setThreadId" in methods
        page.locator('[data-testid="chat-area"][data-thread=""]').wait_for(timeout=15_000)
    finally:
        page.close()


def _session_id(authorization: str) -> str:
    token = authorization.removeprefix("Bearer ")
    return str(jwt.decode(token, options={"verify_signature": False})["sid"])


def test_a_401_refreshes_the_token_once_and_retries(site: Any, browser: Any) -> None:
    page = _open_chat(site, browser)
    seen: list[dict[str, str]] = []
    page.on("request", lambda r: seen.append({"url": r.url, "auth": r.headers.get("authorization", "")}))
    refused: list[str] = []

    def refuse_once(route: Any) -> None:
        if not refused:
            refused.append(route.request.headers.get("authorization", ""))
            body = {"error": {"code": "token_expired", "message": "The session token has expired."}}
            route.fulfill(status=401, content_type="application/json", body=json.dumps(body))
        else:
            route.continue_()

    try:
        page.route("**/api/chatkit", refuse_once)
        _send(page, "after a 401")
        page.wait_for_function("() => window.__chatkitStub.replies.length === 1", timeout=30_000)

        refreshes = [r for r in seen if r["url"].endswith("/refresh")]
        chat_calls = [r for r in seen if r["url"].endswith("/api/chatkit")]
        assert len(refreshes) == 1
        assert len(chat_calls) == 2
        old, new = chat_calls[0]["auth"], chat_calls[1]["auth"]
        assert refreshes[0]["auth"] == old and new != old
        # The server rotated the session to the retried token ...
        row = get_services().sessions._get(_session_id(new))
        assert row.current_jti == _jti(new) and row.revoked_at is None
        # ... and Python's session state adopted it: validating from Python still works.
        page.get_by_test_id("session-button").click()
        page.get_by_role("button", name="Validate").click()
        page.get_by_test_id("session-check").wait_for(timeout=15_000)
        assert page.get_by_test_id("session-status").get_attribute("data-status") == "active"
    finally:
        page.close()


def test_a_limit_shows_in_chatkit_as_an_error_with_when_to_try_again(site: Any, browser: Any) -> None:
    """Past the message rate (20 a minute by default), the refusal reaches ChatKit as a
    protocol error event carrying the server's words, not as a bare HTTP failure."""
    page = _open_chat(site, browser)
    try:
        # Nineteen quick messages through ChatKit's own fetch (the bridge adds the token)...
        statuses = page.evaluate(
            """async () => {
                const api = window.__chatkitStub.options.api;
                const input = (text) => (
                    {content: [{type: "input_text", text}], attachments: [], inference_options: {}});
                const out = [];
                for (let i = 0; i < 19; i++) {
                    const r = await api.fetch(api.url, {method: "POST", headers: {"Content-Type": "application/json"},
                        body: JSON.stringify({type: "threads.create", params: {input: input("m" + i)}})});
                    await r.text();
                    out.push(r.status);
                }
                return out;
            }"""
        )
        assert statuses == [200] * 19
        _send(page, "the twentieth")
        page.wait_for_function("() => window.__chatkitStub.replies.length === 1", timeout=30_000)
        _send(page, "one too many")
        page.wait_for_function(
            "() => window.__chatkitStub.events.some(e => e.name === 'chatkit.error')", timeout=30_000
        )
        assert _stub(page, "lastStatus") == 200  # an error event, not an HTTP failure
        assert _stub(page, "replies.length") == 1
        messages = page.evaluate(
            "() => window.__chatkitStub.events.filter(e => e.name === 'chatkit.error')"
            ".map(e => String(e.detail.error.message))"
        )
        assert any(re.search(r"20 messages a minute; try again in \d+ s", text) for text in messages), messages
    finally:
        page.close()
