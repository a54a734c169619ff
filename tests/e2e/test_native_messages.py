"""How messages look in the native UI, on the production site in Chromium, with a canned
agent (tests/e2e/showcase_agent.py): nothing wider than a phone's screen (long words wrap,
code and tables scroll inside their own box), widgets at their natural height anywhere in
a tall thread, code blocks with a language label and Copy, a Copy action on answers,
Markdown colours that follow a scheme switch live, "Thinking…" only until text streams,
ChatKit's Table widget, and a long thread that opens at its newest message."""

from __future__ import annotations

import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.prod_site import copy_site, running_site
from tests.e2e.shots import shot, shots
from tests.e2e.test_prod_backend import _env

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
RENDERER_CHUNK = re.compile(r"/assets/markdown-[\w-]+\.js$")  # the Markdown renderer, loaded on first use
PHONES = [(320, 700), (390, 844)]

# Whether a box lies inside the viewport, for every message, widget and workflow block.
BOXES_INSIDE = """() => {
  const boxes = [...document.querySelectorAll(
    '[data-testid=user-message],[data-testid=assistant-message],[data-testid=widget],[data-testid=workflow]')];
  return boxes.map(e => { const r = e.getBoundingClientRect();
    return {id: e.dataset.testid, left: r.left, right: r.right, inside: r.left >= 0 && r.right <= innerWidth + 0.5}; });
}"""
# Elements of the chat (below the site's top bar) reaching past the viewport's right edge.
# (Inside a box that scrolls sideways, content may reach further: it is clipped there.)
WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll('[data-testid=native-chat] *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
  .filter(e => !e.closest('.chat-code pre, .chat-table-scroll, [data-testid=widget-table]'))
  .map(e => `${e.tagName}.${e.className?.baseVal ?? e.className} ${e.dataset.testid ?? ''}`)"""


@pytest.fixture(scope="module")
def showcase_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    root = tmp_path_factory.mktemp("messages-site")
    copy_site(root)
    shutil.copy2(HERE / "showcase_agent.py", root / "showcase_agent.py")
    env = _env(
        root / "data",
        CHATKIT_SECRET=secrets.token_urlsafe(48),
        CHATKIT_UI_MODE="native",
        CHATKIT_WORKFLOW_MODULES="showcase_agent",
        CHATKIT_WORKFLOW_ID="showcase",
    )
    with running_site(root, env) as url:
        yield url


def _chat(browser: Any, url: str, width: int = 1440, height: int = 900, **options: Any) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    page = context.new_page()
    page.goto(url)
    page.get_by_test_id("composer-input").wait_for(timeout=30_000)
    return context, page


def _ask(page: Any, text: str) -> None:
    """Sends `text` and waits for the whole reply (its actions show when it has ended)."""
    from playwright.sync_api import expect

    answers = page.get_by_test_id("message-actions").count()
    composer = page.get_by_test_id("composer-input")
    composer.fill(text)
    composer.press("Enter")
    expect(page.get_by_test_id("message-actions")).to_have_count(answers + 1, timeout=30_000)
    expect(page.get_by_test_id("stop-button")).to_have_count(0, timeout=30_000)


def _wait_highlighted(page: Any) -> None:
    """The Markdown renderer (loaded lazily) and Prism's Python grammar are in."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("code-language").first).to_have_text("python", timeout=20_000)
    expect(page.locator(".chat-code .token.keyword").first).to_be_visible(timeout=20_000)


@pytest.mark.parametrize(("width", "height"), PHONES)
def test_nothing_is_wider_than_a_phone_and_wide_blocks_scroll_inside(
    showcase_site: str, browser: Any, width: int, height: int
) -> None:
    from playwright.sync_api import expect

    context, page = _chat(browser, showcase_site, width, height)
    try:
        _ask(page, "markdown")
        _wait_highlighted(page)
        _ask(page, "widgets")
        expect(page.get_by_test_id("widget-table")).to_be_visible()

        outside = [box for box in page.evaluate(BOXES_INSIDE) if not box["inside"]]
        assert outside == []
        assert page.evaluate(WIDER_THAN_THE_SCREEN) == []
        if width >= 390:  # at 320 px the site's top bar (not the chat) is still a few pixels too wide
            assert page.evaluate("document.documentElement.scrollWidth") <= width

        # The long code line, the Markdown table and the widget's table each scroll in
        # their own box, and really scroll.
        for scroller in (
            page.locator(".chat-code pre").first,
            page.locator(".chat-table-scroll").first,
            page.get_by_test_id("widget-table"),
        ):
            scroller.scroll_into_view_if_needed()
            assert scroller.evaluate("e => e.scrollWidth > e.clientWidth + 20"), scroller
            assert scroller.evaluate("e => e.getBoundingClientRect().right <= innerWidth + 0.5")
            scroller.evaluate("e => { e.scrollLeft = 80; }")
            assert scroller.evaluate("e => e.scrollLeft") > 0
        assert page.evaluate(WIDER_THAN_THE_SCREEN) == []

        # A long word and a long URL wrap instead of widening the message.
        answer = page.get_by_test_id("assistant-message").first
        assert answer.evaluate("e => e.scrollWidth <= e.clientWidth")
        expect(answer.get_by_role("heading", name="Release notes", exact=True)).to_be_visible()
        if width == 390:  # the long answer, from the top: headings, wrapped words, code
            page.get_by_test_id("message-list").evaluate("e => { e.scrollTop = 0; }")
            shots(page, "messages-phone")
    finally:
        context.close()


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (390, 844)])
def test_widgets_keep_their_height_in_a_thread_taller_than_the_screen(
    showcase_site: str, browser: Any, width: int, height: int
) -> None:
    from playwright.sync_api import expect

    context, page = _chat(browser, showcase_site, width, height)
    try:
        _ask(page, "long")
        _ask(page, "widgets")
        _ask(page, "long")
        scroller = page.get_by_test_id("message-list")
        assert scroller.evaluate("e => e.scrollHeight > 2 * e.clientHeight")  # well taller than the screen

        counter, table = page.get_by_test_id("widget").all()
        for card in (counter, table):
            card.scroll_into_view_if_needed()
            # As tall as its content (nothing squeezed or clipped), and more than a strip.
            assert card.evaluate("e => e.getBoundingClientRect().height >= e.scrollHeight - 1")
            assert card.evaluate("e => e.getBoundingClientRect().height") > 70
        assert table.get_by_test_id("widget-table").evaluate("e => e.getBoundingClientRect().height") > 100
        expect(table.get_by_role("cell", name="Grace Hopper")).to_be_visible()

        counter.scroll_into_view_if_needed()
        counter.get_by_role("button", name="Add one").click()  # reachable, and it works
        expect(page.get_by_test_id("widget").first).to_contain_text("Clicked 1 time.", timeout=20_000)
    finally:
        context.close()


