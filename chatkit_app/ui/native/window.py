"""The native chat keeps a bounded window of a thread in Reflex state, not the thread.

Reflex keeps one copy of the state per browser tab in the backend's memory, so a thread
copied whole into `messages` costs its full size once per open tab (one 45 MB thread in 8
tabs took the server from 0.5 GB to 3.3 GB). Here a tab holds the newest `WINDOW` messages,
each cut to `MAX_CHARS` characters; older messages come a page at a time when the reader
scrolls up (at most `MAX_KEPT` in all), and one long message's whole text only when the
reader asks for it (one at a time).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import reflex as rx
from chatkit.store import NotFoundError

from chatkit_app.core.context import RequestContext
from chatkit_app.errors import ChatKitAppError
from chatkit_app.services import Services
from chatkit_app.ui.native.history_model import plausible_id
from chatkit_app.ui.native.message_model import Attachment, ChatMessage
from chatkit_app.ui.native.protocol import call, item_text
from chatkit_app.ui.native.questions import questions_message
from chatkit_app.ui.native.widgets import widget_blocks
from chatkit_app.ui.native.workflow_items import workflow_message

WINDOW = 50  # newest messages shown when a thread opens, and kept after each reply
PAGE = 50  # older messages loaded per "Load earlier messages"
MAX_KEPT = 300  # no more than this many in one tab's state, however far one scrolls
MAX_CHARS = 20_000  # a longer message is shown cut, with "Show the whole message"

logger = logging.getLogger(__name__)


def message_of(item: dict[str, Any]) -> ChatMessage | None:
    """What the UI shows of a thread item (None: not shown, e.g. a client tool call). A
    workflow item (tool calls, reasoning) is a message of its own, so it counts in the
    window like any other item of the thread."""
    kind = item.get("type")
    if kind == "user_message":
        return ChatMessage(id=item["id"], role="user", text=item_text(item), attachments=_attachments(item))
    if kind == "assistant_message":
        return ChatMessage(id=item["id"], role="assistant", text=item_text(item))
    if kind == "widget":
        widget = item.get("widget")
        widget = widget if isinstance(widget, dict) else {}
        return ChatMessage(
            id=item["id"], role="widget", text=str(item.get("copy_text") or ""), blocks=widget_blocks(widget)
        )
    if kind == "workflow":
        return workflow_message(item)
    if kind == "structured_input":
        return questions_message(item)
    return None


def _attachments(item: dict[str, Any]) -> list[Attachment]:
    return [chip(a) for a in item.get("attachments") or [] if isinstance(a, dict)]


def chip(attachment: dict[str, Any]) -> Attachment:
    """What the UI shows of a stored attachment: name, type, and an image's signed preview."""
    return Attachment(
        id=str(attachment.get("id", "")),
        name=str(attachment.get("name", "file")),
        mime=str(attachment.get("mime_type", "")),
        preview=str(attachment.get("preview_url") or ""),
    )


def cut(message: ChatMessage) -> ChatMessage:
    """The message with its text cut to MAX_CHARS (`truncated` says whether it was)."""
    if len(message.text) > MAX_CHARS:
        return replace(message, text=message.text[:MAX_CHARS], truncated=True)
    return message


def shown(items: Iterable[dict[str, Any]]) -> list[ChatMessage]:
    """Thread items (oldest first) as cut messages."""
    return [cut(m) for m in map(message_of, items) if m is not None]


class MessageWindow(rx.State, mixin=True):
    """The window's state and events; `NativeChatState` mixes it in."""

    messages: list[ChatMessage] = []
    thread_id: str = ""
    has_earlier: bool = False  # the thread has messages older than messages[0]
    whole_id: str = ""  # the one message whose whole text is shown

    @rx.var
    def first_message_id(self) -> str:
        return self.messages[0].id if self.messages else ""

    @rx.var
    def window_full(self) -> bool:
        return len(self.messages) >= MAX_KEPT

    async def _context(self) -> tuple[Services, RequestContext]:
        raise NotImplementedError  # NativeChatState's

    async def _open_window(self, services: Services, context: RequestContext, thread_id: str) -> bool:
        """The thread's newest messages; False (nothing shown) when it is gone or not ours
        (the store answers the same for both); a ChatKitAppError when it cannot be read."""
        if not plausible_id(thread_id):
            self._clear_window()
            return False
        try:
            page = await call(services, context, "items.list", thread_id=thread_id, limit=WINDOW, order="desc")
        except NotFoundError:
            self._clear_window()
            return False
        except ChatKitAppError:
            raise
        except Exception as exc:
            logger.exception("opening a thread failed")
            raise ChatKitAppError("The chat could not be opened. Try again.") from exc
        self.thread_id, self.whole_id = thread_id, ""
        self.messages = shown(reversed(page.get("data", [])))
        self.has_earlier = bool(page.get("has_more"))
        return True

    def _clear_window(self) -> None:
        self.thread_id, self.messages, self.has_earlier, self.whole_id = "", [], False, ""

    def _bound_window(self) -> None:
        """After a reply: the newest WINDOW messages, long texts cut again (the reply
        streamed in whole; the message shown whole stays whole)."""
        messages = self.messages
        if len(messages) > WINDOW:
            messages, self.has_earlier = messages[-WINDOW:], True
        self.messages = [m if m.id == self.whole_id else cut(m) for m in messages]

    @rx.event
    async def load_earlier(self, before_id: str) -> None:
        """The page of messages before `before_id`, the first one the browser shows (a
        repeated trigger for the same first message is ignored)."""
        if not self.has_earlier or not self.thread_id or before_id != self.first_message_id:
            return
        if len(self.messages) >= MAX_KEPT:
            return
        try:
            services, context = await self._context()
            page = await call(
                services, context, "items.list", thread_id=self.thread_id, after=before_id, limit=PAGE, order="desc"
            )
        except Exception:  # the session, or the cursor (deleted), is gone: nothing older to show
            self.has_earlier = False
            return
        self.messages = [*shown(reversed(page.get("data", []))), *self.messages]
        self.has_earlier = bool(page.get("has_more"))

    @rx.event
    async def show_whole(self, item_id: str) -> None:
        """One message's whole text, read from the store for this message only; the one
        shown whole before is cut again."""
        if not self.thread_id or not any(m.id == item_id for m in self.messages):
            return
        try:
            services, context = await self._context()
            item = await services.store.load_item(self.thread_id, item_id, context)
        except Exception:
            return
        whole = message_of(item.model_dump(mode="json"))
        if whole is None:
            return
        self.messages = [
            replace(whole, truncated=False, feedback=m.feedback)  # the window's own: the item has no feedback
            if m.id == item_id
            else cut(m)
            if m.id == self.whole_id
            else m
            for m in self.messages
        ]
        self.whole_id = item_id
