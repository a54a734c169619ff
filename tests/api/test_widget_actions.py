"""Widget actions in Agents SDK workflows: a type the workflow handles runs its handler;
any other reaches the agent as hidden context, which the model reads with the history."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents import Agent, RunContextWrapper, function_tool
from chatkit.actions import Action, ActionConfig
from chatkit.agents import AgentContext
from chatkit.types import ThreadItemReplacedEvent, ThreadStreamEvent, WidgetItem
from chatkit.widgets import Button, Card, Text

from chatkit_app.workflows.agent import Turn
from chatkit_app.workflows.registry import Workflow
from tests.api.chatkit_client import ChatKitClient, done_items, reply_text, user_input
from tests.conftest import api_with_workflows, create_session, model_settings
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, ToolRule, running_fake


@function_tool
async def offer_refund(ctx: RunContextWrapper[AgentContext[Any]], order_id: str) -> str:
    """Offers a refund of the order as a card with two buttons."""
    await ctx.context.stream_widget(
        Card(
            children=[
                Text(value=f"Refund order {order_id}?"),
                Button(label="Yes", onClickAction=ActionConfig(type="refund.approve", payload={"order": order_id})),
                Button(label="No", onClickAction=ActionConfig(type="refund.cancel", payload={"order": order_id})),
            ]
        )
    )
    return "offered"


async def cancel_refund(
    turn: Turn, action: Action[str, Any], sender: WidgetItem | None
) -> AsyncIterator[ThreadStreamEvent]:
    assert sender is not None
    card = Card(children=[Text(value=f"Refund of {action.payload['order']} cancelled for {turn.context.user_id}.")])
    yield ThreadItemReplacedEvent(item=sender.model_copy(update={"widget": card, "created_at": datetime.now()}))


AGENT = Agent(name="Refunds", instructions="Offer refunds.", tools=[offer_refund])
REFUNDS = Workflow(id="refunds", name="Refunds", agent=AGENT, actions={"refund.cancel": cancel_refund})
STRICT = Workflow(id="strict", name="Strict", agent=AGENT.clone(), actions_to_agent=False)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior())


@pytest.fixture(params=["responses", "chat_completions"])
async def http(request: pytest.FixtureRequest, fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = model_settings(tmp_path, fake.base_url, request.param, chatkit_upstream_timeout_seconds=5)
    async with api_with_workflows(settings, REFUNDS, STRICT) as client:
        yield client


async def _card(
    http: httpx.AsyncClient, fake: FakeOpenAI, workflow_id: str
) -> tuple[ChatKitClient, str, dict[str, Any]]:
    fake.behavior = FakeBehavior(text="Here you go.", tool_calls=[ToolRule("offer_refund", {"order_id": "A-7"})])
    client = ChatKitClient(http, (await create_session(http, user_id="ann", workflow_id=workflow_id))["token"])
    thread_id, events = await client.new_thread("refund A-7 please")
    [widget] = [e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "widget"]
    fake.behavior = FakeBehavior(text="Refund approved.")
    return client, thread_id, widget


def _action(widget: dict[str, Any], label: str) -> dict[str, Any]:
    [button] = [c for c in widget["widget"]["children"] if c.get("label") == label]
    return {"type": button["onClickAction"]["type"], "payload": button["onClickAction"]["payload"]}


async def test_a_handled_action_runs_the_workflows_handler(http: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    client, thread_id, widget = await _card(http, fake, "refunds")
    calls = len(fake.requests)
    events = await client.stream(
        "threads.custom_action", thread_id=thread_id, item_id=widget["id"], action=_action(widget, "No")
    )
    [replaced] = [e["item"] for e in events if e["type"] == "thread.item.replaced"]
    assert replaced["id"] == widget["id"] and "Refund of A-7 cancelled for ann." in str(replaced["widget"])
    assert len(fake.requests) == calls, "a handled action asks no model"
    items = await client.call("items.list", thread_id=thread_id, limit=50, order="asc")
    assert "cancelled for ann" in str([i for i in items["data"] if i["id"] == widget["id"]])


async def test_any_other_action_reaches_the_agent_as_hidden_context(http: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    client, thread_id, widget = await _card(http, fake, "refunds")
    events = await client.stream(
        "threads.custom_action", thread_id=thread_id, item_id=widget["id"], action=_action(widget, "Yes")
    )
    assert reply_text(events) == "Refund approved."
    sent = str(fake.requests[-1].body)
    assert "clicked a widget button" in sent and "refund.approve" in sent and widget["id"] in sent
    items = await client.call("items.list", thread_id=thread_id, limit=50, order="asc")
    assert "clicked a widget button" not in str(items) + str(events), "the note is for the model only"
    await client.stream("threads.add_user_message", thread_id=thread_id, input=user_input("thanks"))
    assert "clicked a widget button" in str(fake.requests[-1].body), "the click stays in the thread's history"


async def test_a_workflow_may_keep_actions_from_its_agent(http: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    client, thread_id, widget = await _card(http, fake, "strict")
    calls = len(fake.requests)
    events = await client.stream(
        "threads.custom_action", thread_id=thread_id, item_id=widget["id"], action=_action(widget, "Yes")
    )
    [answer] = done_items(events, "assistant_message")
    assert "does not handle the action `refund.approve`" in answer["content"][0]["text"]
    assert len(fake.requests) == calls


async def test_an_action_counts_as_a_message_and_its_answer_as_model_tokens(fake: FakeOpenAI, tmp_path: Path) -> None:
    """A click stores rows and may run the agent: it counts against the messages a minute,
    and the model tokens of its answer are recorded for the daily quota."""
    settings = model_settings(tmp_path, fake.base_url, chatkit_limit_messages_per_minute=2)
    database = settings.chatkit_data_dir / "chatkit.db"

    def usage_rows() -> int:
        with sqlite3.connect(database) as conn:
            return int(conn.execute("select count(*) from chatkit_usage where user_id = 'ann'").fetchone()[0])

    async with api_with_workflows(settings, REFUNDS) as http:
        client, thread_id, widget = await _card(http, fake, "refunds")  # the first message of the minute
        before = usage_rows()
        events = await client.stream(
            "threads.custom_action", thread_id=thread_id, item_id=widget["id"], action=_action(widget, "Yes")
        )
        assert reply_text(events) == "Refund approved."
        assert usage_rows() == before + 1, "the action's answer is counted in the token quota"
        again = await client.raw(
            {
                "type": "threads.custom_action",
                "params": {
                    "thread_id": thread_id,
                    "item_id": widget["id"],
                    "action": {"type": "x" * 5000, "payload": {}},
                },
            }
        )
        assert again.status_code == 429 and again.json()["error"]["code"] == "rate_limited"


def test_the_note_bounds_what_the_browser_sent() -> None:
    from chatkit.types import ThreadMetadata

    from chatkit_app.workflows.widget_actions import MAX_PAYLOAD_CHARS, MAX_TYPE_CHARS, action_note

    class Ids:
        def generate_item_id(self, kind: str, thread: Any, context: Any) -> str:
            return "msg_1"

    thread = ThreadMetadata(id="thr_1", created_at=datetime.now())
    turn = Turn(thread=thread, message=None, context=None, store=Ids())  # type: ignore[arg-type]
    action: Action[str, Any] = Action(type="t" * 5000, payload={"p": "x" * 50_000})
    note = action_note(turn, action, None)
    assert isinstance(note.content, str)
    assert len(note.content) < MAX_TYPE_CHARS + MAX_PAYLOAD_CHARS + 200