def test_a_long_thread_opens_at_its_newest_message(showcase_site: str, browser: Any) -> None:
    from playwright.sync_api import expect

    context, page = _chat(browser, showcase_site)
    try:
        for prompt in ("long", "markdown", "long", "markdown which ends the thread"):
            _ask(page, prompt)
        page.reload()
        entry = page.get_by_test_id("thread-entry").first
        expect(entry).to_contain_text("long", timeout=30_000)
        entry.get_by_role("button").first.click()
        expect(page.get_by_test_id("assistant-message")).to_have_count(4, timeout=20_000)
        _wait_highlighted(page)
        expect(page.get_by_test_id("code-block")).to_have_count(2)
        expect(page.locator(".chat-code:not(:has(.token.keyword))")).to_have_count(0, timeout=20_000)
        # The newest answer's end (its actions) is on screen once everything is laid out.
        # (The click opens the thread a second time: a moment of skeleton without messages.)
        page.wait_for_function(
            """() => {
              const list = document.querySelector('[data-testid=message-list]');
              const actions = [...document.querySelectorAll('[data-testid=message-actions]')].at(-1);
              if (!list || !actions) return false;
              const box = list.getBoundingClientRect(), r = actions.getBoundingClientRect();
              return r.bottom <= box.bottom + 1 && r.top >= box.top;
            }""",
            timeout=10_000,
        )
        expect(page.get_by_test_id("user-message").last).to_have_text("markdown which ends the thread")
    finally:
        context.close()


