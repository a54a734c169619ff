"""A small ChatKit protocol client for tests: posts requests to /api/chatkit with a
session token and decodes the Server-Sent Events of streaming answers."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import bearer, create_session


def user_input(text: str, attachments: list[str] | None = None) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": attachments or [],
        "inference_options": {},
    }


def decode_sse(body: str) -> list[dict[str, Any]]:
    events = []
    for frame in body.split("\n\n"):
        data = [line[len("data: ") :] for line in frame.splitlines() if line.startswith("data: ")]
        if data:
            events.append(json.loads("\n".join(data)))
    return events


class Reply:
    """A streamed answer read line by line (`iter_lines`/`aiter_lines`), for tests that act
    while it streams: `read(line)` returns the line's event (None for other lines) and keeps
    the new thread's id, the text deltas so far and whether an answer was finished."""

    def __init__(self) -> None:
        self.thread_id = ""
        self.streamed = ""
        self.finished = False

    def read(self, line: str) -> dict[str, Any] | None:
        if not line.startswith("data: "):
            return None
        event: dict[str, Any] = json.loads(line[len("data: ") :])
        if event["type"] == "thread.created":
            self.thread_id = event["thread"]["id"]
        elif event["type"] == "thread.item.updated" and "delta" in event["update"]:
            self.streamed += event["update"]["delta"]
        elif event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message":
            self.finished = True
        return event


class ChatKitClient:
    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token

    @classmethod
    async def for_user(cls, http: httpx.AsyncClient, user_id: str) -> ChatKitClient:
        session = await create_session(http, user_id=user_id)
        return cls(http, session["token"])

    async def raw(self, request: dict[str, Any]) -> httpx.Response:
        return await self.http.post("/api/chatkit", json=request, headers=bearer(self.token))

    async def call(self, type_: str, **params: Any) -> Any:
        response = await self.raw({"type": type_, "params": params})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    async def stream(self, type_: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.raw({"type": type_, "params": params})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return decode_sse(response.text)

    async def new_thread(self, text: str) -> tuple[str, list[dict[str, Any]]]:
        events = await self.stream("threads.create", input=user_input(text))
        thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
        return thread_id, events


def reply_text(events: list[dict[str, Any]]) -> str:
    """The assistant's text as the client would assemble it from the deltas."""
    return "".join(
        e["update"]["delta"]
        for e in events
        if e["type"] == "thread.item.updated" and e["update"]["type"] == "assistant_message.content_part.text_delta"
    )


def done_items(events: list[dict[str, Any]], item_type: str) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == item_type]
