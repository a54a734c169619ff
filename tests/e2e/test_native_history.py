"""The native chat's history in a real browser, on the production site with ChatKit's
script unreachable (the default `auto` mode falls back to the native chat): each thread
has an address only its owner can open, the history is grouped by date, searched and
paged in, and rename and delete work in the phone's drawer as on a desktop."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.prod_site import copy_site, free_port, running_site
from tests.e2e.shots import shot
from tests.e2e.test_prod_backend import _env

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture(scope="module")
def history_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("history-site")


@pytest.fixture(scope="module")
def history_site(history_root: Path) -> Iterator[str]:
    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    copy_site(history_root)
    unreachable = f"http://127.0.0.1:{free_port()}/chatkit.js"  # nothing listens there
    env = _env(history_root / "data", CHATKIT_SECRET=secrets.token_urlsafe(48), CHATKIT_SCRIPT_URL=unreachable)
    with running_site(history_root, env) as url:
        yield url


def _chat(page: Any, url: str, text: str) -> str:
    """Opens the site, sends `text`, waits for the whole answer; returns the thread's address."""
    from playwright.sync_api import expect

    page.goto(url)
    composer = page.get_by_test_id("composer-input")
    composer.wait_for(timeout=30_000)
    composer.fill(text)
    composer.press("Enter")
    expect(page.get_by_test_id("assistant-message").first).to_contain_text(text, timeout=30_000)
    page.locator('[data-testid="stop-button"]').wait_for(state="detached", timeout=20_000)
    page.wait_for_url(re.compile(r"/c/thr_[\w-]+$"), timeout=10_000)
    return str(page.url)


def _start_page(url: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(url) + r"/(\?.*)?$")


def test_a_threads_address_opens_it_for_its_owner_only(history_site: str, history_root: Path, browser: Any) -> None:
    from playwright.sync_api import expect

    from bench.state_memory import BigThread, fill_thread, thread_with

    alice, bob = browser.new_context(viewport=DESKTOP), browser.new_context()
    try:
        page = alice.new_page()
        secret = f"alice's secret plan {secrets.token_hex(3)}"
        address = _chat(page, history_site, secret)
        database = history_root / "data" / "fresh.db"
        user_id, thread_id = thread_with(database, secret)
        assert address.endswith(f"/c/{thread_id}")
        shape = BigThread(items=60, item_chars=300, long_items=0)
        fill_thread(f"sqlite:///{database}", user_id, thread_id, shape, marker="newest-of-60")

        page.reload()  # the address keeps the thread, shown at its newest message
        newest = page.get_by_test_id("assistant-message").filter(has_text="newest-of-60")
        expect(newest).to_be_in_viewport(timeout=30_000)
        assert page.url == address
        page.get_by_test_id("load-earlier").click()  # the older part is there to scroll to
        expect(page.get_by_test_id("user-message").first).to_have_text(secret, timeout=15_000)
        expect(page.locator('[data-testid="thread-entry"][data-active="true"]')).to_contain_text(secret)

        page.get_by_test_id("native-chat").get_by_role("button", name="New chat").click()
        expect(page).to_have_url(_start_page(history_site))
        expect(page.get_by_test_id("start-screen")).to_be_visible()
        page.go_back()  # the browser's back button shows the thread again
        expect(page).to_have_url(address)
        expect(newest).to_be_in_viewport(timeout=15_000)

        stranger = bob.new_page()
        stranger.goto(address)  # Alice's address in Bob's browser
        expect(stranger.get_by_test_id("thread-not-found")).to_contain_text("Chat not found", timeout=30_000)
        expect(stranger.get_by_test_id("thread-entry")).to_have_count(0)
        assert secret not in stranger.content() and stranger.get_by_test_id("user-message").count() == 0
        assert stranger.url == address

        stranger.goto(f"{history_site}/c/thr_{secrets.token_urlsafe(16)}")  # nobody's
        expect(stranger.get_by_test_id("thread-not-found")).to_be_visible(timeout=30_000)
        stranger.get_by_role("button", name="Start a new chat").click()
        expect(stranger).to_have_url(_start_page(history_site))
        expect(stranger.get_by_test_id("start-screen")).to_be_visible()
    finally:
        alice.close()
        bob.close()


