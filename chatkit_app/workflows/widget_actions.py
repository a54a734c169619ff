"""Widget actions in agent workflows: a button a tool's widget showed, clicked.

A workflow answers an action type with a handler of its own (`Workflow(actions=...)`, the
same shape as a `ChatAgent.action`: it yields ChatKit events, e.g. the widget replaced by
an updated one). Any other action goes to the agent (`actions_to_agent`, on by default):
the click is written into the thread as hidden context, which the model reads with the
history, and the agent answers as it would a message. The payload comes from the browser:
handlers and agents treat it as the user's input, never as trusted data.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from chatkit.actions import Action
from chatkit.types import HiddenContextItem, ThreadStreamEvent, WidgetItem

from chatkit_app.workflows.agent import Turn

ActionHandler = Callable[[Turn, Action[str, Any], WidgetItem | None], AsyncIterator[ThreadStreamEvent]]
MAX_PAYLOAD_CHARS = 2_000  # of the payload's JSON in the note the model reads
MAX_TYPE_CHARS = 100  # of the action's type (it comes from the browser too)


def action_note(turn: Turn, action: Action[str, Any], sender: WidgetItem | None) -> HiddenContextItem:
    """The click, as hidden context for the agent (not shown to the user)."""
    payload = json.dumps(action.payload, ensure_ascii=False, default=str)
    if len(payload) > MAX_PAYLOAD_CHARS:
        payload = payload[:MAX_PAYLOAD_CHARS] + "…"
    where = f" on the widget {sender.id}" if sender is not None else ""
    kind = action.type[:MAX_TYPE_CHARS]
    return HiddenContextItem(
        id=turn.new_id("message"),
        thread_id=turn.thread.id,
        created_at=datetime.now(),
        content=f"The user clicked a widget button{where}: action type {kind!r}, payload {payload}.",
    )
