"""A streamed reply applied to the window's messages, one thread item at a time.

One reply can hold several items: an answer, a workflow (the agent's tool calls), then
another answer written after the tools ran, widgets between them. Each item is matched
by its id, so text deltas land in their own answer and a workflow's task updates in their
own block. The reply starts as a `PENDING` placeholder at the end of the list: the first
answer takes it over (and its server id, which feedback and retry need), and items that
arrive before any answer go above it, where they belong in the thread.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chatkit_app.ui.native.message_model import ChatMessage
from chatkit_app.ui.native.protocol import item_text
from chatkit_app.ui.native.questions import questions_message
from chatkit_app.ui.native.window import cut, message_of
from chatkit_app.ui.native.workflow_items import apply_task_update, workflow_message

PENDING = "pending"
TEXT_DELTA = "assistant_message.content_part.text_delta"
TASK_UPDATES = ("workflow.task.added", "workflow.task.updated")


def placeholder() -> ChatMessage:
    """The reply's answer before anything of it arrived."""
    return ChatMessage(id=PENDING, role="assistant")


def apply_event(messages: list[ChatMessage], event: dict[str, Any]) -> list[ChatMessage] | None:
    """The messages after `event`; None when it changes none of them."""
    kind = event.get("type")
    item = event.get("item")
    item = item if isinstance(item, dict) else {}
    item_type = item.get("type")
    if kind in ("thread.item.added", "thread.item.done"):
        if item_type == "user_message":
            return _adopt_user_id(messages, str(item["id"]))
        if item_type == "assistant_message":
            return _put_answer(messages, item, done=kind == "thread.item.done")
    if item_type == "workflow" and kind in ("thread.item.added", "thread.item.done", "thread.item.replaced"):
        return _put(messages, workflow_message(item, done=kind != "thread.item.added"))
    if item_type == "structured_input" and kind in ("thread.item.done", "thread.item.replaced"):
        return _put(messages, questions_message(item))
    if item_type == "widget" and kind in ("thread.item.done", "thread.item.replaced"):
        widget = message_of(item)
        return _put(messages, cut(widget)) if widget is not None else None
    if kind == "thread.item.removed":
        index = _find(messages, str(event.get("item_id", "")))
        return [*messages[:index], *messages[index + 1 :]] if index is not None else None
    if kind == "thread.item.updated":
        update = event.get("update")
        update = update if isinstance(update, dict) else {}
        item_id = str(event.get("item_id", ""))
        if update.get("type") == TEXT_DELTA:
            return _add_text(messages, item_id, str(update.get("delta", "")))
        if update.get("type") in TASK_UPDATES:
            index = _find(messages, item_id)
            if index is None or messages[index].role != "workflow":
                return None
            return _replace(messages, index, apply_task_update(messages[index], update))
    return None


def is_text(event: dict[str, Any]) -> bool:
    """Whether the event brings answer text (a progress line has then had its time)."""
    update = event.get("update")
    return isinstance(update, dict) and update.get("type") == TEXT_DELTA


def _find(messages: list[ChatMessage], item_id: str) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].id == item_id:
            return index
    return None


def _replace(messages: list[ChatMessage], index: int, message: ChatMessage) -> list[ChatMessage]:
    return [*messages[:index], message, *messages[index + 1 :]]


def _adopt_user_id(messages: list[ChatMessage], item_id: str) -> list[ChatMessage] | None:
    """The user's message, shown before the server saved it, gets its id."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.role == "user":
            if message.id.startswith("local-"):
                return _replace(messages, index, replace(message, id=item_id))
            return None
    return None


def _answer_slot(messages: list[ChatMessage], item_id: str) -> int | None:
    """Where an answer goes: its own message, else the reply's placeholder."""
    index = _find(messages, item_id)
    if index is None and messages and messages[-1].id == PENDING:
        index = len(messages) - 1
    return index


def _put_answer(messages: list[ChatMessage], item: dict[str, Any], *, done: bool) -> list[ChatMessage]:
    item_id, text = str(item["id"]), item_text(item)
    index = _answer_slot(messages, item_id)
    if index is None:
        return [*messages, ChatMessage(id=item_id, role="assistant", text=text)]
    message = messages[index]
    return _replace(messages, index, replace(message, id=item_id, text=text if done or text else message.text))


def _add_text(messages: list[ChatMessage], item_id: str, delta: str) -> list[ChatMessage]:
    index = _answer_slot(messages, item_id)
    if index is None:
        return [*messages, ChatMessage(id=item_id, role="assistant", text=delta)]
    message = messages[index]
    return _replace(messages, index, replace(message, text=message.text + delta))


def _put(messages: list[ChatMessage], message: ChatMessage) -> list[ChatMessage]:
    """A widget or workflow: replaced in place, else added above the reply's placeholder
    (it came before any answer), else at the end."""
    index = _find(messages, message.id)
    if index is not None:
        return _replace(messages, index, message)
    at = len(messages) - 1 if messages and messages[-1].id == PENDING else len(messages)
    return [*messages[:at], message, *messages[at:]]
