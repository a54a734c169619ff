"""Tool calls and model choice in the native UI, on the production site with the offline
demo agent (no model): "/tools" streams a workflow item whose first tool works and second
fails, each running for a moment; the workflow's `composer.models` (set in this site's own
copy of assets/chatkit-config.json) appear as a picker whose choice reaches the agent."""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.prod_site import copy_site, running_site, wait_until
from tests.e2e.test_native_ui import _open_chat, _send
from tests.e2e.test_prod_backend import _env

pytestmark = pytest.mark.slow

MODELS = [
    {"id": "demo-fast", "label": "Fast", "description": "Quick answers"},
    {"id": "demo-deep", "label": "Deep", "description": "Slower, more thorough", "default": True},
]


@pytest.fixture(scope="module")
def tools_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tools-site")


@pytest.fixture(scope="module")
def tools_site(tools_root: Path) -> Iterator[str]:
    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    root = tools_root
    copy_site(root)
    config_path = root / "assets" / "chatkit-config.json"
    config = json.loads(config_path.read_text())
    config["workflows"]["assistant"]["ui"]["composer"]["models"] = MODELS
    config_path.write_text(json.dumps(config))
    env = _env(root / "data", CHATKIT_SECRET=secrets.token_urlsafe(48), CHATKIT_UI_MODE="native")
    with running_site(root, env) as url:
        yield url


def _open_first_thread(page: Any, site: str) -> None:
    """The thread through its history entry, from a new chat's page (`/`): one load of it.
    (Reloading its own `/c/` page opens it already; a click as well would load it a second
    time, swapping what the test reads under its feet.)"""
    page.goto(site)
    entry = page.get_by_test_id("thread-entry").first
    entry.wait_for(timeout=30_000)
    entry.get_by_role("button").first.click()
    page.wait_for_url("**/c/**", timeout=15_000)


