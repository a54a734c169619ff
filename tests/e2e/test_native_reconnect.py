"""The backend killed mid-reply (SIGKILL, the whole process group) and started again on the
same port, as a crash and a restart look to a visitor: the chat says it is reconnecting
(the top bar is not green meanwhile), a message typed during the outage stays in the box
and goes to the thread it was written in once the server is back, and the chat is never
stuck. With the tab's state in Redis (it survives the restart, `streaming` included) the
dead reply's lease expires: the stop button goes, the part that arrived stays, Retry is
offered and works (tests/unit/test_native_turn_lease.py has the lease's rules)."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.prod_site import SERVER_PIDS, copy_site, free_port, running_site
from tests.e2e.test_prod_backend import _env
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI

pytestmark = pytest.mark.slow

WORDS = 80
SLOW = FakeBehavior(text=" ".join(f"w{i}" for i in range(WORDS)), delay=0.15)  # ~12 s per answer


@pytest.fixture
def model() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(behavior=SLOW).start()
    yield fake
    fake.stop()


def _site_env(root: Path, model: FakeOpenAI, **extra: str) -> dict[str, str]:
    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    copy_site(root)
    return _env(
        root / "data",
        CHATKIT_SECRET=secrets.token_urlsafe(48),
        CHATKIT_UI_MODE="native",
        OPENAI_API_KEY="sk-test-" + "x" * 24,
        OPENAI_BASE_URL=model.base_url,
        **extra,
    )


def _kill(url: str) -> None:
    """A crash: no graceful shutdown, no chance to save the reply."""
    os.killpg(SERVER_PIDS[url], signal.SIGKILL)


def _ask(page: Any, text: str) -> Any:
    composer = page.get_by_test_id("composer-input")
    composer.fill(text)
    composer.press("Enter")
    return composer


# Remembers whether Reflex's own connection toast ever appeared on the page.
_WATCH_FOR_REFLEX_TOAST = """
new MutationObserver(() => {
  const text = document.body ? document.body.innerText : "";
  if (/Cannot connect to server|Check if server is reachable/.test(text)) window.__reflexToast = text.slice(0, 200);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def _mid_reply(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("assistant-message").last).to_contain_text("w3", timeout=30_000)
    expect(page.get_by_test_id("stop-button")).to_be_visible()


def _shows_outage(page: Any) -> None:
    from playwright.sync_api import expect

    status = page.get_by_test_id("connection-status")
    expect(status).to_have_attribute("data-state", "reconnecting", timeout=15_000)
    expect(status).to_contain_text("Reconnecting")
    expect(page.get_by_test_id("connection-badge")).to_be_visible()
    expect(page.get_by_text("Session active")).to_have_count(0)


def test_a_message_typed_while_the_backend_is_down_goes_to_its_thread(
    tmp_path: Path, browser: Any, model: FakeOpenAI
) -> None:
    """State in memory: the restart loses the tab's state (thread id included); the box
    and the form keep the message and its thread, the tab comes back to its thread."""
    from playwright.sync_api import expect

    root = tmp_path / "site"
    env = _site_env(root, model)
    port = free_port()
    page = browser.new_page()
    page.add_init_script(_WATCH_FOR_REFLEX_TOAST)
    try:
        with running_site(root, env, port=port) as url:
            page.goto(url)
            page.get_by_test_id("composer-input").wait_for(timeout=30_000)
            _ask(page, "first question")
            _mid_reply(page)
            _kill(url)
            _shows_outage(page)
            composer = _ask(page, "written during the outage")
            composer.press("Enter")  # impatient: the same submission twice is still sent once
            expect(composer).to_have_value("written during the outage")  # not cleared: not sent yet
        model.behavior = FakeBehavior(text="Back again.")
        with running_site(root, env, port=port) as url:
            expect(page.get_by_test_id("connection-status")).to_have_count(0, timeout=30_000)
            expect(page.get_by_test_id("connection-badge")).to_have_count(0, timeout=30_000)
            expect(page.get_by_test_id("session-indicator")).to_have_attribute("data-status", "active", timeout=30_000)
            expect(composer).to_have_value("", timeout=30_000)
            users = page.get_by_test_id("user-message")
            expect(users).to_have_text(["first question", "written during the outage"], timeout=30_000)
            expect(page.get_by_test_id("assistant-message").last).to_have_text("Back again.", timeout=30_000)
            expect(page.get_by_test_id("stop-button")).to_have_count(0)
            expect(page.get_by_test_id("thread-entry")).to_have_count(1)  # the same thread, not a new one
            _kill(url)
        with running_site(root, env, port=port):
            # Nothing typed this time: the tab's thread comes back on its own after the
            # reconnect (the new backend's empty state used to leave the chat blank).
            expect(page.get_by_test_id("connection-status")).to_have_count(0, timeout=30_000)
            expect(page.get_by_test_id("user-message")).to_have_text(
                ["first question", "written during the outage"], timeout=10_000
            )
            expect(page.get_by_test_id("start-screen")).to_have_count(0)
        # Two outages of seconds (many failed reconnects each): the page said what they
        # meant in its own words, never with Reflex's generic toast naming the socket.
        assert page.evaluate("window.__reflexToast ?? null") is None
    finally:
        page.close()


def test_a_dead_reply_s_lease_expires_with_its_state_in_redis(tmp_path: Path, browser: Any, model: FakeOpenAI) -> None:
    """State in Redis: `streaming` survives the crash. Within seconds of the restart the
    stop button goes, what arrived stays, Retry is offered, and new messages go through."""
    import redis
    from playwright.sync_api import expect

    base = os.environ.get("CHATKIT_TEST_REDIS_URL")
    if not base:
        pytest.skip("set CHATKIT_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run")
    state_url = base.rsplit("/", 1)[0] + "/8"  # a database of its own, emptied around the test
    store = redis.Redis.from_url(state_url)
    store.flushdb()
    root = tmp_path / "site"
    env = _site_env(root, model, REFLEX_REDIS_URL=state_url)
    port = free_port()
    page = browser.new_page()
    try:
        with running_site(root, env, port=port) as url:
            page.goto(url)
            page.get_by_test_id("composer-input").wait_for(timeout=30_000)
            _ask(page, "a question cut short")
            _mid_reply(page)
            _kill(url)
            _shows_outage(page)
        # The killed process's record of the tab's socket would make Reflex hand the tab a
        # new token (a fresh state) until it expires (an hour) or a graceful shutdown
        # removes it; removed here, the tab keeps its state: `streaming` and all.
        for key in store.scan_iter("token_manager_socket_record_*"):
            store.delete(key)
        model.behavior = FakeBehavior(text="A whole answer this time.")
        with running_site(root, env, port=port):
            expect(page.get_by_test_id("stop-button")).to_have_count(0, timeout=20_000)
            expect(page.get_by_test_id("assistant-message").last).to_contain_text("w3")  # the part that arrived
            card = page.get_by_test_id("turn-error")
            expect(card).to_contain_text("cut off")
            card.get_by_test_id("turn-error-retry").click()
            answer = page.get_by_test_id("assistant-message").last
            expect(answer).to_have_text("A whole answer this time.", timeout=30_000)
            expect(card).to_have_count(0)
            composer = _ask(page, "and one more")
            expect(composer).to_have_value("", timeout=10_000)
            expect(page.get_by_test_id("user-message").last).to_have_text("and one more")
            expect(page.get_by_test_id("assistant-message")).to_have_count(2, timeout=30_000)
            expect(page.get_by_test_id("stop-button")).to_have_count(0, timeout=30_000)
    finally:
        page.close()
        store.flushdb()
