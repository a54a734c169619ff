"""When the loopback fake model answers with function calls instead of text.

A `ToolRule` reads the request the way a model would: which tools it is offered, what the
user last said, and which calls it already made since then. That is enough to script an
Agents SDK run end to end (a handoff is just the `transfer_to_<agent>` tool the triage
agent is offered), without the fake keeping any state between requests.
Both request dialects are read: Responses (`input` items) and Chat Completions (`messages`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TOOL_OUTPUT = "{tool_output}"  # in `FakeBehavior.text`: replaced by the last tool output since the user spoke


@dataclass(frozen=True)
class ToolRule:
    """Call `tool` with `arguments` when the request offers it, the latest user message
    contains `when` (case-insensitive; None: any message), and the input holds no call to
    `tool` since that message. `arguments` is sent as compact JSON; a str is sent verbatim
    (for malformed-arguments tests)."""

    tool: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    when: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), separators=(",", ":"))


@dataclass(frozen=True)
class PlannedCall:
    name: str
    arguments: str
    call_id: str


def plan_calls(rules: list[ToolRule], body: dict[str, Any], parallel: bool = False) -> list[PlannedCall]:
    """The calls to answer `body` with: the first matching rule, or every one if `parallel`."""
    if not rules:
        return []
    offered = offered_tools(body)
    if not offered:
        return []
    user_text, since = latest_user_turn(body)
    called = {name for name, _ in calls_and_outputs(since)[0]}
    calls: list[PlannedCall] = []
    for rule in rules:
        if rule.tool not in offered or rule.tool in called or any(c.name == rule.tool for c in calls):
            continue
        if rule.when is not None and rule.when.lower() not in user_text.lower():
            continue
        calls.append(PlannedCall(rule.tool, rule.arguments_json(), f"call_{uuid.uuid4().hex[:24]}"))
        if not parallel:
            break
    return calls


def answer_text(text: str, body: dict[str, Any]) -> str:
    """`text` with `TOOL_OUTPUT` replaced by the last tool output since the user spoke (if any)."""
    if TOOL_OUTPUT not in text:
        return text
    outputs = calls_and_outputs(latest_user_turn(body)[1])[1]
    return text.replace(TOOL_OUTPUT, outputs[-1]) if outputs else text


def offered_tools(body: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for tool in body.get("tools") or []:
        if tool.get("type") != "function":
            continue
        name = (tool.get("function") or {}).get("name") if "function" in tool else tool.get("name")
        if name:
            names.add(name)
    return names


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "messages" in body:
        return list(body["messages"])
    items = body.get("input")
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    return list(items or [])


def latest_user_turn(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The latest user message's text and the items after it."""
    items = _messages(body)
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        if item.get("role") == "user" and item.get("type", "message") == "message":
            return _text_of(item.get("content")), items[index + 1 :]
    return "", items


def calls_and_outputs(items: list[dict[str, Any]]) -> tuple[list[tuple[str, str]], list[str]]:
    """(name, arguments) of each function call and the text of each tool output in `items`."""
    calls: list[tuple[str, str]] = []
    outputs: list[str] = []
    for item in items:
        kind = item.get("type")
        if kind == "function_call":  # Responses
            calls.append((item.get("name", ""), item.get("arguments", "")))
        elif kind == "function_call_output":
            outputs.append(_text_of(item.get("output")))
        elif item.get("role") == "assistant" and item.get("tool_calls"):  # Chat Completions
            calls += [(c["function"]["name"], c["function"].get("arguments", "")) for c in item["tool_calls"]]
        elif item.get("role") == "tool":
            outputs.append(_text_of(item.get("content")))
    return calls, outputs


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""
