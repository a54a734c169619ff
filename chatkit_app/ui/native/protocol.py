"""The native UI speaks the ChatKit protocol to our own ChatKit server, in-process: the
same request types, the same store, the same user scoping as `POST /api/chatkit`, so
both UIs show the same threads. Only the HTTP hop is skipped."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from chatkit.server import StreamingResult

from chatkit_app.chatkit_server.server import CHATKIT_REQUEST
from chatkit_app.core.context import RequestContext
from chatkit_app.services import Services


def _request(type_: str, params: dict[str, Any]) -> Any:
    return CHATKIT_REQUEST.validate_python({"type": type_, "params": params})


async def call(services: Services, context: RequestContext, type_: str, **params: Any) -> dict[str, Any]:
    """A non-streaming request (`threads.list`, `items.list`, `threads.update`, ...)."""
    result = await services.chatkit.process_request(_request(type_, params), context)
    if isinstance(result, StreamingResult):
        raise TypeError(f"{type_} streams; use stream()")
    answer: dict[str, Any] = json.loads(result.json) if result.json else {}
    return answer


async def stream(
    services: Services, context: RequestContext, type_: str, **params: Any
) -> AsyncGenerator[dict[str, Any], None]:
    """A streaming request's events, decoded from the server's SSE frames. Closing the
    iterator early cancels the response like a client hanging up (the partial answer
    is saved by the server)."""
    result = await services.chatkit.process_request(_request(type_, params), context)
    if not isinstance(result, StreamingResult):
        raise TypeError(f"{type_} does not stream; use call()")
    chunks = result.json_events
    try:
        async for chunk in chunks:
            for frame in chunk.split(b"\n\n"):
                if frame.startswith(b"data: "):
                    yield json.loads(frame[6:])
    finally:
        await chunks.aclose()


def input_message(
    text: str, attachments: list[str] | None = None, model: str = "", tags: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A user message; `model` (the composer's choice) goes in its inference options, as
    ChatKit's model picker sends it, and stays with the stored message (a retry reuses it);
    `tags` (`input_tag` contents, from the "/" menu) go before the text, as ChatKit sends them."""
    return {
        "content": [*(tags or []), {"type": "input_text", "text": text}],
        "attachments": attachments or [],
        "inference_options": {"model": model} if model else {},
    }


def item_text(item: dict[str, Any]) -> str:
    """The text of a user or assistant message item (a tag's text and a space first)."""
    parts = [part for part in item.get("content", []) if isinstance(part, dict)]
    return "".join(str(p.get("text", "")) + (" " if p.get("type") == "input_tag" else "") for p in parts)
