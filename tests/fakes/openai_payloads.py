"""The JSON shapes the loopback fake answers with, as OpenAI's APIs send them (checked
against `openai.types`): Responses objects and output items, Chat Completions tool-call
deltas, hosted ChatKit sessions. Kept apart from the server so benchmarks can reuse them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any


def chat_session(body: dict[str, Any]) -> dict[str, Any]:
    """A `ChatSession` (openai.types.beta.chatkit.chat_session) for a create request."""
    config = body.get("chatkit_configuration") or {}
    upload = {"enabled": False, "max_file_size": 512, "max_files": 10, **(config.get("file_upload") or {})}
    seconds = (body.get("expires_after") or {}).get("seconds", 600)
    workflow = body.get("workflow") or {}
    return {
        "id": "cksess_" + uuid.uuid4().hex,
        "object": "chatkit.session",
        "client_secret": "ek_" + uuid.uuid4().hex + uuid.uuid4().hex,
        "expires_at": int(time.time()) + seconds,
        "max_requests_per_1_minute": 10,
        "rate_limits": {"max_requests_per_1_minute": 10},
        "status": "active",
        "user": body.get("user"),
        "workflow": {
            "id": workflow.get("id"),
            "state_variables": workflow.get("state_variables"),
            "tracing": {"enabled": True},
            "version": workflow.get("version"),
        },
        "chatkit_configuration": {
            "automatic_thread_titling": {"enabled": True},
            "file_upload": upload,
            "history": {"enabled": True, "recent_threads": None},
        },
    }


def response_object(
    response_id: str, body: dict[str, Any], status: str, output: list[dict[str, Any]], tokens: int = 0
) -> dict[str, Any]:
    usage = {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 10 + tokens,
    }
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": None,
        "model": body.get("model", ""),
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage if status == "completed" else None,
        "metadata": {},
    }


def function_call_item(item_id: str, name: str, call_id: str, arguments: str, status: str) -> dict[str, Any]:
    """A Responses `function_call` output item (`ResponseFunctionToolCall`)."""
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    }


def chat_tool_call_delta(
    index: int, arguments: str, name: str | None = None, call_id: str | None = None
) -> dict[str, Any]:
    """A Chat Completions `ChoiceDeltaToolCall`: the first one names the call, later ones add arguments."""
    delta: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if name is not None:
        delta.update(id=call_id, type="function")
        delta["function"]["name"] = name
    return delta