def _add_threads(database: Path, user_id: str, threads: list[tuple[str, datetime]]) -> None:
    """Threads (title, creation time) stored for `user_id` through the store, as if
    made over the past months."""
    from chatkit.types import ThreadMetadata

    from chatkit_app import db
    from chatkit_app.chatkit_server.store import SQLModelStore, new_id
    from chatkit_app.core.context import RequestContext

    engine = db.make_engine(f"sqlite:///{database}")
    store = SQLModelStore(engine)
    context = RequestContext(user_id=user_id, session_id="test", workflow_id="assistant")

    async def add() -> None:
        for title, created in threads:
            await store.save_thread(ThreadMetadata(id=new_id("thr"), title=title, created_at=created), context)

    try:  # in a thread of its own: Playwright's event loop runs in this one
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, add()).result()
    finally:
        engine.dispose()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_history_is_grouped_by_date_searched_and_paged_in(
    history_site: str, history_root: Path, browser: Any, scheme: str
) -> None:
    from playwright.sync_api import expect

    from bench.state_memory import thread_with

    context = browser.new_context(viewport=DESKTOP, color_scheme=scheme)
    page = context.new_page()
    try:
        today = f"today's question {secrets.token_hex(3)}"
        _chat(page, history_site, today)
        user_id, _ = thread_with(history_root / "data" / "fresh.db", today)
        now = datetime.now(UTC)
        older = [(f"old chat {n}", now - timedelta(days=40, minutes=n)) for n in range(60)]
        _add_threads(
            history_root / "data" / "fresh.db",
            user_id,
            [
                ("needle in the oldest chat", now - timedelta(days=400)),
                *older,
                ("Trip planning", now - timedelta(days=3)),
                ("Yesterday's notes", now - timedelta(days=1, hours=1)),
            ],
        )
        page.reload()
        groups = page.get_by_test_id("history-group")
        expect(groups).to_have_count(4, timeout=30_000)
        labels = [g.split("\n")[0] for g in groups.all_inner_texts()]
        assert labels == ["Today", "Yesterday", "Previous 7 days", "Older"]
        expect(groups.nth(1)).to_contain_text("Yesterday's notes")
        expect(groups.nth(2)).to_contain_text("Trip planning")
        entries = page.get_by_test_id("thread-entry")
        expect(entries).to_have_count(50)  # the first page; the 64th thread is not listed yet
        expect(page.get_by_test_id("thread-list")).not_to_contain_text("needle")

        search = page.get_by_test_id("history-search")
        search.fill("NEEDLE oldest")  # every page of the history is searched
        expect(entries).to_have_count(1, timeout=15_000)
        expect(entries.first).to_contain_text("needle in the oldest chat")
        expect(groups).to_have_count(1)
        expect(groups.first).to_contain_text("Older")
        if scheme == "light":
            shot(page, "history-search-desktop-light")
        search.fill("no such words")
        expect(page.get_by_test_id("no-matches")).to_be_visible(timeout=15_000)
        search.fill("")
        expect(entries).to_have_count(50, timeout=15_000)

        page.get_by_test_id("thread-list").evaluate("e => e.scrollTo(0, e.scrollHeight)")  # pages in
        expect(entries).to_have_count(64, timeout=15_000)
        expect(entries.last).to_contain_text("needle in the oldest chat")
        expect(page.get_by_test_id("history-more")).to_have_count(0)

        entries.filter(has_text="Trip planning").get_by_test_id("thread-title").click()
        active = page.locator('[data-testid="thread-entry"][data-active="true"]')
        expect(active).to_have_count(1)
        expect(active).to_contain_text("Trip planning")
        expect(active.get_by_test_id("thread-title")).to_have_attribute("aria-current", "page")
        expect(page).to_have_url(re.compile(r"/c/thr_[\w-]+$"))
        entries.filter(has_text=today).get_by_test_id("thread-title").click()
        expect(page.get_by_test_id("user-message").first).to_have_text(today, timeout=15_000)
        page.get_by_test_id("thread-list").evaluate("e => e.scrollTo(0, 0)")
        if scheme == "dark":
            shot(page, "history-grouped-desktop-dark")
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_rename_in_place_and_delete_after_a_confirmation(
    history_site: str, browser: Any, viewport: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    phone = viewport == PHONE
    context = browser.new_context(viewport=viewport, color_scheme="dark" if phone else "light")
    page = context.new_page()
    try:
        first = f"first thread {secrets.token_hex(3)}"
        _chat(page, history_site, first)
        second = f"second thread {secrets.token_hex(3)}"
        address = _chat(page, history_site, second)  # the start page is a new chat, in this tab too
        history = page.get_by_test_id("history-drawer") if phone else page.get_by_test_id("thread-list")
        if phone:
            assert not page.get_by_test_id("thread-list").first.is_visible()  # no room for the sidebar
            # Its button sits in the top bar, beside the brand, not on a row of its own.
            page.get_by_test_id("top-bar").get_by_role("button", name="Chat history").click()
            expect(page.get_by_test_id("chat-area").get_by_role("button", name="Chat history")).to_have_count(0)
        entry = history.get_by_test_id("thread-entry").filter(has_text=second)
        expect(entry).to_be_visible(timeout=10_000)

        entry.get_by_role("button", name="Rename chat").click()
        title = history.get_by_label("New title")
        expect(title).to_be_focused()  # in place, in the drawer, which stays open
        title.fill("  Renamed   in place ")
        if phone:
            shot(page, "history-rename-phone-dark")
        title.press("Enter")
        renamed = history.get_by_test_id("thread-entry").filter(has_text="Renamed in place")
        expect(renamed).to_be_visible(timeout=10_000)
        expect(history.get_by_label("New title")).to_have_count(0)

        renamed.get_by_role("button", name="Rename chat").click()
        history.get_by_label("New title").fill("not this")
        if phone:  # no Escape key on a phone: the cross
            history.get_by_role("button", name="Cancel rename").click()
        else:
            history.get_by_label("New title").press("Escape")
        expect(history.get_by_label("New title")).to_have_count(0)
        expect(renamed).to_be_visible()

        renamed.get_by_role("button", name="Delete chat").click()
        dialog = page.get_by_role("alertdialog")
        expect(dialog).to_contain_text("Renamed in place")
        dialog.get_by_role("button", name="Cancel").click()  # a mis-tap loses nothing
        expect(dialog).to_have_count(0)
        expect(renamed).to_be_visible()

        renamed.get_by_role("button", name="Delete chat").click()
        page.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
        expect(history.get_by_test_id("thread-entry")).to_have_count(1, timeout=10_000)
        expect(history.get_by_test_id("thread-entry")).to_contain_text(first)
        expect(page).to_have_url(_start_page(history_site))  # it was open: back to a new chat

        page.reload()  # stored: renamed, then deleted
        page.goto(address)
        expect(page.get_by_test_id("thread-not-found")).to_be_visible(timeout=30_000)
    finally:
        context.close()
