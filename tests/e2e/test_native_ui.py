"""With ChatKit's script unreachable (no internet, a blocked CDN), a new visitor of the
production site still gets a working chat: the page falls back to the native UI, the
offline agent's reply streams in, and the conversation is in the history after a reload."""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.prod_site import copy_site, free_port, running_site, wait_until
from tests.e2e.test_prod_backend import _env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def offline_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("offline-site")


@pytest.fixture(scope="module")
def offline_site(offline_root: Path) -> Iterator[str]:
    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    root = offline_root
    copy_site(root)
    unreachable = f"http://127.0.0.1:{free_port()}/chatkit.js"  # nothing listens there
    env = _env(root / "data", CHATKIT_SECRET=secrets.token_urlsafe(48), CHATKIT_SCRIPT_URL=unreachable)
    with running_site(root, env) as url:
        yield url


def _open_chat(page: Any, url: str) -> Any:
    """Opens the site and waits for the native chat; returns the composer."""
    page.goto(url)
    page.get_by_test_id("native-chat").wait_for(timeout=30_000)
    return page.get_by_test_id("composer-input")


def _send(composer: Any, text: str) -> None:
    composer.fill(text)
    composer.press("Enter")


def _reload_the_thread(page: Any) -> None:
    """Reloads a thread's page (`/c/{thread_id}`): the thread opens by itself. (Clicking
    its history entry as well would load it a second time, under the test's feet.)"""
    assert "/c/thr_" in page.url, page.url
    page.reload()


def _chat_texts(page: Any, testid: str) -> list[str]:
    return [element.inner_text() for element in page.get_by_test_id(testid).all()]


def test_native_chat_replaces_an_unreachable_chatkit(offline_site: str, browser: Any) -> None:
    page = browser.new_page()
    try:
        page.goto(offline_site)
        page.locator('[data-testid="chat-area"][data-fallback="native"]').wait_for(timeout=30_000)
        page.get_by_test_id("native-chat").wait_for()
        assert page.locator("openai-chatkit").count() == 0
        # The start screen comes from the same configuration as ChatKit's (placeholders
        # until the session is made: wait for the text, not just the element).
        start = page.get_by_test_id("start-screen")
        expect(start).to_contain_text("offline demo agent", timeout=20_000)
        expect(page.get_by_role("button", name="What can you do?")).to_be_visible()

        composer = page.get_by_test_id("composer-input")
        composer.fill("hello from the native chat")
        composer.press("Enter")  # Enter sends
        page.get_by_test_id("assistant-message").first.wait_for(timeout=20_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=assistant-message]')]"
            ".some(e => e.innerText.includes('offline demo agent'))",
            timeout=20_000,
        )
        assert _chat_texts(page, "user-message") == ["hello from the native chat"]
        assert "hello from the native chat" in _chat_texts(page, "assistant-message")[0]
        expect(composer).to_have_value("")  # cleared by an event the server sends back

        # A second turn in the same thread, from a start-screen-style prompt typed in.
        _send(composer, "help")
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=assistant-message]').length === 2", timeout=20_000
        )
        page.locator('[data-testid="stop-button"]').wait_for(state="detached", timeout=20_000)

        page.reload()
        # The tab's old state shows first, then the history read again from the server.
        entries = page.get_by_test_id("thread-entry")
        expect(entries.first).to_contain_text("hello from the native chat", timeout=30_000)
        expect(entries).to_have_count(1)
        entries.first.get_by_role("button").first.click()
        # The thread opens (the address changes to /c/{id}): wait for its messages as a whole.
        expect(page.get_by_test_id("user-message")).to_have_text(["hello from the native chat", "help"], timeout=15_000)
        expect(page.get_by_test_id("assistant-message")).to_have_count(2)
    finally:
        page.close()


