"""Structured questions (ChatKit's `structured_input` items) over HTTP: asked by the offline
agent or by an Agents SDK tool, answered with `threads.add_structured_input` (the request
ChatKit's UI sends), stored with the item, and read by the agent that asked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents import Agent, RunContextWrapper, function_tool
from chatkit.agents import AgentContext
from chatkit.types import (
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    ThreadItemDoneEvent,
)

from chatkit_app.workflows.registry import Workflow
from tests.api.chatkit_client import ChatKitClient, done_items, reply_text
from tests.conftest import api_with_workflows, create_session, model_settings
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, ToolRule, running_fake


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> ChatKitClient:
    return await ChatKitClient.for_user(client, "alice")


def _answers(**values: list[str]) -> dict[str, Any]:
    return {"status": "answered", "answers": {key: {"values": v} for key, v in values.items()}}


async def _asked(alice: ChatKitClient) -> tuple[str, dict[str, Any]]:
    thread_id, events = await alice.new_thread("ask me")
    [item] = done_items(events, "structured_input")
    assert item["status"] == "pending"
    return thread_id, item


async def test_the_answers_go_back_are_stored_and_the_agent_reads_them(alice: ChatKitClient) -> None:
    thread_id, item = await _asked(alice)
    kinds = [(q["id"], q["type"], q.get("multiple", False)) for q in item["inputs"]]
    assert kinds == [
        ("scheme", "multiple_choice", False),
        ("topics", "multiple_choice", True),
        ("note", "freeform", False),
    ]

    # One choice only for `scheme` (the server keeps the first), two for `topics`, `note` left out.
    events = await alice.stream(
        "threads.add_structured_input",
        thread_id=thread_id,
        item_id=item["id"],
        input=_answers(scheme=["Dark", "Light"], topics=["Widgets", "Attachments"]),
    )
    [replaced] = [e["item"] for e in events if e["type"] == "thread.item.replaced"]
    assert replaced["status"] == "answered"
    answers = {q["id"]: q["answer"] for q in replaced["inputs"]}
    assert answers == {
        "scheme": {"values": ["Dark"], "skipped": False},
        "topics": {"values": ["Widgets", "Attachments"], "skipped": False},
        "note": {"values": [], "skipped": True},
    }
    reply = reply_text(events)
    assert "**Dark**" in reply and "**Widgets, Attachments**" in reply and "(skipped)" in reply

    # Stored: a reload (items.list) shows the answered item, then the agent's summary.
    items = (await alice.call("items.list", thread_id=thread_id, order="asc"))["data"]
    assert [i["type"] for i in items] == ["user_message", "assistant_message", "structured_input", "assistant_message"]
    assert items[2]["status"] == "answered" and items[2]["inputs"][1]["answer"]["values"] == ["Widgets", "Attachments"]

    # Answered once: a second submission is refused (the item is no longer pending).
    again = await alice.raw(
        {
            "type": "threads.add_structured_input",
            "params": {"thread_id": thread_id, "item_id": item["id"], "input": _answers(scheme=["Light"])},
        }
    )
    assert again.status_code == 400 and again.json()["error"]["code"] == "question_closed"
    items = (await alice.call("items.list", thread_id=thread_id, order="asc"))["data"]
    assert items[2]["inputs"][0]["answer"]["values"] == ["Dark"]


async def test_skipping_all_is_stored_as_skipped(alice: ChatKitClient) -> None:
    thread_id, item = await _asked(alice)
    events = await alice.stream(
        "threads.add_structured_input",
        thread_id=thread_id,
        item_id=item["id"],
        input={"status": "skipped", "answers": {}},
    )
    assert "You skipped my questions" in reply_text(events)
    stored = (await alice.call("items.list", thread_id=thread_id, order="asc"))["data"][2]
    assert stored["status"] == "skipped"
    assert all(q["answer"] == {"values": [], "skipped": True} for q in stored["inputs"])


async def test_another_users_question_cannot_be_answered(client: httpx.AsyncClient, alice: ChatKitClient) -> None:
    thread_id, item = await _asked(alice)
    bob = await ChatKitClient.for_user(client, "bob")
    response = await bob.raw(
        {
            "type": "threads.add_structured_input",
            "params": {"thread_id": thread_id, "item_id": item["id"], "input": _answers(scheme=["Light"])},
        }
    )
    assert response.status_code == 404
    stored = (await alice.call("items.list", thread_id=thread_id, order="asc"))["data"][2]
    assert stored["status"] == "pending"


# -- the Agents SDK path: a tool asks, the model reads the answers ---------------------------


@function_tool
async def ask_favourite_colour(ctx: RunContextWrapper[AgentContext[Any]]) -> str:
    """Ask the user for their favourite colour."""
    agent_context = ctx.context
    await agent_context.stream(
        ThreadItemDoneEvent(
            item=StructuredInputItem(
                id=agent_context.generate_id("message"),
                thread_id=agent_context.thread.id,
                created_at=datetime.now(),
                inputs=[
                    StructuredInputMultipleChoice(
                        id="colour",
                        question="Favourite colour?",
                        options=[StructuredInputMultipleChoiceOption(value=v) for v in ("Red", "Blue")],
                    )
                ],
            )
        )
    )
    return "The question is shown; the answers come with the user's next turn."


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    rule = ToolRule(tool="ask_favourite_colour", when="which colour")
    yield from running_fake(FakeBehavior(text="Noted.", tool_calls=[rule]))


@pytest.fixture(params=["responses", "chat_completions"])
async def agent_http(
    request: pytest.FixtureRequest, fake: FakeOpenAI, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = model_settings(tmp_path, fake.base_url, request.param, chatkit_upstream_timeout_seconds=3)
    asker = Workflow(
        id="asker", name="Asker", agent=Agent(name="Asker", instructions="Ask.", tools=[ask_favourite_colour])
    )
    async with api_with_workflows(settings, asker) as http:
        yield http


async def test_an_agents_sdk_tool_asks_and_the_model_gets_the_answers(
    agent_http: httpx.AsyncClient, fake: FakeOpenAI
) -> None:
    session = await create_session(agent_http, user_id="ann", workflow_id="asker")
    ann = ChatKitClient(agent_http, session["token"])
    thread_id, events = await ann.new_thread("which colour should I pick?")
    [item] = done_items(events, "structured_input")
    calls = len(fake.requests)

    events = await ann.stream(
        "threads.add_structured_input", thread_id=thread_id, item_id=item["id"], input=_answers(colour=["Blue"])
    )
    assert reply_text(events) == "Noted."
    assert len(fake.requests) == calls + 1
    sent = str(fake.requests[-1].body.get("input") or fake.requests[-1].body.get("messages"))
    assert "<StructuredInput>" in sent and "Favourite colour?: Blue" in sent and "status: answered" in sent
