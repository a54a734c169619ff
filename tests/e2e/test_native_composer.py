"""The native composer as a visitor uses it: one rounded box that grows with the text
(then scrolls), attach and send inside it, Enter sends and Shift+Enter adds a line, centred
on the start screen and at the bottom once the chat has begun; files it does not take are
listed with why and the limit, whether the browser or the server refused them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow
MB = 1024 * 1024
KINDS = "(images, PDF, text, CSV, JSON, Markdown)"


def _open(browser: Any, url: str, width: int = 1440, height: int = 900) -> Any:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    expect(page.get_by_test_id("start-screen")).to_contain_text("offline demo agent", timeout=30_000)
    return page


def _box(page: Any, testid: str) -> dict[str, float]:
    box = page.get_by_test_id(testid).bounding_box()
    assert box is not None, testid
    return dict(box)


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["x"] >= outer["x"]
        and inner["y"] >= outer["y"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"]
    )


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (390, 844)])
def test_the_composer_grows_scrolls_sends_and_moves_down(
    branded_site: str, browser: Any, width: int, height: int
) -> None:
    page = _open(browser, branded_site, width, height)
    try:
        box = _box(page, "composer")
        # Centred on the start screen: the greeting above it, the prompts below.
        assert height * 0.25 < box["y"] + box["height"] / 2 < height * 0.75
        assert _box(page, "start-screen")["y"] < box["y"] < _box(page, "start-prompts")["y"]
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        for testid in ("attach-button", "send", "composer-input"):
            assert _inside(_box(page, testid), box), testid
        text = page.get_by_test_id("composer-input")
        assert text.evaluate("e => getComputedStyle(e).resize") == "none"

        one_line = text.evaluate("e => e.getBoundingClientRect().height")
        text.press_sequentially("first")
        for word in ("second", "third"):
            text.press("Shift+Enter")
            text.press_sequentially(word)
        expect(text).to_have_value("first\nsecond\nthird")
        page.wait_for_function(
            "h => document.querySelector('[data-testid=composer-input]').getBoundingClientRect().height > h * 2",
            arg=one_line,
        )
        text.fill("\n".join(f"line {n}" for n in range(30)))
        page.wait_for_function(
            "() => { const e = document.querySelector('[data-testid=composer-input]');"
            " return e.getBoundingClientRect().height <= 201 && e.scrollHeight > e.clientHeight + 100; }"
        )

        text.fill("hello there")
        text.press("Enter")
        expect(page.get_by_test_id("assistant-message").first).to_contain_text("hello there", timeout=20_000)
        expect(text).to_have_value("")
        page.wait_for_function(  # back to one line once sent
            "h => document.querySelector('[data-testid=composer-input]').getBoundingClientRect().height <= h + 1",
            arg=one_line,
        )
        expect(page.get_by_test_id("start-screen")).to_have_count(0)
        after = _box(page, "composer")
        assert after["y"] + after["height"] > height - 120  # at the bottom, under the messages
    finally:
        page.close()


def test_refused_files_say_why_with_the_limit(branded_site: str, browser: Any, tmp_path: Path) -> None:
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + bytes(3 * MB))
    exe = tmp_path / "report.exe"
    exe.write_bytes(b"MZ\x90\x00" * 64)
    binary_text = tmp_path / "notes.txt"  # a text file by its name; its bytes say otherwise
    binary_text.write_bytes(b"\x00\x01\x02binary" * 64)
    ok = tmp_path / "ok.txt"
    ok.write_text("fine")
    page = _open(browser, branded_site)
    try:
        attach = page.get_by_test_id("attach-button")
        attach.hover()
        expect(page.get_by_role("tooltip")).to_contain_text("Images up to 1 MB, PDF up to 2 MB")

        # Refused in the browser (its type, its type's size), never uploaded.
        with page.expect_file_chooser() as chooser:
            attach.click()
        chooser.value.set_files([str(big), str(exe)])
        refused = page.get_by_test_id("refused-file")
        expect(refused).to_have_text(
            ["big.pdf: 3 MB is over the 2 MB limit", f"report.exe: this type is not allowed {KINDS}"]
        )
        expect(page.get_by_test_id("refused-files")).to_be_visible()
        page.get_by_test_id("refused-files").get_by_role("button", name="Dismiss").click()
        expect(page.get_by_test_id("refused-files")).to_have_count(0)

        # One pick: refused by the server (its bytes are no text) and by the browser, the
        # good file attached; the last pick's lines are gone.
        with page.expect_file_chooser() as chooser:
            attach.click()
        chooser.value.set_files([str(binary_text), str(ok), str(exe)])
        expect(page.get_by_test_id("attachment-chip")).to_have_text(["ok.txt"], timeout=20_000)
        expect(refused).to_have_count(2)
        expect(page.get_by_test_id("refused-files")).to_contain_text(f"notes.txt: this type is not allowed {KINDS}")
        expect(page.get_by_test_id("refused-files")).to_contain_text(f"report.exe: this type is not allowed {KINDS}")

        # Dropped on the composer: the same checks.
        transfer = page.evaluate_handle(
            "() => { const t = new DataTransfer();"
            f" t.items.add(new File([new Uint8Array({2 * MB})], 'huge.png', {{type: 'image/png'}})); return t; }}"
        )
        page.get_by_test_id("composer").dispatch_event("drop", {"dataTransfer": transfer})
        expect(refused).to_have_text(["huge.png: 2 MB is over the 1 MB limit"])
    finally:
        page.close()