def test_an_agents_notice_shows_until_the_next_message(offline_site: str, browser: Any) -> None:
    page = browser.new_page()
    try:
        composer = _open_chat(page, offline_site)
        _send(composer, "notice")
        from playwright.sync_api import expect

        notice = page.get_by_test_id("notice")
        # Wait for the text, not just the element: the banner can exist a moment before it.
        expect(notice).to_contain_text("A notice from the server", timeout=20_000)
        expect(notice).to_have_text(re.compile(r"^Notice"))
        expect(notice).to_have_attribute("role", "status")  # announced, not an alert
        page.locator('[data-testid="stop-button"]').wait_for(state="detached", timeout=20_000)

        _send(composer, "thanks")
        notice.wait_for(state="detached", timeout=20_000)
    finally:
        page.close()


def test_shift_enter_makes_a_new_line_and_new_chat_starts_over(offline_site: str, browser: Any) -> None:
    page = browser.new_page()
    try:
        composer = _open_chat(page, offline_site)
        one_line = composer.bounding_box()["height"]
        composer.fill("first line")
        composer.press("Shift+Enter")
        composer.type("second line")
        assert composer.input_value() == "first line\nsecond line"
        assert page.get_by_test_id("user-message").count() == 0  # not sent
        assert composer.bounding_box()["height"] > one_line  # it grows with the text

        composer.press("Enter")
        page.get_by_test_id("assistant-message").first.wait_for(timeout=20_000)
        assert _chat_texts(page, "user-message") == ["first line\nsecond line"]
        # Emptied by the server: one line high again.
        page.wait_for_function(
            "(h) => { const box = document.querySelector('[data-testid=composer-input]');"
            " return box.value === '' && box.getBoundingClientRect().height === h; }",
            arg=one_line,
            timeout=10_000,
        )

        page.locator('[data-testid="stop-button"]').wait_for(state="detached", timeout=20_000)
        page.get_by_test_id("native-chat").get_by_role("button", name="New chat").click()
        page.get_by_test_id("start-screen").wait_for(timeout=10_000)
        assert page.get_by_test_id("user-message").count() == 0
    finally:
        page.close()


def test_stop_ends_the_reply_and_keeps_the_part_that_arrived(offline_site: str, browser: Any) -> None:
    page = browser.new_page()
    long_text = " ".join(f"lorem{n}" for n in range(600))  # the demo agent echoes it: ~6 s of streaming
    try:
        composer = _open_chat(page, offline_site)
        _send(composer, long_text)
        page.wait_for_function(
            "() => (document.querySelector('[data-testid=assistant-message]')?.innerText ?? '').includes('lorem20')",
            timeout=20_000,
        )
        page.get_by_test_id("stop-button").click()
        page.locator('[data-testid="stop-button"]').wait_for(state="detached", timeout=5_000)
        shown = _chat_texts(page, "assistant-message")[0]
        assert "lorem20" in shown and "lorem599" not in shown

        page.wait_for_timeout(1_000)  # nothing more arrives after a stop
        assert _chat_texts(page, "assistant-message")[0] == shown

        # The server saved the partial answer, as for a client that hangs up.
        _reload_the_thread(page)
        saved = page.get_by_test_id("assistant-message")
        expect(saved).to_have_count(1, timeout=30_000)
        expect(saved).to_contain_text("lorem20")
        expect(saved).not_to_contain_text("lorem599")
    finally:
        page.close()


