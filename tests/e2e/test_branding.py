"""The page frame an end user sees: the site's brand from the settings (never the package
name), no developer panel in production, one "New chat" at a time, and the whole page
(top bar included) dark once the chat turns dark."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def _open(browser: Any, url: str, width: int, height: int = 900) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme="light")
    page = context.new_page()
    page.goto(url)
    expect(page.get_by_test_id("start-screen")).to_contain_text("offline demo agent", timeout=30_000)
    return context, page


def _rgb_sum(page: Any, testid: str) -> int:
    color = page.get_by_test_id(testid).evaluate("e => getComputedStyle(e).backgroundColor")
    return sum(int(part) for part in color[color.index("(") + 1 : -1].split(",")[:3])


@pytest.mark.parametrize("width", [1440, 390])
def test_the_brand_and_no_developer_panel(branded_site: str, browser: Any, width: int) -> None:
    context, page = _open(browser, branded_site, width)
    try:
        expect(page).to_have_title("Acme Help")
        expect(page.get_by_test_id("site-title")).to_have_text("Acme Help")
        expect(page.get_by_test_id("site-logo")).to_be_visible()
        assert page.locator('link[rel="icon"]').get_attribute("href") == "/brand-favicon.svg"
        assert "chatkit_app" not in page.locator("body").inner_text()
        # The session is live, and nothing of its panel is on the page.
        page.locator('[data-testid="session-indicator"][data-status="active"]').wait_for(state="attached")
        for name in ("Refresh token", "Validate", "Chat session details"):
            expect(page.get_by_role("button", name=name)).to_have_count(0)
        # One "New chat" on screen: the sidebar's on a wide screen, the top bar's on a phone.
        visible = [b for b in page.get_by_role("button", name="New chat").all() if b.is_visible()]
        assert len(visible) == 1
        assert (visible[0].get_attribute("data-testid") == "top-new-chat") == (width < 768)
    finally:
        context.close()


def test_the_whole_page_turns_dark_with_the_chat(branded_site: str, browser: Any) -> None:
    context, page = _open(browser, branded_site, 1440)
    try:
        assert _rgb_sum(page, "top-bar") > 600  # light
        composer = page.get_by_test_id("composer-input")
        composer.fill("dark mode please")
        composer.press("Enter")  # the demo agent's switch_theme tool
        page.wait_for_function(
            "() => document.querySelector('[data-testid=page]').classList.contains('dark-theme')", timeout=20_000
        )
        page.wait_for_function(
            "() => { const c = getComputedStyle(document.querySelector('[data-testid=top-bar]')).backgroundColor;"
            " return c.match(/\\d+/g).slice(0, 3).reduce((a, b) => a + +b, 0) < 150; }",
            timeout=10_000,
        )
        assert _rgb_sum(page, "page") < 150
        title = page.get_by_test_id("site-title").evaluate("e => getComputedStyle(e).color")
        assert sum(int(p) for p in title[title.index("(") + 1 : -1].split(",")[:3]) > 500  # light text on dark
    finally:
        context.close()
