"""State behind the site's chat page: what ChatKit's events told Python, and the options
Python changes while the chat runs (the colour scheme, switched by the agent's client
tool). An example of handling ChatKit's events in Python as much as the page's logic.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import EventSpec

from chatkit_app.core.context import RequestContext
from chatkit_app.core.entity_handlers import EntityRef
from chatkit_app.ui.chatkit.methods import focus_composer, set_thread

THEME_TOOL = "switch_theme"
TOPICS = {"topic-billing": "Billing", "topic-support": "Support", "topic-docs": "Docs"}


def topic_search(query: str, context: RequestContext) -> list[dict[str, Any]]:
    """ChatKit's "@" tag search, answered in Python: the demo's topics matching `query`."""
    needle = query.strip().lower()
    return [
        {"id": key, "title": title, "group": "Topics", "interactive": True, "data": {"topic": title.lower()}}
        for key, title in TOPICS.items()
        if needle in title.lower()
    ]


def topic_preview(entity: EntityRef, context: RequestContext) -> dict[str, Any] | None:
    """A tag's preview card (ChatKit shows it on hover), built on the server for the
    session's user; None for anything that is not one of the demo's topics."""
    if entity.id not in TOPICS:
        return None
    return {
        "type": "Basic",
        "direction": "col",
        "gap": 2,
        "children": [
            {"type": "Title", "value": TOPICS[entity.id], "size": "sm"},
            {"type": "Text", "value": f"Messages tagged {TOPICS[entity.id]} reach that team.", "size": "sm"},
            {"type": "Caption", "value": f"Preview for {context.user_id}"},
        ],
    }


class ChatEventsState(rx.State):
    ready: bool = False
    thread_id: str = ""
    responding: bool = False
    responses: int = 0
    last_error: str = ""
    last_effect: str = ""
    last_action: str = ""
    last_command: str = ""
    script_status: str = "loading"
    script_url: str = ""
    color_scheme: str = ""

    @rx.var
    def theme(self) -> dict[str, Any]:
        """Laid over the workflow's configured theme: the scheme the user last chose."""
        return {"colorScheme": self.color_scheme} if self.color_scheme else {}

    @rx.event
    def on_ready(self) -> None:
        self.ready = True

    @rx.event
    def on_error(self, detail: dict[str, Any]) -> None:
        self.last_error = str(detail.get("message", ""))[:300]

    @rx.event
    def on_response_start(self) -> None:
        self.responding = True

    @rx.event
    def on_response_end(self) -> None:
        self.responding = False
        self.responses += 1

    @rx.event
    def on_thread_change(self, detail: dict[str, Any]) -> None:
        self.thread_id = str(detail.get("threadId") or "")

    @rx.event
    def on_effect(self, detail: dict[str, Any]) -> None:
        self.last_effect = str(detail.get("name", ""))

    @rx.event
    def on_widget_action(self, detail: dict[str, Any]) -> None:
        action = detail.get("action")
        self.last_action = str(action.get("type", "")) if isinstance(action, dict) else ""

    @rx.event
    def on_command(self, detail: dict[str, Any]) -> None:
        """A command picked from ChatKit's "/" menu (it also does what its config says)."""
        self.last_command = str(detail.get("id", ""))[:64]

    @rx.event
    def on_client_tool(self, call: dict[str, Any]) -> None:
        """The offline agent's `switch_theme` tool: change ChatKit's colour scheme."""
        params = call.get("params")
        theme = params.get("theme") if isinstance(params, dict) else None
        if call.get("name") == THEME_TOOL and theme in ("light", "dark"):
            self.color_scheme = theme

    @rx.event
    def on_script_status(self, detail: dict[str, Any]) -> None:
        self.script_status = str(detail.get("status", ""))
        self.script_url = str(detail.get("url", ""))

    @rx.event
    def new_chat(self) -> list[EventSpec]:
        """ChatKit's imperative methods, called from Python: a new thread, cursor ready."""
        self.thread_id = ""
        return [set_thread(None), focus_composer()]