def test_feedback_is_stored_and_retry_replaces_the_answer(offline_site: str, offline_root: Path, browser: Any) -> None:
    page = browser.new_page()
    try:
        composer = _open_chat(page, offline_site)
        _send(composer, "rate this answer")
        page.get_by_test_id("message-actions").wait_for(timeout=20_000)

        page.get_by_role("button", name="Good answer").click()
        page.locator('[aria-label="Good answer"][aria-pressed="true"]').wait_for(timeout=10_000)
        database = sqlite3.connect(offline_root / "data" / "fresh.db")
        try:
            rows = database.execute(
                "SELECT i.id, i.feedback, i.thread_id FROM chatkit_item i WHERE i.type = 'assistant_message'"
                " AND i.data LIKE '%rate this answer%'"
            ).fetchall()
            assert len(rows) == 1 and rows[0][1] == "positive"
            first_answer, thread_id = rows[0][0], rows[0][2]

            page.get_by_role("button", name="Retry").click()

            def answers() -> list[str]:
                query = "SELECT id FROM chatkit_item WHERE thread_id = ? AND type = 'assistant_message'"
                return [row[0] for row in database.execute(query, (thread_id,)).fetchall()]

            # Wait on the outcome (a new answer stored in place of the old one), not on the
            # moment the button is hidden while it streams, which a fast answer can skip.
            wait_until(lambda: answers() != [first_answer] and len(answers()) == 1)
            page.get_by_role("button", name="Retry").wait_for(timeout=20_000)
            assert len(answers()) == 1 and answers()[0] != first_answer  # replaced, not added
            expect(page.get_by_test_id("user-message")).to_have_text(["rate this answer"])
            expect(page.get_by_test_id("assistant-message")).to_contain_text(["rate this answer"])
        finally:
            database.close()
    finally:
        page.close()


def test_on_a_phone_the_history_is_in_a_drawer(offline_site: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 760})
    page = context.new_page()
    try:
        composer = _open_chat(page, offline_site)
        _send(composer, "from my phone")
        page.get_by_test_id("message-actions").wait_for(timeout=20_000)
        assert not page.get_by_test_id("thread-list").first.is_visible()  # no room for the sidebar

        page.get_by_role("button", name="Chat history").click()
        entry = page.get_by_role("dialog").get_by_test_id("thread-entry")
        expect(entry.first).to_contain_text("from my phone", timeout=10_000)
    finally:
        context.close()


def test_a_widget_is_rendered_natively_and_its_action_updates_it(offline_site: str, browser: Any) -> None:
    page = browser.new_page()
    try:
        page.goto(offline_site)
        page.get_by_test_id("native-chat").wait_for(timeout=30_000)
        page.get_by_role("button", name="Show me a widget").click()  # a start-screen prompt
        card = page.get_by_test_id("widget")
        card.wait_for(timeout=20_000)
        assert "Counter" in card.inner_text() and "Clicked 0 times." in card.inner_text()
        page.locator('[data-testid="stop-button"]').wait_for(state="detached", timeout=20_000)

        card.get_by_role("button", name="Add one").click()
        page.wait_for_function(
            "() => document.querySelector('[data-testid=widget]').innerText.includes('Clicked 1 time.')",
            timeout=20_000,
        )
        page.locator('[data-testid="stop-button"]').wait_for(state="detached", timeout=20_000)
        card.get_by_role("button", name="Add one").click()
        page.wait_for_function(
            "() => document.querySelector('[data-testid=widget]').innerText.includes('Clicked 2 times.')",
            timeout=20_000,
        )
        assert page.get_by_test_id("widget").count() == 1  # replaced in place, not added

        # The server kept the updated widget: it is there after a reload.
        page.locator('[data-testid="stop-button"]').wait_for(state="detached", timeout=20_000)
        _reload_the_thread(page)
        expect(page.get_by_test_id("widget")).to_contain_text("Clicked 2 times.", timeout=30_000)
    finally:
        page.close()


PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201"
    "5c2e9d5c0000000049454e44ae426082"
)


