"""ChatKit 1.9 parity in the native UI, on the production site with the offline demo agent:
an agent's structured question (answered, skipped, shown again after a reload) and the
composer's "/" menu from the workflow's configured commands (assets/chatkit-config.json)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.prod_site import copy_site, running_site
from tests.e2e.shots import shots
from tests.e2e.test_native_ui import _open_chat, _send
from tests.e2e.test_prod_backend import _env

pytestmark = pytest.mark.slow
ANSWERS = ["Dark", "Widgets, Attachments, Themes", "Skipped"]
COMMANDS = ["Ask me questions", "Tools demo", "Show a widget", "Topic"]


@pytest.fixture(scope="module")
def parity_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    root: Path = tmp_path_factory.mktemp("parity-site")
    copy_site(root)
    env = _env(root / "data", CHATKIT_SECRET=secrets.token_urlsafe(48), CHATKIT_UI_MODE="native")
    with running_site(root, env) as url:
        yield url


def _idle(page: Any) -> None:
    page.get_by_test_id("stop-button").wait_for(state="detached", timeout=20_000)


def test_a_structured_question_is_answered_stored_and_shown_after_a_reload(parity_site: str, browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        _send(_open_chat(page, parity_site), "ask me")
        block = page.get_by_test_id("questions")
        expect(block).to_have_attribute("data-status", "pending", timeout=20_000)
        questions = block.get_by_test_id("question")
        expect(questions).to_have_count(3)
        assert [questions.nth(i).get_attribute("data-kind") for i in range(3)] == ["single", "multiple", "freeform"]
        _idle(page)
        shots(page, "parity-question-desktop")

        # One choice (a radio), two choices and one's own answer, the free text left empty.
        block.get_by_role("radio", name="Light").check()
        block.get_by_role("radio", name="Dark").check()  # one choice: the last one picked
        block.get_by_role("checkbox", name="Widgets").check()
        block.get_by_role("checkbox", name="Attachments").check()
        block.get_by_label("Your own answer: What would you like to try next?").fill("Themes")
        block.get_by_role("button", name="Send answers").click()

        expect(block).to_have_attribute("data-status", "answered", timeout=20_000)
        answers = block.get_by_test_id("question-answer")
        expect(answers).to_have_text(ANSWERS)
        reply = page.get_by_test_id("assistant-message").last
        expect(reply).to_contain_text("Thanks! Your answers", timeout=20_000)
        expect(reply).to_contain_text("Widgets, Attachments, Themes")
        _idle(page)

        # From the store: the answered question, in its place in the thread.
        page.reload()
        entry = page.get_by_test_id("thread-entry").first
        entry.wait_for(timeout=30_000)
        entry.get_by_role("button").first.click()
        block = page.get_by_test_id("questions")
        expect(block).to_have_attribute("data-status", "answered", timeout=15_000)
        expect(block.get_by_test_id("question-answer")).to_have_text(ANSWERS)
        expect(block.get_by_role("button", name="Send answers")).to_have_count(0)
    finally:
        page.close()


def test_questions_can_be_skipped_with_the_keyboard(parity_site: str, browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        _send(_open_chat(page, parity_site), "/ask")
        block = page.get_by_test_id("questions")
        expect(block).to_have_attribute("data-status", "pending", timeout=20_000)
        _idle(page)
        width = page.evaluate("() => document.querySelector('[data-testid=questions]').getBoundingClientRect().right")
        assert width <= 390, "the question fits a phone's width"
        skip = block.get_by_role("button", name="Skip")
        skip.focus()
        page.keyboard.press("Enter")
        expect(block).to_have_attribute("data-status", "skipped", timeout=20_000)
        expect(block.get_by_test_id("question-answer")).to_have_text(["Skipped"] * 3)
        expect(page.get_by_test_id("assistant-message").last).to_contain_text("You skipped my questions")
    finally:
        page.close()


def test_the_slash_menu_filters_moves_picks_and_closes(parity_site: str, browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        composer = _open_chat(page, parity_site)
        menu = page.get_by_test_id("command-menu")
        options = menu.get_by_role("option")
        composer.fill("/")
        expect(options).to_have_text([re.compile(f"^{label}") for label in COMMANDS])
        shots(page, "parity-menu-desktop")
        composer.press_sequentially("wid")  # filters as one types
        expect(options).to_have_count(1)
        expect(options.first).to_contain_text("Show a widget")
        composer.press("Escape")  # closes, the text stays
        expect(menu).to_have_count(0)
        expect(composer).to_have_value("/wid")

        # Arrow keys and Enter: the prompt is sent as the message (nothing else is sent).
        composer.fill("/")
        expect(options).to_have_count(4)
        composer.press("ArrowDown")
        composer.press("ArrowDown")
        composer.press("ArrowUp")
        expect(options.nth(1)).to_have_attribute("aria-selected", "true")
        composer.press("Enter")
        expect(page.get_by_test_id("workflow")).to_be_visible(timeout=20_000)  # "/tools" ran
        expect(page.get_by_test_id("user-message")).to_have_text(["/tools"])
        expect(menu).to_have_count(0)
        _idle(page)

        # A sub-menu, by click: its entity becomes a tag that goes with the message.
        composer.fill("/top")
        options.filter(has_text="Topic").click()
        expect(options).to_have_text([re.compile("^Billing"), re.compile("^Support")])
        options.filter(has_text="Support").click()
        tags = page.get_by_test_id("command-tag")
        expect(tags).to_have_text([re.compile("^@Support")])
        expect(composer).to_have_value("")
        composer.fill("my printer is on fire")
        composer.press("Enter")
        expect(page.get_by_test_id("assistant-message").last).to_contain_text(
            "You said: “@Support my printer is on fire”", timeout=20_000
        )
        expect(tags).to_have_count(0)  # sent with that message only
    finally:
        page.close()


def test_the_slash_menu_works_by_touch_on_a_phone(parity_site: str, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        composer = _open_chat(page, parity_site)
        composer.fill("/")
        menu = page.get_by_test_id("command-menu")
        expect(menu).to_be_visible()
        box = menu.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] >= 0
        shots(page, "parity-menu-phone")
        menu.get_by_role("option").filter(has_text="Ask me questions").tap()
        expect(page.get_by_test_id("questions")).to_have_attribute("data-status", "pending", timeout=20_000)
        _idle(page)
        shots(page, "parity-question-phone")
    finally:
        context.close()
