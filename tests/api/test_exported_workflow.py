"""An exported Agent Builder-style module behind the site, as a new user sets it up: one
`CHATKIT_WORKFLOW_MODULES` entry naming its triage agent. Against the loopback fake model
(both APIs): the handoff and the specialist's tool show as workflow tasks, the tool's
output reaches the model, the guardrail stops a card number before any model call; tools
that fail, stream a widget or call a client tool behave as ChatKit users expect."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    RunContextWrapper,
    StopAtTools,
    function_tool,
    output_guardrail,
)
from agents.handoffs import Handoff
from chatkit.agents import AgentContext, ClientToolCall
from chatkit.widgets import Card, Text

from chatkit_app.workflows import modules
from chatkit_app.workflows.registry import Workflow
from examples.agent_builder_export.support_workflow import billing_agent
from tests.api.chatkit_client import ChatKitClient, reply_text, user_input
from tests.conftest import api_with_workflows, create_session, model_settings
from tests.fakes.openai_server import TOOL_OUTPUT, FakeBehavior, FakeOpenAI, ToolRule, running_fake

EXPORT = "support=examples.agent_builder_export.support_workflow:triage_agent"


@function_tool
def broken_lookup(order_id: str) -> str:
    """Looks an order up (always fails)."""
    raise ConnectionError("the order system is down")


@function_tool
async def show_order(ctx: RunContextWrapper[AgentContext[Any]], order_id: str) -> str:
    """Shows an order as a card, for the user who asked."""
    user = ctx.context.request_context.user_id
    await ctx.context.stream_widget(Card(children=[Text(value=f"Order {order_id} of {user}")]))
    return "shown"


@function_tool
async def switch_theme(ctx: RunContextWrapper[AgentContext[Any]], theme: str) -> str:
    """Switches the page's colour scheme (in the browser)."""
    ctx.context.client_tool_call = ClientToolCall(name="switch_theme", arguments={"theme": theme})
    return "asked the browser"


@output_guardrail
def no_secrets(context: RunContextWrapper[Any], agent: Agent[Any], output: str) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered="SECRET" in output)


GUARDED = Workflow(
    id="guarded",
    name="Guarded",
    agent=Agent(name="Guarded", instructions="Answer.", output_guardrails=[no_secrets]),
)

TOOLS = Workflow(
    id="tools",
    name="Tools",
    agent=Agent(
        name="Tool user",
        instructions="Use the tools.",
        tools=[broken_lookup, show_order, switch_theme],
        tool_use_behavior=StopAtTools(stop_at_tool_names=["switch_theme"]),
    ),
)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior())