def test_attachments_upload_with_previews_and_the_agent_sees_them(
    offline_site: str, browser: Any, tmp_path: Path
) -> None:
    picture, notes, fake = tmp_path / "dot.png", tmp_path / "notes.txt", tmp_path / "fake.png"
    picture.write_bytes(PNG_1PX)
    notes.write_text("some notes\n")
    fake.write_text("this is not a picture\n")
    page = browser.new_page()
    try:
        page.goto(offline_site)
        page.get_by_test_id("native-chat").wait_for(timeout=30_000)
        page.locator("#native-attachments input[type=file]").set_input_files([str(picture), str(notes)])
        chips = page.get_by_test_id("pending-attachments").get_by_test_id("attachment-chip")
        chips.nth(1).wait_for(timeout=20_000)
        assert sorted(chip.inner_text() for chip in chips.all()) == ["dot.png", "notes.txt"]
        preview = page.get_by_test_id("pending-attachments").get_by_test_id("attachment-preview")
        page.wait_for_function(
            "() => { const i = document.querySelector('[data-testid=attachment-preview]');"
            " return i && i.complete && i.naturalWidth === 1; }",
            timeout=15_000,
        )  # the signed preview URL really serves the image
        assert preview.count() == 1

        # A file whose bytes are not what its name says is refused, and says why.
        page.locator("#native-attachments input[type=file]").set_input_files([str(fake)])
        page.get_by_role("alert").filter(has_text="fake.png").wait_for(timeout=15_000)
        assert "does not match" in page.get_by_role("alert").inner_text()
        assert chips.count() == 2

        composer = page.get_by_test_id("composer-input")
        _send(composer, "what did I send?")
        page.get_by_test_id("message-actions").wait_for(timeout=20_000)
        # The Markdown renderer is loaded lazily: the answer's box can be empty a moment longer.
        answer = page.get_by_test_id("assistant-message").first
        for part in ("dot.png", "image/png", "notes.txt"):
            expect(answer).to_contain_text(part, timeout=10_000)
        assert page.get_by_test_id("pending-attachments").count() == 0  # sent with the message
        assert page.get_by_role("button", name="Remove attachment").count() == 0  # part of the message now

        _reload_the_thread(page)
        expect(page.get_by_test_id("attachment-chip")).to_have_count(2, timeout=30_000)
        expect(page.get_by_test_id("attachment-preview")).to_have_count(1)
    finally:
        page.close()


def test_the_theme_options_and_the_agents_theme_tool_apply_to_the_native_ui(offline_site: str, browser: Any) -> None:
    context = browser.new_context(color_scheme="light")
    page = context.new_page()
    try:
        page.goto(offline_site)
        chat = page.get_by_test_id("native-chat")
        chat.wait_for(timeout=30_000)
        # assets/chatkit-config.json: accent #2563eb, radius "round", density "normal".
        page.wait_for_function(
            "() => getComputedStyle(document.querySelector('[data-testid=native-chat]'))"
            ".getPropertyValue('--accent-9').trim() === '#2563eb'",
            timeout=15_000,
        )
        style = chat.evaluate("e => [getComputedStyle(e).getPropertyValue('--radius-factor').trim(), e.className]")
        assert style[0] == "1.5" and "dark-theme" not in style[1]

        composer = page.get_by_test_id("composer-input")
        composer.fill("dark mode please")
        composer.press("Enter")  # the demo agent calls its client tool; the native UI runs it
        page.wait_for_function(
            "() => document.querySelector('[data-testid=native-chat]').classList.contains('dark-theme')",
            timeout=20_000,
        )
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=assistant-message]')]"
            ".some(e => e.innerText.includes('Switched to the dark colour scheme'))",
            timeout=20_000,
        )
        background = chat.evaluate("e => getComputedStyle(e).backgroundColor")
        red, green, blue = (int(part) for part in background[background.index("(") + 1 : -1].split(",")[:3])
        assert red + green + blue < 150  # a dark background

        # The delete confirmation is drawn outside the chat (a portal) and still has its theme.
        page.get_by_test_id("thread-entry").first.get_by_role("button", name="Delete chat").click()
        dialog = page.get_by_test_id("delete-dialog")
        dialog.wait_for(timeout=10_000)
        assert dialog.evaluate("e => getComputedStyle(e).getPropertyValue('--accent-9').trim()") == "#2563eb"
        assert dialog.evaluate("e => e.closest('.dark-theme') !== null")
        dialog.get_by_role("button", name="Cancel").click()
    finally:
        context.close()


