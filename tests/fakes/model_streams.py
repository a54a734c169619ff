"""What the loopback fake model streams for one request, in both APIs: Responses events
(`openai.types.responses.ResponseStreamEvent` shapes) and Chat Completions chunks
(`chat.completion.chunk`). An answer is either the behaviour's text or, when a `ToolRule`
matches the request, function calls. `paced` (the server's) applies the delay and the
mid-stream failure modes to whichever deltas the answer streams.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from tests.fakes.openai_payloads import chat_tool_call_delta, function_call_item, response_object
from tests.fakes.tool_rules import PlannedCall, answer_text, plan_calls

if TYPE_CHECKING:
    from tests.fakes.openai_server import FakeBehavior

Paced = Callable[[list[str]], AsyncIterator[tuple[int, str]]]
Event = Callable[..., dict[str, Any]]


class FailedStream(Exception):
    """Raised by `paced` where the behaviour asks for an in-stream error."""


def split_tokens(text: str, count: int | None) -> list[str]:
    if count is None:
        return re.findall(r"\S+\s*|\s+", text) or [text]
    size = max(1, -(-len(text) // max(1, count)))
    return [text[i : i + size] for i in range(0, len(text), size)]


async def response_events(
    body: dict[str, Any], behavior: FakeBehavior, paced: Paced
) -> AsyncIterator[dict[str, Any] | str]:
    calls = plan_calls(behavior.tool_calls, body, behavior.parallel_tool_calls)
    response_id = f"resp_{uuid.uuid4().hex}"
    seq = iter(range(1_000_000))

    def event(kind: str, **data: Any) -> dict[str, Any]:
        return {"type": kind, "sequence_number": next(seq), **data}

    output: list[dict[str, Any]] = []
    deltas = 0
    yield event("response.created", response=response_object(response_id, body, "in_progress", []))
    yield event("response.in_progress", response=response_object(response_id, body, "in_progress", []))
    items = (
        _call_events(calls, event, output, paced) if calls else _message_events(body, behavior, event, output, paced)
    )
    try:
        async for frame in items:
            deltas += frame["type"].endswith(".delta")
            yield frame
    except FailedStream:
        failed = response_object(response_id, body, "failed", [])
        failed["error"] = {"code": "server_error", "message": behavior.error_message}
        yield event("response.failed", response=failed)
        return
    yield event("response.completed", response=response_object(response_id, body, "completed", output, deltas))


async def _message_events(
    body: dict[str, Any], behavior: FakeBehavior, event: Event, output: list[dict[str, Any]], paced: Paced
) -> AsyncIterator[dict[str, Any]]:
    """One assistant message streaming the behaviour's text (output index 0)."""
    text = answer_text(behavior.text, body)
    item_id = f"msg_{uuid.uuid4().hex}"

    def message(status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}

    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    done_part = {**part, "text": text}
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    yield event("response.output_item.added", output_index=0, item=message("in_progress", []))
    yield event("response.content_part.added", part=part, **where)
    async for _, piece in paced(split_tokens(text, behavior.tokens)):
        yield event("response.output_text.delta", delta=piece, logprobs=[], **where)
    yield event("response.output_text.done", text=text, logprobs=[], **where)
    yield event("response.content_part.done", part=done_part, **where)
    output.append(message("completed", [done_part]))
    yield event("response.output_item.done", output_index=0, item=output[-1])


async def _call_events(
    calls: list[PlannedCall], event: Event, output: list[dict[str, Any]], paced: Paced
) -> AsyncIterator[dict[str, Any]]:
    """One `function_call` output item per call, its arguments streamed in deltas."""
    for index, call in enumerate(calls):
        item_id = f"fc_{uuid.uuid4().hex}"
        where = {"item_id": item_id, "output_index": index}
        item = function_call_item(item_id, call.name, call.call_id, "", "in_progress")
        yield event("response.output_item.added", output_index=index, item=item)
        async for _, piece in paced(argument_pieces(call.arguments)):
            yield event("response.function_call_arguments.delta", delta=piece, **where)
        yield event("response.function_call_arguments.done", arguments=call.arguments, **where)
        output.append(function_call_item(item_id, call.name, call.call_id, call.arguments, "completed"))
        yield event("response.output_item.done", output_index=index, item=output[-1])


async def chat_chunks(
    body: dict[str, Any], behavior: FakeBehavior, paced: Paced
) -> AsyncIterator[dict[str, Any] | str]:
    calls = plan_calls(behavior.tool_calls, body, behavior.parallel_tool_calls)
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time())}
    base["model"] = body.get("model", "")

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

    deltas = 0
    try:
        if calls:  # the first chunk names the call; later ones carry argument pieces
            for index, call in enumerate(calls):
                named = {"tool_calls": [chat_tool_call_delta(index, "", call.name, call.call_id)]}
                yield chunk({"role": "assistant", "content": None, **named} if index == 0 else named)
                async for _, piece in paced(argument_pieces(call.arguments)):
                    deltas += 1
                    yield chunk({"tool_calls": [chat_tool_call_delta(index, piece)]})
        else:
            yield chunk({"role": "assistant", "content": ""})
            async for _, piece in paced(split_tokens(answer_text(behavior.text, body), behavior.tokens)):
                deltas += 1
                yield chunk({"content": piece})
    except FailedStream:
        yield {"error": {"message": behavior.error_message, "type": "server_error", "code": None}}
        return
    yield chunk({}, "tool_calls" if calls else "stop")
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {"prompt_tokens": 10, "completion_tokens": deltas, "total_tokens": 10 + deltas}
        yield {**base, "choices": [], "usage": usage}
    yield "[DONE]"


def argument_pieces(arguments: str, size: int = 8) -> list[str]:
    """Function-call arguments cut into deltas, as a model streams them token by token."""
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]