def test_tool_calls_show_running_then_done_and_failed_and_again_from_history(tools_site: str, browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        _send(_open_chat(page, tools_site), "/tools")
        block = page.get_by_test_id("workflow")
        tasks = block.get_by_test_id("workflow-task")
        # While it runs: open, a spinner on the call in progress, its running title on top.
        expect(block).to_have_attribute("data-done", "false", timeout=20_000)
        expect(block).to_have_attribute("open", "")
        running = tasks.and_(page.locator("[data-status=loading]"))
        expect(running).to_have_count(1)
        expect(running.get_by_label("Running")).to_be_visible()
        expect(block.get_by_test_id("workflow-summary")).to_contain_text(
            re.compile(r"Using (read clock|fetch forecast)…")
        )

        # Done: closed to its summary; inside, a thought, a check and a visible failure.
        expect(block).to_have_attribute("data-done", "true", timeout=20_000)
        summary = block.get_by_test_id("workflow-summary")
        expect(summary).to_have_text(re.compile(r"^Used 2 tools · \d+ s · 1 failed$"))
        expect(block).not_to_have_attribute("open", "")
        expect(tasks.first).not_to_be_visible()
        expect(page.get_by_test_id("assistant-message")).to_contain_text("I called two demo tools", timeout=20_000)

        summary.click()
        _expect_finished_tasks(block)

        # The stored item comes back the same from the thread's history.
        page.get_by_test_id("stop-button").wait_for(state="detached", timeout=20_000)
        _open_first_thread(page, tools_site)
        block = page.get_by_test_id("workflow")
        expect(block).to_have_attribute("data-done", "true", timeout=15_000)
        expect(block.get_by_test_id("workflow-summary")).to_have_text(re.compile(r"^Used 2 tools · \d+ s · 1 failed$"))
        block.get_by_test_id("workflow-summary").click()
        _expect_finished_tasks(block)
        # The answer follows its tools, as in the thread.
        order = page.locator("[data-testid=workflow], [data-testid=assistant-message], [data-testid=user-message]")
        expect(order).to_have_count(3)
        assert [order.nth(i).get_attribute("data-testid") for i in range(3)] == [
            "user-message",
            "workflow",
            "assistant-message",
        ]
    finally:
        page.close()


def _expect_finished_tasks(block: Any) -> None:
    from playwright.sync_api import expect

    tasks = block.get_by_test_id("workflow-task")
    expect(tasks).to_have_count(3)
    expect(tasks.nth(0)).to_have_attribute("data-kind", "thought")
    expect(tasks.nth(0)).to_contain_text("read the clock")
    expect(tasks.nth(1)).to_have_attribute("data-status", "complete")
    expect(tasks.nth(1)).to_contain_text(re.compile(r"Used read clock\s*It is \d\d:\d\d UTC\."))
    expect(tasks.nth(1).get_by_label("Done")).to_be_visible()
    expect(tasks.nth(2)).to_have_attribute("data-status", "failed")
    expect(tasks.nth(2)).to_contain_text("fetch forecast failed")
    expect(tasks.nth(2).get_by_label("Failed")).to_be_visible()
    expect(block.locator("[data-status=loading]")).to_have_count(0)


def test_the_model_picker_offers_the_workflows_models_and_the_choice_reaches_the_agent(
    tools_site: str, tools_root: Path, browser: Any
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        composer = _open_chat(page, tools_site)
        picker = page.get_by_test_id("model-picker")
        expect(picker).to_have_text("Deep", timeout=15_000)  # the one marked default

        _send(composer, "first question")
        answers = page.get_by_test_id("assistant-message")
        expect(answers.first).to_contain_text("(model: demo-deep)", timeout=20_000)
        page.get_by_test_id("stop-button").wait_for(state="detached", timeout=20_000)

        picker.click()
        options = page.get_by_role("option")
        expect(options).to_have_text(["Fast", "Deep"])
        expect(options.first).to_have_attribute("title", "Quick answers")
        options.filter(has_text="Fast").click()
        expect(picker).to_have_text("Fast")

        _send(composer, "second question")
        expect(answers).to_have_count(2, timeout=20_000)
        expect(answers.nth(1)).to_contain_text("(model: demo-fast)", timeout=20_000)

        # A retry answers the stored message again, with the model it was sent with, not
        # the one picked since.
        page.get_by_test_id("stop-button").wait_for(state="detached", timeout=20_000)
        picker.click()
        page.get_by_role("option").filter(has_text="Deep").click()
        expect(picker).to_have_text("Deep")
        database = sqlite3.connect(tools_root / "data" / "fresh.db")
        try:

            def answers_to_second() -> list[tuple[str, str]]:
                query = "SELECT id, data FROM chatkit_item WHERE type = 'assistant_message' AND data LIKE ?"
                return database.execute(query, ("%second question%",)).fetchall()

            before = answers_to_second()
            assert len(before) == 1 and "(model: demo-fast)" in before[0][1]
            page.get_by_role("button", name="Retry").click()
            wait_until(lambda: [row[0] for row in answers_to_second()] not in ([], [before[0][0]]))
            after = answers_to_second()
            assert len(after) == 1 and "(model: demo-fast)" in after[0][1]
        finally:
            database.close()
        expect(page.get_by_role("button", name="Retry")).to_be_visible(timeout=20_000)
        expect(answers.nth(1)).to_contain_text("(model: demo-fast)")
    finally:
        page.close()


def test_the_blocks_and_the_picker_fit_a_phone_in_the_dark(tools_site: str, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    page = context.new_page()
    try:
        _send(_open_chat(page, tools_site), "tools")
        block = page.get_by_test_id("workflow")
        expect(block).to_have_attribute("data-done", "true", timeout=20_000)
        block.get_by_test_id("workflow-summary").click()
        expect(block.get_by_test_id("workflow-task")).to_have_count(3)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390  # nothing sticks out sideways
        box = block.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        picker = page.get_by_test_id("model-picker").bounding_box()
        assert picker is not None and picker["x"] + picker["width"] <= 390
        failed = block.locator("[data-status=failed] [data-testid=workflow-task-title]")
        red = failed.evaluate("e => getComputedStyle(e).color")
        r, g, b = (int(part) for part in red[red.index("(") + 1 : -1].split(",")[:3])
        assert r > g + 60 and r > b + 60  # red on the dark background
    finally:
        context.close()