def test_html_in_an_answer_stays_text(offline_site: str, browser: Any) -> None:
    page = browser.new_page()
    try:
        composer = _open_chat(page, offline_site)
        composer.fill('<img id="injected" src="x" onerror="window.__pwned = 1"> <b id="bold">hi</b>')
        composer.press("Enter")  # the demo agent echoes it back inside its Markdown answer
        page.get_by_test_id("message-actions").wait_for(timeout=20_000)
        # Rendered first (the Markdown renderer is loaded lazily), then nothing injected.
        expect(page.get_by_test_id("assistant-message").first).to_contain_text('<img id="injected"', timeout=10_000)
        assert page.locator("#injected, #bold").count() == 0
        assert page.evaluate("() => window.__pwned === undefined")
    finally:
        page.close()


def test_a_thread_can_be_renamed_and_deleted(offline_site: str, browser: Any) -> None:
    page = browser.new_page()
    try:
        composer = _open_chat(page, offline_site)
        _send(composer, "a chat to rename")
        page.get_by_test_id("message-actions").wait_for(timeout=20_000)
        entry = page.get_by_test_id("thread-entry").first
        entry.get_by_role("button", name="Rename chat").click()
        title = page.get_by_label("New title")
        title.fill("  Renamed   chat ")
        title.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=thread-entry]').innerText.includes('Renamed chat')",
            timeout=15_000,
        )
        page.reload()
        expect(page.get_by_test_id("thread-entry").first).to_contain_text("Renamed chat", timeout=30_000)  # stored

        page.get_by_test_id("thread-entry").first.get_by_role("button", name="Delete chat").click()
        page.get_by_role("alertdialog").get_by_role("button", name="Delete").click()  # asked first
        page.get_by_test_id("thread-entry").wait_for(state="detached", timeout=15_000)
        page.goto(offline_site)  # the deleted thread's own address would say "Chat not found"
        page.get_by_test_id("native-chat").wait_for(timeout=30_000)
        expect(page.get_by_test_id("history-skeleton")).to_have_count(0, timeout=30_000)  # the history has loaded
        expect(page.get_by_test_id("thread-entry")).to_have_count(0)
    finally:
        page.close()


def test_a_long_thread_keeps_a_bounded_window_and_loads_the_rest_on_demand(
    offline_site: str, offline_root: Path, browser: Any
) -> None:
    from bench.state_memory import BigThread, fill_thread, thread_with

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        opening = f"window test {secrets.token_hex(4)}"
        _send(_open_chat(page, offline_site), opening)
        page.get_by_test_id("message-actions").wait_for(timeout=20_000)
        database = offline_root / "data" / "fresh.db"
        user_id, thread_id = thread_with(database, opening)
        # 130 more messages; the newest ends with a marker; message 128 has 50,000 characters.
        shape = BigThread(items=130, item_chars=200, long_items=1, long_chars=50_000)
        fill_thread(f"sqlite:///{database}", user_id, thread_id, shape, marker="newest-of-130")
        _reload_the_thread(page)
        page.get_by_test_id("assistant-message").filter(has_text="newest-of-130").wait_for(timeout=30_000)
        messages = page.locator('[data-testid="user-message"], [data-testid="assistant-message"]')
        expect(messages).to_have_count(50)  # of 132
        long_one = page.get_by_test_id("user-message").filter(has_text="message 128 ")
        assert 20_000 <= len(long_one.inner_text()) < 20_100
        whole = page.get_by_test_id("show-whole")
        assert whole.count() == 1
        whole.click()
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=user-message]')].some(e => e.innerText.length > 49000)",
            timeout=15_000,
        )
        assert whole.count() == 0

        # Earlier messages on demand; what was on screen stays on screen. (A click event
        # without Playwright's scrolling the button into view first: scrolled to the top, the
        # list would load the next page by itself, as a reader's would.)
        newest = page.get_by_test_id("assistant-message").filter(has_text="newest-of-130")
        before = newest.bounding_box()
        page.get_by_test_id("load-earlier").dispatch_event("click")
        page.get_by_test_id("user-message").filter(has_text="message 30 ").wait_for(timeout=15_000)
        expect(messages).to_have_count(100)
        after = newest.bounding_box()
        assert before is not None and after is not None
        assert abs(after["y"] - before["y"]) < 2, (before, after)
        # Scrolling near the top loads the rest, without a click.
        page.get_by_test_id("message-list").evaluate("e => { e.scrollTop = -e.scrollHeight; }")
        page.get_by_test_id("user-message").filter(has_text=opening).wait_for(timeout=15_000)
        expect(messages).to_have_count(132)
        assert page.get_by_test_id("load-earlier").count() == 0

        # A new turn is added at the end, and the window is bounded again.
        _send(page.get_by_test_id("composer-input"), "after the long thread")
        page.get_by_test_id("assistant-message").filter(has_text="after the long thread").wait_for(timeout=20_000)
        page.get_by_test_id("stop-button").wait_for(state="detached", timeout=20_000)
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=user-message],[data-testid=assistant-message]').length"
            " === 50",
            timeout=15_000,
        )
        assert _chat_texts(page, "user-message")[-1] == "after the long thread"
        assert page.get_by_test_id("load-earlier").count() == 1
    finally:
        context.close()


