"""What the loopback fake model answers to a request without `stream: true`: one JSON
object, a Responses `Response` or a Chat Completions `chat.completion`, holding the same
answer a stream would (the behaviour's text, or the function calls a `ToolRule` asks for).
`Runner.run` (not streamed) asks for these, as an exported workflow's `run_workflow` does.
Pacing and the mid-stream failure modes do not apply; `status` and `hang` do (the server's).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from tests.fakes.model_streams import split_tokens
from tests.fakes.openai_payloads import function_call_item, response_object
from tests.fakes.tool_rules import answer_text, plan_calls

if TYPE_CHECKING:
    from tests.fakes.openai_server import FakeBehavior


def response_reply(body: dict[str, Any], behavior: FakeBehavior) -> dict[str, Any]:
    calls = plan_calls(behavior.tool_calls, body, behavior.parallel_tool_calls)
    if calls:
        output = [
            function_call_item(f"fc_{uuid.uuid4().hex}", c.name, c.call_id, c.arguments, "completed") for c in calls
        ]
        tokens = len(calls)
    else:
        text = answer_text(behavior.text, body)
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        message = {"type": "message", "role": "assistant", "status": "completed", "content": [part]}
        output = [{"id": f"msg_{uuid.uuid4().hex}", **message}]
        tokens = len(split_tokens(text, behavior.tokens))
    return response_object(f"resp_{uuid.uuid4().hex}", body, "completed", output, tokens)


def chat_completion_reply(body: dict[str, Any], behavior: FakeBehavior) -> dict[str, Any]:
    calls = plan_calls(behavior.tool_calls, body, behavior.parallel_tool_calls)
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if calls:
        message["tool_calls"] = [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
        ]
        tokens = len(calls)
    else:
        message["content"] = answer_text(behavior.text, body)
        tokens = len(split_tokens(message["content"], behavior.tokens))
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop", "logprobs": None}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [choice],
        "usage": {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens},
    }
