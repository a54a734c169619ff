"""`NativeChatState`: the native chat's state, in Python, over our ChatKit server.

Sending runs as a background task so the stop button (and everything else) stays live
while a reply streams; deltas are flushed to the browser a few times a second, not per
token, so a long reply does not flood the websocket. A turn is owned under a lease
(turn_state.py); a backend that lost the tab's state (a restart) loads it again from the
store on the next event (`resume`, `send`), using the thread the tab had open.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from typing import Any

import reflex as rx

from chatkit_app.core.context import RequestContext
from chatkit_app.errors import ChatKitAppError
from chatkit_app.services import Services, get_services
from chatkit_app.ui.native.attach_state import AttachState
from chatkit_app.ui.native.command_tags import TAGS_FIELD, message_tags
from chatkit_app.ui.native.edit_state import COMPOSER_ID, EditState
from chatkit_app.ui.native.history_model import thread_id_of
from chatkit_app.ui.native.history_state import HistoryState
from chatkit_app.ui.native.item_events import PENDING
from chatkit_app.ui.native.message_model import ChatMessage, ModelOption
from chatkit_app.ui.native.model_choice import allowed_model, offered_models
from chatkit_app.ui.native.protocol import call, input_message, stream
from chatkit_app.ui.native.question_state import QuestionState
from chatkit_app.ui.native.reply_state import Events, ReplyState
from chatkit_app.ui.native.theme import color_scheme, theme_style
from chatkit_app.ui.native.turn_failures import NO_FAILURE
from chatkit_app.ui.native.turn_lease import expired, stale_here
from chatkit_app.ui.native.turn_rules import is_local, last_user_index, unanswered
from chatkit_app.ui.native.window import MessageWindow
from chatkit_app.ui.state import ChatSessionState, remember_visitor

MESSAGE_TYPES = ("user_message", "assistant_message")


class NativeChatState(EditState, ReplyState, HistoryState, AttachState, MessageWindow, QuestionState, rx.State):
    theme_style: dict[str, str] = {}
    models: list[ModelOption] = []  # the workflow's `composer.models`, for the picker
    model: str = ""  # the picked model's id, sent with each message ("" when none offered)
    # The thread this tab shows, kept by the browser: a backend restart loses the state,
    # not this, so the tab comes back to its thread (every use is scoped to the user).
    tab_thread: str = rx.SessionStorage("", name="chatkit_native_thread")
    draft_id: str = ""  # goes with each composer submission: the same one twice is sent once
    _last_draft: str = ""
    _loaded: bool = False  # False on a state the backend just made (first load or a restart)

    @rx.var
    def has_messages(self) -> bool:
        return bool(self.messages)

    @rx.var
    def last_message_id(self) -> str:
        return self.messages[-1].id if self.messages else ""

    @rx.var
    def awaits_answer(self) -> bool:
        """The thread ends with the user's message and nothing runs or failed: its answer
        was lost (e.g. the server restarted mid-reply); Retry is offered."""
        return unanswered(self.messages) and not self.streaming and self.failure.title == ""

    @rx.var
    def tools_running(self) -> bool:
        """A running workflow block last in the reply (above the still empty placeholder)
        shows its own spinner: no "Thinking…" under it."""
        shown = [m for m in self.messages[-2:] if m.id != PENDING or m.text]
        return bool(shown) and shown[-1].role == "workflow" and not shown[-1].done

    async def _context(self) -> tuple[Services, RequestContext]:
        session = await self.get_state(ChatSessionState)
        return get_services(), await session.chatkit_context()

    async def _load(self, thread_id: str) -> None:
        """The history, `thread_id` (if any), and the look and models of the session's
        workflow (ChatKit's theme and composer options)."""
        try:
            await self._load_now(thread_id)
        finally:
            self.opening = False  # on every path (mount, reconnect, a message after a restart)

    async def _load_now(self, thread_id: str) -> None:
        services, context = await self._context()
        ui = (await self.get_state(ChatSessionState)).workflow_ui
        theme = ui.get("theme")
        self.color_scheme, self.theme_style = color_scheme(theme), theme_style(theme)
        self.models = offered_models(ui)
        self._adopt_limits(ui)
        self.model = allowed_model(self.models, self.model)
        await self._load_threads(services, context)
        if thread_id and not (self.streaming and thread_id == self.thread_id):  # a reply streams into it
            await self._open(services, context, thread_id)
        self._loaded, self.draft_id = True, self.draft_id or secrets.token_hex(8)

    @rx.event
    async def load(self, thread_id: str = "") -> None:
        """On mount: the thread the address names (`/c/{id}`) or ChatKit had open; the
        start page (`/`) is a new chat."""
        try:
            await self._load(thread_id or self.thread_id)
        except ChatKitAppError as exc:
            self.error = exc.message

    @rx.event
    async def resume(self) -> Any:
        """After each (re)connect: a state the backend lost is loaded again (so the chat
        is not blank), and a turn whose process died is ended once its lease expires.
        Not a background task: it runs in order, before what the visitor does next."""
        if not self._loaded:
            try:
                await self._load(self.thread_id or self.tab_thread)
            except ChatKitAppError as exc:
                self.error = exc.message
        return NativeChatState.watch_lease if self.streaming else None

    @rx.event(background=True)
    async def watch_lease(self) -> None:
        await self._watch_lease()

    @rx.event
    async def open_thread(self, thread_id: str) -> AsyncGenerator[None, None]:
        if self.streaming:
            return
        self.opening = True
        yield  # the skeleton while it loads
        try:
            services, context = await self._context()
            await self._open(services, context, thread_id)
        except ChatKitAppError as exc:
            self.error = exc.message
        finally:
            self.opening = False

    async def _open(self, services: Services, context: RequestContext, thread_id: str) -> None:
        found = await self._open_window(services, context, thread_id)  # gone or someone else's: not shown
        if found:
            self.error = ""
        self._at(thread_id, found)  # the address bar; "not found" when not found
        self.tab_thread, self.editing_id = self.thread_id, ""
        self.failure = NO_FAILURE

    @rx.event
    def new_chat(self) -> None:
        """A fresh start screen; a reply still streaming is stopped (its part is kept)."""
        self._stop_requested = self.streaming
        self._clear_window()
        self.tab_thread = self.editing_id = self.error = self.progress = ""
        self.failure = NO_FAILURE
        self._at("")  # the address bar back on `/`

    def _thread_gone(self, thread_id: str) -> None:
        if self.thread_id == thread_id:
            self._clear_window()
            self.tab_thread = ""

    @rx.event
    def stop(self) -> None:
        self._stop_requested = True
        if self.streaming and (expired(self._lease, time.time()) or stale_here(self._lease)):
            self._end_stale_turn()  # nobody runs it any more: the button must not stay

    @rx.event
    def choose_model(self, model_id: str) -> None:
        self.model = allowed_model(self.models, model_id)

    @rx.event
    def send_prompt(self, text: str) -> Any:
        return NativeChatState.send({"message": text})  # type: ignore[misc]

    @rx.event(background=True)
    async def send(self, form: dict[str, Any]) -> AsyncIterator[Any]:
        """The composer's form: its text, the thread it was written in, its draft id (the
        same submission queued twice while offline is sent once) and the message it
        edits. The box is cleared only once the server has the message."""
        await remember_visitor(self)
        text = str(form.get("message", "")).strip()
        draft, edit_of = str(form.get("draft") or ""), str(form.get("edit_of") or "")
        tags = [] if edit_of else message_tags(form.get(TAGS_FIELD))  # entities picked from the "/" menu
        async with self:
            if draft and draft == self._last_draft:
                return
            attached = [] if edit_of else self.pending
            if not text and not attached and not tags:
                return
            if not edit_of:
                self.pending = []
            model = allowed_model(self.models, self.model)
            self._last_draft, self.draft_id, self.editing_id = draft, secrets.token_hex(8), ""
        yield rx.set_value(COMPOSER_ID, "")
        user = ChatMessage(
            id=f"local-user-{time.monotonic_ns()}",
            role="user",
            text="".join(t["text"] + " " for t in tags) + text,  # as the stored message reads
            attachments=attached,
            input_text=text,
            tags=tags,
        )

        async def start() -> Events | None:  # sent while a reply streams: it waits its turn
            try:
                services, context = await self._context()
                written_in, page = str(form.get("thread_id") or ""), str(form.get("page_path") or "")
                thread_id = await self._thread_written_in(services, context, written_in, thread_id_of(page))
            finally:
                if not edit_of:
                    self.messages = [*self.messages, user]
            if edit_of:
                return await self._edit_events(services, context, thread_id, edit_of, text)
            return self._message_events(services, context, thread_id, user, model)

        await self._run_turn(start)

    async def _thread_written_in(
        self, services: Services, context: RequestContext, written_in: str, page_thread: str = ""
    ) -> str:
        """Under the lock: the thread a message goes to. A state the backend lost (a
        restart) is loaded first — with the thread the page's address named when the
        message was sent (`page_thread`; the address bar, as `server_watch.jsx` puts it in
        the form), if the message left before that thread had opened; a message written
        in another thread than the one open goes there (unless it is gone or not the
        user's: then a new thread)."""
        if not self._loaded:
            await self._load(written_in or page_thread or self.tab_thread)
        elif written_in and written_in != self.thread_id:
            await self._open(services, context, written_in)
        return self.thread_id

    def _message_events(
        self, services: Services, context: RequestContext, thread_id: str, user: ChatMessage, model: str
    ) -> Events:
        """The request of a user message (one the server never saved, sent again on Retry:
        its typed text and tags; a message from history only has its text)."""
        text = user.input_text if user.input_text or user.tags else user.text
        message = input_message(text, [a.id for a in user.attachments], model, user.tags)
        if thread_id:
            return stream(services, context, "threads.add_user_message", thread_id=thread_id, input=message)
        return stream(services, context, "threads.create", input=message)

    @rx.event(background=True)
    async def retry(self) -> None:
        """A new answer to the last user message (ChatKit's retry_after_item); one the
        server never saved (refused before it started) is sent again."""
        await remember_visitor(self)

        async def start() -> Events | None:
            index = last_user_index(self.messages)
            if index is None:
                return None
            last, thread_id = self.messages[index], self.thread_id
            self.messages = self.messages[: index + 1]
            services, context = await self._context()
            model = allowed_model(self.models, self.model)
            if is_local(last.id) or not thread_id:
                return self._message_events(services, context, thread_id, last, model)
            return stream(services, context, "threads.retry_after_item", thread_id=thread_id, item_id=last.id)

        await self._run_turn(start)

    @rx.event(background=True)
    async def widget_action(self, item_id: str, action_json: str) -> None:
        """A widget's button: the action goes to the server, which may replace the widget."""
        await remember_visitor(self)
        try:
            action = json.loads(action_json)
        except ValueError:
            return
        if not isinstance(action, dict) or not action.get("type"):
            return

        async def start() -> Events | None:
            if not self.thread_id:
                return None
            services, context = await self._context()
            params = {"thread_id": self.thread_id, "item_id": item_id, "action": action}
            return stream(services, context, "threads.custom_action", **params)

        await self._run_turn(start)

    @rx.event
    async def feedback(self, item_id: str, kind: str) -> None:
        if kind not in ("positive", "negative") or not self.thread_id or item_id == PENDING:
            return
        try:
            services, context = await self._context()
            await call(services, context, "items.feedback", thread_id=self.thread_id, item_ids=[item_id], kind=kind)
        except ChatKitAppError as exc:
            self.error = exc.message
            return
        self.messages = [replace(m, feedback=kind) if m.id == item_id else m for m in self.messages]
