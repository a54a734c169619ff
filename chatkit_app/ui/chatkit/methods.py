"""ChatKit's imperative methods, callable from Python event handlers:

    @rx.event
    def ask(self):
        return send_user_message("What can you do?")

Each returns an event that runs the method on the chat element in the browser (the
bridge registers every `chatkit_widget` under its `element_id`). Arguments are JSON-
encoded, so text from users cannot break out into script.
"""

from __future__ import annotations

import json
from typing import Any

import reflex as rx
from reflex.event import EventSpec

DEFAULT_ELEMENT = "chatkit"


def _call(method: str, *args: Any, element_id: str = DEFAULT_ELEMENT) -> EventSpec:
    encoded = ", ".join(json.dumps(arg) for arg in (element_id, method, *args))
    return rx.call_script(f"window.__chatkitApp && window.__chatkitApp.call({encoded})")


def send_user_message(text: str, *, new_thread: bool = False, element_id: str = DEFAULT_ELEMENT) -> EventSpec:
    params: dict[str, Any] = {"text": text}
    if new_thread:
        params["newThread"] = True
    return _call("sendUserMessage", params, element_id=element_id)


def set_thread(thread_id: str | None, *, element_id: str = DEFAULT_ELEMENT) -> EventSpec:
    """Open a thread by id; `None` starts a new one."""
    return _call("setThreadId", thread_id, element_id=element_id)


def focus_composer(*, element_id: str = DEFAULT_ELEMENT) -> EventSpec:
    return _call("focusComposer", element_id=element_id)


def set_composer_value(text: str, *, element_id: str = DEFAULT_ELEMENT) -> EventSpec:
    return _call("setComposerValue", {"text": text}, element_id=element_id)


def fetch_updates(*, element_id: str = DEFAULT_ELEMENT) -> EventSpec:
    return _call("fetchUpdates", element_id=element_id)


def send_custom_action(
    action_type: str,
    payload: dict[str, Any] | None = None,
    *,
    item_id: str | None = None,
    element_id: str = DEFAULT_ELEMENT,
) -> EventSpec:
    action: dict[str, Any] = {"type": action_type, "payload": payload or {}}
    args: tuple[Any, ...] = (action,) if item_id is None else (action, item_id)
    return _call("sendCustomAction", *args, element_id=element_id)


def show_history(*, element_id: str = DEFAULT_ELEMENT) -> EventSpec:
    return _call("showHistory", element_id=element_id)


def hide_history(*, element_id: str = DEFAULT_ELEMENT) -> EventSpec:
    return _call("hideHistory", element_id=element_id)
