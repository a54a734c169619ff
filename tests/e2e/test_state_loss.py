"""Reflex state is disposable: after the production server restarts (every tab's state
gone), a visitor is still the same user with the same history, because who they are
comes from their HttpOnly cookie and their threads from the database. Nothing of theirs
is on disk outside the database: no `.states/` files, no cookie in the log."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.prod_site import copy_site, running_site
from tests.e2e.test_prod_backend import _env

pytestmark = pytest.mark.slow


def _chat_once(page: Any, url: str, text: str) -> None:
    """Opens the native chat, sends `text` and waits for the whole answer (it echoes it)."""
    from playwright.sync_api import expect

    page.goto(url)
    composer = page.get_by_test_id("composer-input")
    composer.wait_for(timeout=30_000)
    composer.fill(text)
    composer.press("Enter")
    expect(page.get_by_test_id("assistant-message").first).to_contain_text(text, timeout=30_000)
    page.locator('[data-testid="stop-button"]').wait_for(state="detached", timeout=20_000)


def test_identity_and_history_survive_a_restart(tmp_path: Path, browser: Any) -> None:
    from playwright.sync_api import expect

    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    root = tmp_path / "site"
    copy_site(root)
    env = _env(root / "data", CHATKIT_SECRET=secrets.token_urlsafe(48), CHATKIT_UI_MODE="native")
    context = browser.new_context()
    page = context.new_page()
    try:
        with running_site(root, env) as url:
            _chat_once(page, url, "remember me across a restart")
            before = {c["name"]: c for c in context.cookies()}
            anon = before["chatkit_anon"]
            assert anon["httpOnly"] and anon["sameSite"] == "Lax"
            assert page.evaluate("document.cookie").find("chatkit_anon") == -1  # not readable by scripts
        with running_site(root, env, port=int(url.rsplit(":", 1)[1])) as again:
            assert again == url
            page.reload()
            entries = page.get_by_test_id("thread-entry")
            expect(entries.first).to_contain_text("remember me across a restart", timeout=30_000)
            assert {c["name"]: c["value"] for c in context.cookies()}["chatkit_anon"] == anon["value"]
    finally:
        context.close()
    assert not (root / ".states").exists() or not any((root / ".states").iterdir())
    log = (root / "site.log").read_text(errors="replace")
    assert anon["value"] not in log and anon["value"].split(".")[1] not in log


def test_with_redis_state_the_chat_works_and_redis_holds_no_credential(tmp_path: Path, browser: Any) -> None:
    """Reflex state in Redis (REFLEX_REDIS_URL): every event reloads it, background replies
    included, yet it never holds the identity cookie or a session token."""
    import os

    import redis
    from playwright.sync_api import expect

    from tests.e2e.conftest import _require_chromium

    base = os.environ.get("CHATKIT_TEST_REDIS_URL")
    if not base:
        pytest.skip("set CHATKIT_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run")
    _require_chromium()
    url = base.rsplit("/", 1)[0] + "/7"  # a database of its own, emptied around the test
    store = redis.Redis.from_url(url)
    store.flushdb()
    root = tmp_path / "site"
    copy_site(root)
    env = _env(root / "data", CHATKIT_SECRET=secrets.token_urlsafe(48), CHATKIT_UI_MODE="native", REFLEX_REDIS_URL=url)
    context = browser.new_context()
    page = context.new_page()
    try:
        with running_site(root, env) as site:
            _chat_once(page, site, "state in redis")
            page.reload()
            expect(page.get_by_test_id("thread-entry").first).to_contain_text("state in redis", timeout=30_000)
            cookie = {c["name"]: c["value"] for c in context.cookies()}["chatkit_anon"]
            values = [_redis_bytes(store, key) for key in store.scan_iter()]
            assert values, "Reflex kept no state in Redis"
            everything = b"".join(values)
            # The id part is the user's id (anon_<id>, in session_data like in every row); the
            # MAC is what makes the cookie a credential, and it is nowhere.
            assert cookie.encode() not in everything and cookie.split(".")[1].encode() not in everything
            assert b"eyJ" not in everything  # no session token
    finally:
        context.close()
        store.flushdb()


def _redis_bytes(store: Any, key: bytes) -> bytes:
    """A key's stored bytes, whatever its type (as they are, not Redis's compressed dump)."""
    kind = store.type(key)
    if kind == b"string":
        return bytes(store.get(key) or b"")
    if kind == b"hash":
        return b"".join(bytes(value) for value in store.hgetall(key).values())
    if kind in (b"list", b"set", b"zset"):
        members = (
            store.lrange(key, 0, -1)
            if kind == b"list"
            else store.smembers(key)
            if kind == b"set"
            else store.zrange(key, 0, -1)
        )
        return b"".join(bytes(member) for member in members)
    return b""
