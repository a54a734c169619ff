"""The built-in assistant (`AgentRunner` + `assistant_workflow`) against a loopback fake of OpenAI (Responses and
Chat Completions), with the real SQLModel store and the real ChatKit server. Nothing of ours is mocked."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chatkit.actions import Action
from chatkit.errors import CustomStreamError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    InferenceOptions,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
)
from sqlalchemy import Engine

from chatkit_app.chatkit_server.server import AppChatKitServer
from chatkit_app.chatkit_server.store import SQLModelStore
from chatkit_app.core.context import RequestContext
from chatkit_app.settings import Settings
from chatkit_app.workflows.agent import Turn
from chatkit_app.workflows.agent_runner import AgentRunner
from chatkit_app.workflows.offline import OfflineAgent
from chatkit_app.workflows.openai_agent import assistant_workflow
from chatkit_app.workflows.registry import Workflow, WorkflowRegistry
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, running_fake, split_tokens

KEY = "sk-test-" + "s3cr3t" * 6
CTX = RequestContext(user_id="user-1", session_id="cks_1", workflow_id="assistant")
APIS = ["responses", "chat_completions"]
TIMEOUT = 2.0
TEXT = "The quick brown fox jumps over the lazy dog, twice and again."


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake()


@pytest.fixture
def store(engine: Engine) -> SQLModelStore:
    return SQLModelStore(engine)


def make_settings(tmp_path: Path, base_url: str, api: str = "responses", **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "chatkit_data_dir": tmp_path / "data",
        "openai_api_key": KEY,
        "openai_base_url": base_url,
        "chatkit_model": "fake-model-1",
        "chatkit_instructions": "Answer like a pirate.",
        "chatkit_openai_api": api,
        "chatkit_upstream_timeout_seconds": TIMEOUT,
        **extra,
    }
    return Settings(_env_file=None, **values)


def agent_for(tmp_path: Path, fake: FakeOpenAI, api: str) -> AgentRunner:
    settings = make_settings(tmp_path, fake.base_url, api)
    return AgentRunner(settings, assistant_workflow(settings), retry_backoff=0.05)


async def new_turn(store: SQLModelStore, text: str, history: Sequence[tuple[str, str]] = ()) -> Turn:
    thread = ThreadMetadata(id=store.generate_thread_id(CTX), created_at=datetime.now())
    await store.save_thread(thread, CTX)
    start = datetime.now() - timedelta(minutes=5)
    for index, (role, said) in enumerate(history):
        at = start + timedelta(seconds=index)
        if role == "user":
            await store.add_thread_item(thread.id, user_item(store, thread, said, at), CTX)
        else:
            item_id = store.generate_item_id("message", thread, CTX)
            content = [AssistantMessageContent(text=said)]
            assistant = AssistantMessageItem(id=item_id, thread_id=thread.id, created_at=at, content=content)
            await store.add_thread_item(thread.id, assistant, CTX)
    message = user_item(store, thread, text, datetime.now())
    await store.add_thread_item(thread.id, message, CTX)
    return Turn(thread=thread, message=message, context=CTX, store=store)


def user_item(store: SQLModelStore, thread: ThreadMetadata, text: str, at: datetime) -> UserMessageItem:
    return UserMessageItem(
        id=store.generate_item_id("message", thread, CTX),
        thread_id=thread.id,
        created_at=at,
        content=[UserMessageTextContent(text=text)],
        inference_options=InferenceOptions(),
    )


async def collect(agent: AgentRunner, turn: Turn) -> tuple[list[ThreadStreamEvent], CustomStreamError | None]:
    events: list[ThreadStreamEvent] = []
    try:
        async for event in agent.respond(turn):
            events.append(event)
    except CustomStreamError as error:
        return events, error
    return events, None


def deltas(events: list[ThreadStreamEvent]) -> list[str]:
    return [
        e.update.delta
        for e in events
        if isinstance(e, ThreadItemUpdatedEvent) and isinstance(e.update, AssistantMessageContentPartTextDelta)
    ]


def done_messages(events: list[ThreadStreamEvent]) -> list[AssistantMessageItem]:
    return [e.item for e in events if isinstance(e, ThreadItemDoneEvent) and isinstance(e.item, AssistantMessageItem)]


# --- happy path -------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
async def test_streams_the_answer_in_order(api: str, fake: FakeOpenAI, store: SQLModelStore, tmp_path: Path) -> None:
    fake.behavior = FakeBehavior(text=TEXT, tokens=12, delay=0.01)
    turn = await new_turn(store, "Tell me about foxes.")
    events, error = await collect(agent_for(tmp_path, fake, api), turn)

    assert error is None
    # Deltas that are already waiting may be merged (coalescing), never split or reordered:
    # the stream is the fake's tokens, in order, each grouped whole into some delta.
    tokens, received = split_tokens(TEXT, 12), deltas(events)
    assert "".join(received) == TEXT and len(received) >= 2
    boundaries = {sum(len(t) for t in tokens[:i]) for i in range(len(tokens) + 1)}
    assert all(sum(len(d) for d in received[:i]) in boundaries for i in range(len(received) + 1))
    [done] = done_messages(events)
    assert done.content[0].text == TEXT
    [added] = [e for e in events if isinstance(e, ThreadItemAddedEvent)]
    assert added.item.id == done.id != "__fake_id__"
    assert {e.item_id for e in events if isinstance(e, ThreadItemUpdatedEvent)} == {done.id}
    assert turn.thread.title == "Tell me about foxes."


@pytest.mark.parametrize("api", APIS)
async def test_request_carries_model_instructions_history_and_key(
    api: str, fake: FakeOpenAI, store: SQLModelStore, tmp_path: Path
) -> None:
    history = [("user", "My name is Ada."), ("assistant", "Hello Ada!")]
    turn = await new_turn(store, "What is my name?", history)
    _, error = await collect(agent_for(tmp_path, fake, api), turn)

    assert error is None
    [request] = fake.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["model"] == "fake-model-1"
    assert request.body["stream"] is True
    if api == "responses":
        assert request.path == "/v1/responses"
        assert request.body["instructions"] == "Answer like a pirate."
        said = [(m["role"], _text(m["content"])) for m in request.body["input"]]
    else:
        assert request.path == "/v1/chat/completions"
        assert request.body["messages"][0] == {"role": "system", "content": "Answer like a pirate."}
        said = [(m["role"], _text(m["content"])) for m in request.body["messages"][1:]]
    assert said == [*history, ("user", "What is my name?")]


def _text(content: str | list[dict[str, Any]]) -> str:
    return content if isinstance(content, str) else "".join(part["text"] for part in content)


@pytest.mark.parametrize("api", APIS)
async def test_answers_are_saved_with_unique_ids_across_turns(
    api: str, fake: FakeOpenAI, store: SQLModelStore, tmp_path: Path
) -> None:
    registry = WorkflowRegistry()
    agent = agent_for(tmp_path, fake, api)
    registry.register(Workflow(id="assistant", name="Assistant", chat_agent=lambda: agent))
    server = AppChatKitServer(store, registry)
    fake.behavior = FakeBehavior(text="First answer.")
    first = await process(server, {"type": "threads.create", "params": {"input": user_input("One?")}})
    thread_id = next(e["thread"]["id"] for e in first if e["type"] == "thread.created")
    fake.behavior = FakeBehavior(text="Second answer.")
    params = {"thread_id": thread_id, "input": user_input("Two?")}
    await process(server, {"type": "threads.add_user_message", "params": params})

    page = await store.load_thread_items(thread_id, None, 10, "asc", CTX)
    answers = [i for i in page.data if isinstance(i, AssistantMessageItem)]
    assert [a.content[0].text for a in answers] == ["First answer.", "Second answer."]
    assert len({a.id for a in answers}) == 2
    assert "First answer." in json.dumps(fake.requests[1].body)


# --- failures ---------------------------------------------------------------------------

SECRET_ECHO = f"Incorrect API key provided: {KEY}"  # what OpenAI-like servers may say back
CUT = " its answer was cut off."


def case(message: str, kept: int | None = None, requests: int = 1, **behavior: Any) -> tuple[Any, ...]:
    """(behavior, error message, deltas kept in the partial answer, requests the fake gets)."""
    return FakeBehavior(text=TEXT, tokens=10, **behavior), message, kept, requests


FAILURES = {
    "http_500": case("The model server returned an error (HTTP 500). Try again.", None, 3, status=500),
    "http_429": case("The model server is rate limiting requests; try again in 30 s.", status=429, retry_after=30),
    "http_401": case("The model server refused the API key (HTTP 401). Check OPENAI_API_KEY.", status=401),
    "hang": case("The model server did not answer within 2 s.", hang=True),
    "cut": case("The model's answer was cut off: the connection to the model server was lost.", 4, cut_after=4),
    "silent": case("The model stopped answering for 2 s;" + CUT, 3, hang_after=3),
    "malformed": case("The model server sent a malformed answer. Its answer was cut off.", 2, malformed_after=2),
    "stream_error": case("The model server reported an error;" + CUT, 3, failed_after=3),
}


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("mode", list(FAILURES))
async def test_upstream_failure_gives_a_clear_error(
    mode: str, api: str, fake: FakeOpenAI, store: SQLModelStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    behavior, message, kept, request_count = FAILURES[mode]
    fake.behavior = replace(behavior, error_message=SECRET_ECHO)
    started = time.monotonic()
    events, error = await collect(agent_for(tmp_path, fake, api), await new_turn(store, "hi"))
    elapsed = time.monotonic() - started

    assert error is not None and error.message == message
    assert error.allow_retry is (mode != "http_401")
    assert len(fake.requests) == request_count  # 5xx retried; 429 beyond the budget, 401 and half answers not
    assert elapsed < TIMEOUT + 1.5
    if mode in ("hang", "silent"):
        assert elapsed > TIMEOUT * 0.9
    if kept is None:
        assert events == []
    else:  # the partial answer is finished (so the server saves it) before the error
        partial = "".join(split_tokens(TEXT, 10)[:kept])
        assert isinstance(events[-1], ThreadItemDoneEvent)
        assert [m.content[0].text for m in done_messages(events)] == [partial]
        assert partial.startswith("".join(deltas(events)))  # the client may see fewer deltas than were read
    assert "s3cr3t" not in caplog.text


@pytest.mark.parametrize("api", APIS)
async def test_transient_server_error_recovers(
    api: str, fake: FakeOpenAI, store: SQLModelStore, tmp_path: Path
) -> None:
    fake.behavior = FakeBehavior(status=503, fail_times=1, text="Recovered.")
    events, error = await collect(agent_for(tmp_path, fake, api), await new_turn(store, "hi"))

    assert error is None and len(fake.requests) == 2
    assert [m.content[0].text for m in done_messages(events)] == ["Recovered."]


async def test_short_rate_limit_is_waited_out(fake: FakeOpenAI, store: SQLModelStore, tmp_path: Path) -> None:
    fake.behavior = FakeBehavior(status=429, retry_after=0, fail_times=1, text="Finally.")
    events, error = await collect(agent_for(tmp_path, fake, "responses"), await new_turn(store, "hi"))
    assert error is None and len(fake.requests) == 2
    assert done_messages(events)[0].content[0].text == "Finally."


async def test_cut_before_any_text_removes_the_empty_item(
    fake: FakeOpenAI, store: SQLModelStore, tmp_path: Path
) -> None:
    fake.behavior = FakeBehavior(text=TEXT, cut_after=0, delay=0.2)  # the added event reaches the client first
    events, error = await collect(agent_for(tmp_path, fake, "responses"), await new_turn(store, "hi"))
    assert error is not None and "cut off" in error.message
    added = [e for e in events if isinstance(e, ThreadItemAddedEvent)]
    assert isinstance(events[-1], ThreadItemRemovedEvent) and events[-1].item_id == added[0].item.id


async def test_unreachable_server(store: SQLModelStore, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make_settings(tmp_path, f"http://127.0.0.1:{port}/v1")
    agent = AgentRunner(settings, assistant_workflow(settings), retry_backoff=0.05)
    events, error = await collect(agent, await new_turn(store, "hi"))
    assert events == []
    assert error is not None and error.message == "Could not reach the model server. Try again."


@pytest.mark.parametrize("api", APIS)
async def test_chatkit_server_sends_error_event_and_saves_partial(
    api: str, fake: FakeOpenAI, store: SQLModelStore, tmp_path: Path
) -> None:
    registry = WorkflowRegistry()
    registry.register(Workflow(id="assistant", name="A", chat_agent=lambda: agent_for(tmp_path, fake, api)))
    fake.behavior = FakeBehavior(text=TEXT, tokens=10, cut_after=5)
    events = await process(
        AppChatKitServer(store, registry), {"type": "threads.create", "params": {"input": user_input("hi")}}
    )

    [error] = [e for e in events if e["type"] == "error"]
    assert error["message"].startswith("The model's answer was cut off") and error["allow_retry"] is True
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    page = await store.load_thread_items(thread_id, None, 10, "asc", CTX)
    saved = [i.content[0].text for i in page.data if isinstance(i, AssistantMessageItem)]
    assert saved == ["".join(split_tokens(TEXT, 10)[:5])]


# --- the rest of the public API -------------------------------------------------------------


def test_the_assistant_is_a_model_agent_only_with_a_model_configured(tmp_path: Path) -> None:
    offline = assistant_workflow(Settings(_env_file=None, chatkit_data_dir=tmp_path))
    assert offline.agent is None and offline.chat_agent is OfflineAgent
    keyed = assistant_workflow(make_settings(tmp_path, ""))
    assert keyed.chat_agent is None and keyed.agent is not None and keyed.agent.model == "fake-model-1"
    local = Settings(_env_file=None, chatkit_data_dir=tmp_path, openai_base_url="http://127.0.0.1:11434/v1")
    assert assistant_workflow(local).agent is not None


async def test_an_action_reaches_the_model_as_hidden_context(
    fake: FakeOpenAI, store: SQLModelStore, tmp_path: Path
) -> None:
    """The built-in assistant has no handlers of its own: a widget's click goes to the
    model, as a note it reads with the history (`widget_actions.py`)."""
    turn = await new_turn(store, "hi")
    action: Action[str, Any] = Action(type="counter.increment", payload={"by": 2})
    events = [e async for e in agent_for(tmp_path, fake, "responses").action(turn, action, None)]
    [item] = done_messages(events)
    assert item.content[0].text == "Hello from the fake model. It streams a few words."
    [request] = fake.requests
    sent = json.dumps(request.body)
    assert "clicked a widget button: action type 'counter.increment', payload {\\\"by\\\": 2}" in sent


def user_input(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}


async def process(server: AppChatKitServer, request: dict[str, Any]) -> list[dict[str, Any]]:
    result = await server.process(json.dumps(request), CTX)
    body = b"".join([chunk async for chunk in result])  # type: ignore[union-attr]
    return [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: ")]
