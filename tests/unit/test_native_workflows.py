"""The native UI's side of tool calls and model choice, without a browser: a streamed
reply's items land in their own messages, workflow tasks get their states (failed
included), and the offline agent's tools demo streams the shapes the Agents SDK runner
streams. The browser side is tests/e2e/test_native_tools.py."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from chatkit.types import InferenceOptions, ThreadMetadata, UserMessageItem, UserMessageTextContent

from chatkit_app.chatkit_server.store import SQLModelStore
from chatkit_app.core.context import RequestContext
from chatkit_app.ui.native.item_events import PENDING, apply_event
from chatkit_app.ui.native.message_model import ChatMessage
from chatkit_app.ui.native.model_choice import allowed_model, default_model, offered_models
from chatkit_app.ui.native.protocol import input_message
from chatkit_app.ui.native.window import shown
from chatkit_app.ui.native.workflow_items import settled, workflow_message
from chatkit_app.workflows.agent import Turn
from chatkit_app.workflows.offline import OfflineAgent


def _task(title: str, status: str = "loading", **extra: Any) -> dict[str, Any]:
    return {"type": "custom", "title": title, "status_indicator": status, **extra}


def _workflow(tasks: list[dict[str, Any]], **workflow: Any) -> dict[str, Any]:
    return {"id": "wf_1", "type": "workflow", "workflow": {"type": "custom", "tasks": tasks, **workflow}}


def _run(messages: list[ChatMessage], *events: dict[str, Any]) -> list[ChatMessage]:
    for event in events:
        messages = apply_event(messages, event) or messages
    return messages


def _delta(item_id: str, text: str) -> dict[str, Any]:
    update = {"type": "assistant_message.content_part.text_delta", "content_index": 0, "delta": text}
    return {"type": "thread.item.updated", "item_id": item_id, "update": update}


def _answer(item_id: str, text: str = "") -> dict[str, Any]:
    return {"id": item_id, "type": "assistant_message", "content": [{"type": "output_text", "text": text}]}


def test_a_tool_run_streams_into_its_own_block_above_the_answer() -> None:
    start = [ChatMessage(id="local-user-1", role="user", text="hi"), ChatMessage(id=PENDING, role="assistant")]
    running = _run(start, {"type": "thread.item.added", "item": _workflow([_task("Using lookup…")])})
    assert [m.role for m in running] == ["user", "workflow", "assistant"]  # above the placeholder
    block = running[1]
    assert (block.done, block.header, block.tasks[0].status) == (False, "Using lookup…", "loading")

    added = {"type": "workflow.task.added", "task_index": 1, "task": _task("Using search…")}
    ended = {"type": "workflow.task.updated", "task_index": 0, "task": _task("Used lookup", "complete")}
    failed = {"type": "workflow.task.updated", "task_index": 1, "task": _task("search failed", "complete")}
    messages = _run(running, *({"type": "thread.item.updated", "item_id": "wf_1", "update": u} for u in (added, ended)))
    assert [t.status for t in messages[1].tasks] == ["complete", "loading"]
    assert messages[1].header == "Using search…"
    messages = _run(messages, {"type": "thread.item.updated", "item_id": "wf_1", "update": failed})
    done = _workflow([_task("Used lookup", "complete"), _task("search failed", "complete")], summary={"duration": 3})
    messages = _run(messages, {"type": "thread.item.done", "item": done})
    block = messages[1]
    assert [t.status for t in block.tasks] == ["complete", "failed"]
    assert (block.done, block.header, block.failed) == (True, "Used 2 tools · 3 s · 1 failed", 1)

    messages = _run(messages, {"type": "thread.item.added", "item": _answer("msg_2")}, _delta("msg_2", "Done."))
    assert messages[-1] == ChatMessage(id="msg_2", role="assistant", text="Done.")  # the placeholder, adopted


def test_text_written_before_and_after_a_tool_call_stays_in_two_answers() -> None:
    messages = _run(
        [ChatMessage(id=PENDING, role="assistant")],
        {"type": "thread.item.added", "item": _answer("msg_1")},
        _delta("msg_1", "Let me check."),
        {"type": "thread.item.done", "item": _answer("msg_1", "Let me check.")},
        {"type": "thread.item.added", "item": _workflow([_task("Using lookup…")])},
        {"type": "thread.item.added", "item": _answer("msg_2")},
        _delta("msg_2", "It is sunny."),
    )
    assert [(m.id, m.text) for m in messages] == [
        ("msg_1", "Let me check."),
        ("wf_1", ""),
        ("msg_2", "It is sunny."),
    ]


def test_history_shows_finished_blocks_and_thoughts_and_never_a_spinner() -> None:
    thought = {"type": "thought", "content": "First the clock.", "status_indicator": "none"}
    stuck = _task("Using lookup…")  # saved while running (a reply cut off)
    failed = _task("Fetch", "complete", icon="lucide:circle-x")
    worked = _task("Used check failed logins", "complete")  # "failed" in a tool's name is no failure
    messages = shown([_workflow([thought, stuck, failed, worked])])
    block = messages[0]
    assert block.role == "workflow" and block.done and block.truncated is False
    assert [(t.kind, t.title, t.status) for t in block.tasks] == [
        ("thought", "Thought", "none"),
        ("custom", "Using lookup…", "none"),
        ("custom", "Fetch", "failed"),
        ("custom", "Used check failed logins", "complete"),
    ]
    assert block.tasks[0].content == "First the clock."
    assert block.header == "Used 3 tools · 1 failed"
    reasoning = workflow_message({"id": "wf_2", "workflow": {"type": "reasoning", "tasks": [thought]}})
    assert reasoning.header == "Thought"
    live = workflow_message(_workflow([_task("Using lookup…")]), done=False)
    assert settled(live).tasks[0].status == "none"  # a stopped reply stops its spinners


def test_a_removed_item_leaves_the_window() -> None:
    messages = [
        ChatMessage(id="msg_1", role="user", text="my card is …"),
        ChatMessage(id="msg_2", role="user", text="hi"),
    ]
    assert apply_event(messages, {"type": "thread.item.removed", "item_id": "msg_1"}) == [messages[1]]
    assert apply_event(messages, {"type": "thread.item.removed", "item_id": "msg_9"}) is None


def test_a_handoff_counts_as_a_handoff_not_as_a_tool() -> None:
    handoff = _task("Handed over to Billing agent", "complete", icon="agent")
    used = _task("Used lookup order", "complete")
    [both] = shown([_workflow([handoff, used])])
    assert [t.kind for t in both.tasks] == ["handoff", "custom"]
    assert both.header == "Used 1 tool · 1 handoff"
    [alone] = shown([_workflow([handoff])])
    assert alone.header == "Handed over to Billing agent"


def test_the_picker_offers_enabled_models_and_sends_only_those() -> None:
    ui = {
        "composer": {
            "models": [
                {"id": "fast", "label": "Fast"},
                {"id": "off", "label": "Off", "disabled": True},
                {"id": "deep", "label": "Deep", "description": "Slower", "default": True},
            ]
        }
    }
    models = offered_models(ui)
    assert [m.id for m in models] == ["fast", "deep"]
    assert default_model(models) == "deep" and default_model(models[:1]) == "fast"
    assert allowed_model(models, "fast") == "fast" and allowed_model(models, "off") == "deep"
    assert offered_models({}) == [] and allowed_model([], "fast") == ""
    assert input_message("hi", [], "fast")["inference_options"] == {"model": "fast"}
    assert input_message("hi")["inference_options"] == {}


CTX = RequestContext(user_id="u", session_id="s", workflow_id="assistant")


@pytest.fixture
def store(engine: Any) -> SQLModelStore:
    return SQLModelStore(engine)


def _turn(store: SQLModelStore, text: str, model: str | None = None) -> Turn:
    thread = ThreadMetadata(id=store.generate_thread_id(CTX), created_at=datetime.now(), title="t")
    message = UserMessageItem(
        id="msg_0",
        thread_id=thread.id,
        created_at=datetime.now(),
        content=[UserMessageTextContent(text=text)],
        inference_options=InferenceOptions(model=model),
    )
    return Turn(thread=thread, message=message, context=CTX, store=store)


async def _events(agent: OfflineAgent, turn: Turn) -> list[dict[str, Any]]:
    return [event.model_dump(mode="json") async for event in agent.respond(turn)]


def test_the_offline_tools_demo_streams_a_workflow_like_the_agent_runner(store: SQLModelStore) -> None:
    events = asyncio.run(_events(OfflineAgent(delay_per_chunk=0, tool_seconds=0), _turn(store, "/tools")))
    kinds = [(e["type"], (e.get("update") or {}).get("type") or (e.get("item") or {}).get("type")) for e in events]
    assert kinds[:7] == [
        ("progress_update", None),
        ("thread.item.added", "workflow"),
        ("thread.item.updated", "workflow.task.added"),
        ("thread.item.updated", "workflow.task.updated"),
        ("thread.item.updated", "workflow.task.added"),
        ("thread.item.updated", "workflow.task.updated"),
        ("thread.item.done", "workflow"),
    ]
    messages = _run([ChatMessage(id=PENDING, role="assistant")], *events)
    block = messages[0]
    assert [(t.kind, t.status) for t in block.tasks] == [
        ("thought", "none"),
        ("custom", "complete"),
        ("custom", "failed"),
    ]
    assert block.header == "Used 2 tools · 1 s · 1 failed"
    assert messages[-1].text.startswith("I called two demo tools")


def test_the_offline_agent_names_the_model_it_was_asked_for(store: SQLModelStore) -> None:
    agent = OfflineAgent(delay_per_chunk=0)
    with_model = asyncio.run(_events(agent, _turn(store, "hello", model="deep")))[-1]["item"]["content"][0]["text"]
    without = asyncio.run(_events(agent, _turn(store, "hello")))[-1]["item"]["content"][0]["text"]
    assert with_model.endswith("(model: deep)") and "(model:" not in without
