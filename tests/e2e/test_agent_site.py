"""Real agents behind the production site, in a browser, as a new user sets them up from
docs/customising.md: the exported example's triage agent as workflow `support`
(`CHATKIT_WORKFLOW_MODULES`), and the built-in assistant with an MCP server
(`CHATKIT_MCP_SERVERS`). The model is the loopback fake (it calls the tools); the MCP server
is a real one on loopback. Both UIs: the native one, and ChatKit's element (its local stub:
the real one loads from OpenAI's CDN) fed by our server through the bridge."""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.prod_site import REPO_ROOT, copy_site, running_site
from tests.e2e.test_prod_backend import _env
from tests.fakes.mcp_server import FakeMcpHttp
from tests.fakes.openai_server import TOOL_OUTPUT, FakeBehavior, FakeOpenAI, ToolRule

pytestmark = pytest.mark.slow

EXPORT = "support=examples.agent_builder_export.support_workflow:triage_agent"
BEHAVIOR = FakeBehavior(
    text=f"Here is what I found: {TOOL_OUTPUT}",
    tool_calls=[
        ToolRule("transfer_to_billing_agent", when="invoice"),
        ToolRule("lookup_order", {"order_id": "A-1001"}),
    ],
)


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(behavior=BEHAVIOR).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def mcp() -> Iterator[FakeMcpHttp]:
    server = FakeMcpHttp().start()
    yield server
    server.stop()


def _site(root: Path, model: FakeOpenAI, mcp: FakeMcpHttp, **extra: str) -> Iterator[str]:
    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    copy_site(root)
    shutil.copytree(REPO_ROOT / "examples", root / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    env = _env(
        root / "data",
        CHATKIT_SECRET=secrets.token_urlsafe(48),
        OPENAI_API_KEY="sk-test-" + "x" * 24,
        OPENAI_BASE_URL=model.base_url,
        CHATKIT_WORKFLOW_MODULES=EXPORT,
        CHATKIT_MCP_SERVERS=json.dumps([{"name": "shop", "url": mcp.url, "tools": ["lookup_order"]}]),
        **extra,
    )
    with running_site(root, env) as url:
        yield url


@pytest.fixture(scope="module")
def native_site(tmp_path_factory: pytest.TempPathFactory, model: FakeOpenAI, mcp: FakeMcpHttp) -> Iterator[str]:
    yield from _site(tmp_path_factory.mktemp("agents-native"), model, mcp, CHATKIT_UI_MODE="native")


@pytest.fixture(scope="module")
def chatkit_site(
    tmp_path_factory: pytest.TempPathFactory, model: FakeOpenAI, mcp: FakeMcpHttp, stub_script_url: str
) -> Iterator[str]:
    yield from _site(
        tmp_path_factory.mktemp("agents-chatkit"),
        model,
        mcp,
        CHATKIT_UI_MODE="chatkit",
        CHATKIT_SCRIPT_URL=stub_script_url,
    )


def _ask(page: Any, url: str, text: str) -> None:
    page.goto(url)
    composer = page.get_by_test_id("composer-input")
    composer.wait_for(timeout=30_000)
    composer.fill(text)
    composer.press("Enter")


def test_native_ui_the_export_hands_off_and_shows_its_tool(native_site: str, browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        _ask(page, f"{native_site}/embed/support", "Where is the invoice for order A-1001?")
        answer = page.get_by_test_id("assistant-message")
        expect(answer).to_contain_text("Order A-1001: status: shipped", timeout=30_000)
        block = page.get_by_test_id("workflow")
        expect(block).to_have_attribute("data-done", "true", timeout=15_000)
        block.get_by_test_id("workflow-summary").click()
        tasks = block.get_by_test_id("workflow-task")
        expect(tasks).to_have_count(2)
        expect(tasks.nth(0)).to_contain_text("Handed over to Billing agent")
        expect(tasks.nth(1)).to_contain_text("Used lookup order")
        expect(tasks.nth(1)).to_have_attribute("data-status", "complete")
    finally:
        page.close()


def test_native_ui_a_refused_message_is_said_so_and_leaves_the_chat(native_site: str, browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        _ask(page, f"{native_site}/embed/support", "Charge my card 4111 1111 1111 1111 please")
        expect(page.get_by_text("safety check refused your message")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("4111 1111 1111 1111")).to_have_count(0)
        page.reload()
        page.get_by_test_id("composer-input").wait_for(timeout=30_000)
        expect(page.get_by_text("4111 1111 1111 1111")).to_have_count(0)
    finally:
        page.close()


def test_native_ui_an_mcp_tool_shows_its_progress_then_its_task(
    native_site: str, browser: Any, mcp: FakeMcpHttp
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    calls = len(mcp.hooks.calls)
    try:
        _ask(page, native_site, "Where is my order A-1001?")
        answer = page.get_by_test_id("assistant-message")
        expect(answer).to_contain_text("Order A-1001: shipped, arriving Tuesday.", timeout=30_000)
        block = page.get_by_test_id("workflow")
        expect(block).to_have_attribute("data-done", "true", timeout=15_000)
        block.get_by_test_id("workflow-summary").click()
        # The task keeps the MCP server's last progress report as its detail.
        expect(block.get_by_test_id("workflow-task")).to_contain_text([re.compile(r"Used lookup order\s*Done \(3/3\)")])
        assert mcp.hooks.calls[calls:] == ["lookup_order"]
    finally:
        page.close()


def test_chatkit_ui_gets_the_tasks_and_the_progress_as_they_stream(chatkit_site: str, browser: Any) -> None:
    page = browser.new_page()
    try:
        page.goto(chatkit_site)
        page.wait_for_function("() => window.__chatkitStub && window.__chatkitStub.options", timeout=90_000)
        page.evaluate(
            "(text) => document.querySelector('openai-chatkit').sendUserMessage({text})", "Where is my order A-1001?"
        )
        page.wait_for_function("() => window.__chatkitStub.replies.length === 1", timeout=30_000)
        stub = page.evaluate("() => window.__chatkitStub")
        assert stub["replies"] == ["Here is what I found: Order A-1001: shipped, arriving Tuesday."]
        updates = [(t["title"], t["status"]) for t in stub["taskUpdates"]]
        assert updates[0] == ("Using lookup order…", "loading") and updates[-1] == ("Used lookup order", "complete")
        assert len(updates) >= 3, "the running task's progress came as updates"
        assert any("Asking the carrier" in text for text in stub["progress"])
    finally:
        page.close()