def test_uploads_over_the_limit_or_from_strangers_never_reach_the_disk(
    offline_site: str, browser: Any, tmp_path: Path
) -> None:
    from chatkit_app.api.upload_guard import MULTIPART_ALLOWANCE
    from tests.e2e.prod_site import SERVER_PIDS
    from tests.e2e.raw_upload import post_upload

    limit = 10 * 1024 * 1024 + MULTIPART_ALLOWANCE  # the default CHATKIT_MAX_UPLOAD_BYTES
    pid = SERVER_PIDS[offline_site]
    notes = tmp_path / "small.txt"
    notes.write_text("a normal upload\n")
    page = browser.new_page()
    try:
        page.goto(offline_site)
        page.get_by_test_id("native-chat").wait_for(timeout=30_000)
        with page.expect_request("**/_upload") as captured:
            page.locator("#native-attachments input[type=file]").set_input_files([str(notes)])
        page.get_by_test_id("pending-attachments").get_by_test_id("attachment-chip").wait_for(timeout=20_000)
        real = {k: v for k, v in captured.value.headers.items() if k.startswith("reflex-")}
        assert set(real) >= {"reflex-client-token", "reflex-event-handler"}
        made_up = {**real, "reflex-client-token": secrets.token_hex(16)}
        size = 300 * 1024 * 1024
        outcomes = {
            "made-up, chunked": post_upload(offline_site, made_up, size, pid, declare_length=False),
            "made-up, declared": post_upload(offline_site, made_up, size, pid, declare_length=True),
            "real, chunked": post_upload(offline_site, real, size, pid, declare_length=False),
            "real, declared": post_upload(offline_site, real, size, pid, declare_length=True),
        }
        for name, outcome in outcomes.items():
            print(f"{name}: {outcome}")
            assert outcome.seconds < 20, name
            assert outcome.max_temp_bytes <= limit, name
            assert outcome.sent < 2 * limit, name  # cut off, not read to the end
        assert outcomes["made-up, chunked"].status == 403
        assert [outcomes[k].status for k in ("made-up, declared", "real, chunked", "real, declared")] == [413] * 3
    finally:
        page.close()


def test_a_45_mb_thread_in_8_tabs_adds_less_than_100_mb(offline_site: str, offline_root: Path, browser: Any) -> None:
    from bench.state_memory import measure, report
    from tests.e2e.prod_site import SERVER_PIDS

    context = browser.new_context()
    try:
        figures = measure(context, offline_site, offline_root / "data" / "fresh.db", SERVER_PIDS[offline_site])
    finally:
        context.close()
    print(report(figures))
    assert figures["thread_mb"] > 40
    assert figures["added_mb"] < 100, report(figures)
