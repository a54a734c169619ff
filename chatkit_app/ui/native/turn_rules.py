"""Small decisions about the turns in a window of messages, apart from the state: which
user message a retry or an edit is about, and whether the thread waits for an answer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chatkit_app.ui.native.item_events import PENDING
from chatkit_app.ui.native.message_model import ChatMessage

LOCAL_PREFIX = "local-"


def is_local(message_id: str) -> bool:
    """Shown before the server saved it (no server id yet)."""
    return message_id.startswith(LOCAL_PREFIX)


def last_user_index(messages: list[ChatMessage]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            return index
    return None


def unanswered(messages: list[ChatMessage]) -> bool:
    """The thread ends with the user's message: its answer never came (or was lost)."""
    return bool(messages) and messages[-1].role == "user"


def editable_id(messages: list[ChatMessage]) -> str:
    """The last user message's id when it can be edited and sent again (it is saved)."""
    index = last_user_index(messages)
    if index is None or is_local(messages[index].id) or messages[index].truncated:
        return ""
    return messages[index].id


def newest_user_item(items_newest_first: list[dict[str, Any]]) -> str:
    """The id of the thread's newest user message, from thread items newest first."""
    for item in items_newest_first:
        if item.get("type") == "user_message":
            return str(item.get("id", ""))
    return ""


def without_placeholder(messages: list[ChatMessage]) -> list[ChatMessage]:
    """An empty reply placeholder goes (nothing arrived); one with text stays as the
    partial answer."""
    if messages and messages[-1].id == PENDING and not messages[-1].text:
        return messages[:-1]
    return messages


def edited(messages: list[ChatMessage], item_id: str, text: str) -> list[ChatMessage]:
    """The window once the user message `item_id` says `text` and what came after it is gone."""
    for index, message in enumerate(messages):
        if message.id == item_id:
            return [*messages[:index], replace(message, text=text)]
    return messages