@pytest.fixture(params=["responses", "chat_completions"])
async def http(request: pytest.FixtureRequest, fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = model_settings(
        tmp_path,
        fake.base_url,
        request.param,
        chatkit_upstream_timeout_seconds=5,
        chatkit_workflow_modules=EXPORT,
    )
    modules._load.cache_clear()
    async with api_with_workflows(settings, TOOLS, GUARDED) as client:
        yield client


async def _client(http: httpx.AsyncClient, workflow_id: str) -> ChatKitClient:
    return ChatKitClient(http, (await create_session(http, user_id="ann", workflow_id=workflow_id))["token"])


def _tasks(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The tasks of each finished workflow item, in order."""
    return [
        e["item"]["workflow"]["tasks"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "workflow"
    ]


async def test_the_export_hands_off_and_its_tool_shows_as_tasks(http: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    fake.behavior = FakeBehavior(
        text=f"From our records: {TOOL_OUTPUT}",
        tool_calls=[
            ToolRule(Handoff.default_tool_name(billing_agent), when="invoice"),
            ToolRule("lookup_order", {"order_id": "A-1001"}),
        ],
    )
    support = await _client(http, "support")
    thread_id, events = await support.new_thread("Where is the invoice for order A-1001?")
    assert reply_text(events) == "From our records: Order A-1001: " + (
        "status: shipped; carrier: Parcelway; eta: 2026-12-04; total: 42.50 EUR"
    )
    tasks = [task for tasks in _tasks(events) for task in tasks]
    assert [(t["title"], t["status_indicator"]) for t in tasks] == [
        ("Handed over to Billing agent", "complete"),
        ("Used lookup order", "complete"),
    ]
    assert tasks[1]["content"] == "order_id: A-1001"
    started = [e for e in events if e["type"] == "thread.item.updated" and e["update"]["type"] == "workflow.task.added"]
    assert started and started[0]["update"]["task"]["status_indicator"] == "loading", "the call shows while it runs"
    sent = str(fake.requests[-1].body)
    assert "billing specialist of the Northwind" in sent, "the specialist answers after the handoff"

    items = await support.call("items.list", thread_id=thread_id, limit=20, order="asc")
    assert [i["type"] for i in items["data"]] == ["user_message", "workflow", "assistant_message"]


async def test_the_guardrail_stops_a_card_number_before_any_model_call(
    http: httpx.AsyncClient, fake: FakeOpenAI
) -> None:
    support = await _client(http, "support")
    calls = len(fake.requests)
    thread_id, events = await support.new_thread("My card is 4111 1111 1111 1111, please charge it")
    errors = [e for e in events if e["type"] == "error"]
    assert errors and "safety check refused your message" in errors[0]["message"]
    assert errors[0]["allow_retry"] is False
    assert len(fake.requests) == calls
    # The refused message is gone, so the next turn's history cannot carry it to a model.
    items = await support.call("items.list", thread_id=thread_id, limit=20, order="asc")
    assert items["data"] == []
    thread = await support.call("threads.get_by_id", thread_id=thread_id)
    assert "4111" not in str(thread.get("title")), "nor does it name the thread"
    fake.behavior = FakeBehavior(text="Happy to help.")
    later = await support.stream("threads.add_user_message", thread_id=thread_id, input=user_input("hello"))
    assert reply_text(later) == "Happy to help."
    assert "4111" not in str(fake.requests[-1].body)


async def test_a_failing_tool_shows_as_failed_and_the_model_answers(http: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    fake.behavior = FakeBehavior(
        text=f"Sorry: {TOOL_OUTPUT}", tool_calls=[ToolRule("broken_lookup", {"order_id": "7"})]
    )
    tools = await _client(http, "tools")
    _, events = await tools.new_thread("look up order 7")
    [tasks] = _tasks(events)
    assert [(t["title"], t["status_indicator"]) for t in tasks] == [("broken lookup failed", "complete")]
    assert reply_text(events).startswith("Sorry: An error occurred while running the tool")
    assert "the order system is down" not in str(events), "the exception's text stays on the server"


async def test_a_tool_streams_a_widget_for_the_requesting_user(http: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    fake.behavior = FakeBehavior(text="Here it is.", tool_calls=[ToolRule("show_order", {"order_id": "9"})])
    tools = await _client(http, "tools")
    _, events = await tools.new_thread("show order 9")
    widgets = [e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "widget"]
    assert widgets and "Order 9 of ann" in str(widgets[0]["widget"])
    assert reply_text(events) == "Here it is."


async def test_a_client_tool_goes_to_the_browser_and_its_output_continues(
    http: httpx.AsyncClient, fake: FakeOpenAI
) -> None:
    fake.behavior = FakeBehavior(text="Switched.", tool_calls=[ToolRule("switch_theme", {"theme": "dark"})])
    tools = await _client(http, "tools")
    thread_id, events = await tools.new_thread("dark mode please")
    calls = [e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "client_tool_call"]
    assert calls and calls[0]["name"] == "switch_theme" and calls[0]["arguments"] == {"theme": "dark"}
    after = await tools.stream("threads.add_client_tool_output", thread_id=thread_id, result={"ok": True})
    assert not [e for e in after if e["type"] == "error"]
    assert reply_text(after) == "Switched."
    assert '"ok": true' in str(fake.requests[-1].body).lower() or "'ok': True" in str(fake.requests[-1].body)


async def test_an_answer_an_output_guardrail_refuses_is_withdrawn(http: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    fake.behavior = FakeBehavior(text="The SECRET is 42.")
    guarded = await _client(http, "guarded")
    thread_id, events = await guarded.new_thread("tell me the secret")
    shown = {
        e["item"]["id"]
        for e in events
        if e["type"] in ("thread.item.added", "thread.item.done") and e["item"]["type"] == "assistant_message"
    }
    removed = {e["item_id"] for e in events if e["type"] == "thread.item.removed"}
    assert shown and shown <= removed, "withdrawn under the id it was shown (and stored) with"
    errors = [e for e in events if e["type"] == "error"]
    assert errors and "safety check stopped its answer" in errors[0]["message"]
    items = await guarded.call("items.list", thread_id=thread_id, limit=20, order="asc")
    assert [i["type"] for i in items["data"]] == ["user_message"]