def test_code_and_answers_copy_to_the_clipboard(showcase_site: str, browser: Any) -> None:
    from playwright.sync_api import expect

    context, page = _chat(browser, showcase_site)
    try:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=showcase_site)
        _ask(page, "markdown")
        _wait_highlighted(page)

        copy = page.get_by_test_id("copy-code")
        expect(copy).to_have_text("Copy")
        copy.click()
        expect(copy).to_have_text("Copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith("def main() -> None:\n    result = compute_the_answer(argument_number_0,")
        assert copied.endswith("    print(result)")  # the code alone: no language, no fence
        expect(copy).to_have_text("Copy", timeout=5_000)  # back after a moment

        action = page.get_by_test_id("message-actions").get_by_role("button", name="Copy answer")
        action.click()
        expect(page.get_by_test_id("message-actions").get_by_role("button", name="Copied")).to_be_visible()
        answer = page.evaluate("navigator.clipboard.readText()")
        assert answer.startswith("# Release notes\n\n## What changed")  # the Markdown, not the rendered text
        assert "```python\ndef main() -> None:" in answer and "| Enterprise | ask |" in answer
    finally:
        context.close()


def _colors(page: Any) -> dict[str, str]:
    return page.evaluate(
        """() => {
          const color = (selector, property) => getComputedStyle(document.querySelector(selector))[property];
          return {
            keyword: color('.chat-code .token.keyword', 'color'),
            code: color('.chat-code pre', 'color'),
            block: color('.chat-code', 'backgroundColor'),
            inline: color('code.chat-inline-code', 'color'),
            text: color('[data-testid=assistant-message]', 'color'),
          };
        }"""
    )


def _luminance(rgb: str) -> float:
    red, green, blue = (int(part) for part in re.findall(r"\d+", rgb)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_code_follows_a_switch_of_the_colour_scheme_live(showcase_site: str, browser: Any) -> None:
    from playwright.sync_api import expect

    context, page = _chat(browser, showcase_site, color_scheme="light")
    try:
        _ask(page, "markdown")
        _wait_highlighted(page)
        light = _colors(page)
        assert _luminance(light["code"]) < 100 and _luminance(light["inline"]) < 100  # dark text on light

        # The agent's switch_theme client tool: the chat turns dark, code blocks with it.
        _ask(page, "dark mode")
        expect(page.get_by_test_id("native-chat")).to_have_class(re.compile(r"\bdark-theme\b"))
        page.wait_for_function(
            "k => getComputedStyle(document.querySelector('.chat-code .token.keyword')).color !== k",
            arg=light["keyword"],
        )
        dark = _colors(page)
        assert _luminance(dark["code"]) > 150 and _luminance(dark["inline"]) > 150  # light text on dark
        assert dark["block"] != light["block"]
        page.locator(".chat-code").first.scroll_into_view_if_needed()
        shot(page, "messages-desktop-dark")

        _ask(page, "light mode")
        page.wait_for_function(
            "k => getComputedStyle(document.querySelector('.chat-code .token.keyword')).color === k",
            arg=light["keyword"],
        )
        back = _colors(page)
        assert back["keyword"] == light["keyword"] and back["block"].startswith("rgba(0, 0,")
        assert _luminance(back["code"]) < 100 and _luminance(back["inline"]) < 100
    finally:
        context.close()


def test_thinking_shows_until_the_answer_streams(showcase_site: str, browser: Any) -> None:
    from playwright.sync_api import expect

    context, page = _chat(browser, showcase_site)
    try:
        composer = page.get_by_test_id("composer-input")
        composer.fill("slow")
        composer.press("Enter")
        thinking = page.get_by_test_id("thinking")
        expect(thinking).to_be_visible(timeout=10_000)  # before any text
        expect(page.get_by_test_id("assistant-message").last).to_contain_text("slow5", timeout=20_000)
        expect(thinking).to_have_count(0, timeout=1_500)  # gone as soon as text streams ...
        assert "slow79" not in page.get_by_test_id("assistant-message").last.inner_text()
        expect(page.get_by_test_id("stop-button")).to_be_visible()  # ... while it still streams
        expect(page.get_by_test_id("assistant-message").last).to_contain_text("slow79", timeout=20_000)
        expect(page.get_by_test_id("message-actions")).to_have_count(1, timeout=10_000)
        expect(thinking).to_have_count(0)
    finally:
        context.close()


def test_an_answer_shows_as_text_until_the_markdown_renderer_is_in(showcase_site: str, browser: Any) -> None:
    """The renderer is a chunk fetched on first use: while it is on its way the answer is
    its plain text (not an empty bubble), then it is drawn; if it cannot be fetched, the
    text stays and the page keeps working."""
    from playwright.sync_api import expect

    held: list[Any] = []
    context, page = _chat(browser, showcase_site)
    try:
        page.route(RENDERER_CHUNK, lambda route: held.append(route))  # answered below
        _ask(page, "**held back**")
        answer = page.get_by_test_id("assistant-message").first
        expect(answer.get_by_test_id("markdown-plain")).to_have_text("Echo: **held back**")
        expect(answer.locator("strong")).to_have_count(0)
        deadline = time.monotonic() + 10  # the route's callback reaches this thread with the page's events
        while not held and time.monotonic() < deadline:
            page.wait_for_timeout(20)
        assert len(held) == 1, held
        held[0].continue_()
        expect(answer.locator("strong")).to_have_text("held back", timeout=20_000)
        expect(answer.get_by_test_id("markdown-plain")).to_have_count(0)
    finally:
        context.close()

    context, page = _chat(browser, showcase_site)
    try:
        page.route(RENDERER_CHUNK, lambda route: route.abort())
        _ask(page, "**never drawn**")
        answer = page.get_by_test_id("assistant-message").first
        expect(answer.get_by_test_id("markdown-plain")).to_have_text("Echo: **never drawn**", timeout=20_000)
        _ask(page, "a second one")  # the page still works
        expect(page.get_by_test_id("assistant-message").nth(1)).to_have_text("Echo: a second one")
    finally:
        context.close()
