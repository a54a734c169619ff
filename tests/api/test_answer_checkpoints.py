"""An answer is saved while it streams: a server process killed mid-answer (SIGKILL, no
clean-up of any kind) leaves the thread with the text that had streamed up to about a
second before, and the last save of a finished answer is the whole answer."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import httpx
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
)

from bench.issuance import Server, server_env
from chatkit_app.chatkit_server.checkpoint import checkpointed
from chatkit_app.core.context import RequestContext
from chatkit_app.services import Services
from tests.api.chatkit_client import Reply, user_input


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _texts(services: Services, thread_id: str, context: RequestContext) -> list[str]:
    page = await services.store.load_thread_items(thread_id, None, 20, "asc", context)
    return ["".join(part.text for part in item.content) for item in page.data if isinstance(item, AssistantMessageItem)]


async def test_the_text_so_far_is_saved_every_interval_and_the_final_save_wins(services: Services) -> None:
    context = RequestContext(user_id="alice", session_id="s", workflow_id="assistant")
    thread = ThreadMetadata(id="thr_checkpoint", created_at=datetime.now())
    await services.store.save_thread(thread, context)
    item = AssistantMessageItem(id="msg_1", thread_id=thread.id, created_at=datetime.now(), content=[])
    clock, steps = Clock(), asyncio.Queue[ThreadStreamEvent | None]()

    async def source() -> AsyncIterator[ThreadStreamEvent]:
        while (event := await steps.get()) is not None:
            yield event

    stream = checkpointed(source(), services.store, thread, context, interval=1.0, clock=clock)

    async def step(event: ThreadStreamEvent | None, at: float) -> None:
        clock.now = at
        await steps.put(event)
        if event is not None:
            assert await anext(stream) is event  # passed on unchanged

    def delta(text: str) -> ThreadItemUpdatedEvent:
        return ThreadItemUpdatedEvent(
            item_id=item.id, update=AssistantMessageContentPartTextDelta(content_index=0, delta=text)
        )

    await step(ThreadItemAddedEvent(item=item), 0.0)
    await step(delta("Hello"), 0.5)
    assert await _texts(services, thread.id, context) == []  # not due yet
    # Asked for the next event once a second has passed: what streamed so far is saved
    # before that event is awaited (so a stall of the model cannot hold a save back).
    await step(delta(", wor"), 1.1)
    assert await _texts(services, thread.id, context) == ["Hello"]
    await step(delta("ld"), 1.2)
    await step(delta("!"), 1.9)
    assert await _texts(services, thread.id, context) == ["Hello"]  # at most once a second
    await step(delta(" More"), 2.2)
    assert await _texts(services, thread.id, context) == ["Hello, world!"]

    # The server saves the finished message once its done event comes out of the stream
    # (a save that was due happens before); no checkpoint comes after that.
    done = item.model_copy(update={"content": [AssistantMessageContent(text="Hello, world! More.")]})
    await step(ThreadItemDoneEvent(item=done), 9.0)
    await services.store.save_item(thread.id, done, context)
    await step(None, 20.0)
    assert [event async for event in stream] == []
    assert await _texts(services, thread.id, context) == ["Hello, world! More."]


async def test_a_removed_answer_is_not_saved_again(services: Services) -> None:
    context = RequestContext(user_id="alice", session_id="s", workflow_id="assistant")
    thread = ThreadMetadata(id="thr_removed", created_at=datetime.now())
    await services.store.save_thread(thread, context)
    item = AssistantMessageItem(id="msg_gone", thread_id=thread.id, created_at=datetime.now(), content=[])
    clock = Clock()
    update = AssistantMessageContentPartTextDelta(content_index=0, delta="withdrawn")

    async def source() -> AsyncIterator[ThreadStreamEvent]:
        yield ThreadItemAddedEvent(item=item)
        clock.now = 0.5
        yield ThreadItemUpdatedEvent(item_id=item.id, update=update)
        await services.store.delete_thread_item(thread.id, item.id, context)  # as the server does
        yield ThreadItemRemovedEvent(item_id=item.id)
        clock.now = 5.0
        yield ThreadItemUpdatedEvent(item_id="other", update=update)

    events = [event async for event in checkpointed(source(), services.store, thread, context, clock=clock)]
    assert len(events) == 4
    assert await _texts(services, thread.id, context) == []


async def test_an_answer_finished_by_a_replacement_is_not_overwritten(services: Services) -> None:
    """A workflow may end a message with `thread.item.replaced` (the server saves it, as for
    a done event): a save that falls due right after must not put the streamed text back."""
    context = RequestContext(user_id="alice", session_id="s", workflow_id="assistant")
    thread = ThreadMetadata(id="thr_replaced", created_at=datetime.now())
    await services.store.save_thread(thread, context)
    item = AssistantMessageItem(id="msg_replaced", thread_id=thread.id, created_at=datetime.now(), content=[])
    final = item.model_copy(update={"content": [AssistantMessageContent(text="The final answer.")]})
    clock = Clock()
    update = AssistantMessageContentPartTextDelta(content_index=0, delta="a draft")

    async def source() -> AsyncIterator[ThreadStreamEvent]:
        yield ThreadItemAddedEvent(item=item)
        clock.now = 0.5
        yield ThreadItemUpdatedEvent(item_id=item.id, update=update)
        clock.now = 1.5  # a save is due once the next event is passed on
        await services.store.save_item(thread.id, final, context)  # as the server does
        yield ThreadItemReplacedEvent(item=final)

    events = [event async for event in checkpointed(source(), services.store, thread, context, clock=clock)]
    assert len(events) == 3
    assert await _texts(services, thread.id, context) == ["The final answer."]


async def test_a_killed_server_keeps_the_answer_up_to_the_last_second(tmp_path: Path) -> None:
    api_key, data = secrets.token_urlsafe(32), tmp_path / "data"
    env = server_env(data, secrets.token_urlsafe(48), api_key)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHATKIT_WORKFLOW_MODULES"):
        env.pop(name, None)  # the offline demo agent: it echoes a long message word by word
    server = Server("bench._apps:ours", env, tmp_path / "server.log", "asyncio", "h11", None)
    words = " ".join(f"word{n}" for n in range(600))
    try:
        server.wait_ready()
        base = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            made = await http.post(
                "/api/chatkit/session",
                json={"userId": "alice", "workflowId": "assistant"},
                headers={"Authorization": f"Bearer {api_key}"},
            )
            assert made.status_code == 201, made.text
            request = {"type": "threads.create", "params": {"input": user_input(words)}}
            headers = {"Authorization": f"Bearer {made.json()['token']}"}
            reply, started = Reply(), 0.0
            received: list[tuple[float, int]] = []  # (when, characters streamed by then)
            async with http.stream("POST", "/api/chatkit", json=request, headers=headers) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    event = reply.read(line)
                    if event and event["type"] == "thread.item.updated" and "delta" in event["update"]:
                        started = started or time.monotonic()
                        received.append((time.monotonic(), len(reply.streamed)))
                        if time.monotonic() - started > 2.5:
                            os.killpg(server.process.pid, signal.SIGKILL)  # mid-answer, no clean-up
                            killed_at = time.monotonic()
                            break
            server.process.wait(timeout=10)
    finally:
        server.stop()

    thread_id, streamed = reply.thread_id, reply.streamed
    assert "word599" not in streamed  # it really was cut mid-answer
    database = sqlite3.connect(data / "chatkit.db")
    try:
        rows = database.execute(
            "SELECT data FROM chatkit_item WHERE thread_id = ? AND type = 'assistant_message'", (thread_id,)
        ).fetchall()
    finally:
        database.close()
    assert len(rows) == 1, rows
    saved = "".join(part["text"] for part in json.loads(rows[0][0])["content"])
    assert streamed.startswith(saved)  # what the visitor saw, never more
    a_second_before = max(count for when, count in received if when <= killed_at - 1.2)
    assert len(saved) >= a_second_before, (len(saved), a_second_before, len(streamed))
