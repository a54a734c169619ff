"""`NativeChatState`: the native chat's state, in Python, over our ChatKit server.

Sending runs as a background task so the stop button (and everything else) stays live
while a reply streams; deltas are flushed to the browser a few times a second, not per
token, so a long reply does not flood the websocket.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator
from typing import Any

import reflex as rx

from chatkit_app.core.context import RequestContext
from chatkit_app.errors import ChatKitAppError
from chatkit_app.services import Services, get_services
from chatkit_app.ui.native.attach_state import AttachState
from chatkit_app.ui.native.command_tags import TAGS_FIELD, message_tags
from chatkit_app.ui.native.history_state import HistoryState
from chatkit_app.ui.native.item_events import PENDING, apply_event, is_text
from chatkit_app.ui.native.model_choice import allowed_model, offered_models
from chatkit_app.ui.native.protocol import call, input_message, stream
from chatkit_app.ui.native.question_state import QuestionState
from chatkit_app.ui.native.theme import color_scheme, theme_style
from chatkit_app.ui.native.window import MessageWindow
from chatkit_app.ui.native.workflow_items import settled
from chatkit_app.ui.state import ChatSessionState, remember_visitor

FLUSH_SECONDS = 0.05
THEME_TOOL = "switch_theme"
MAX_TOOL_ROUNDS = 3
MESSAGE_TYPES = ("user_message", "assistant_message")
QUEUE_POLL_SECONDS = 0.05


class NativeChatState(HistoryState, AttachState, MessageWindow, QuestionState, rx.State):
    streaming: bool = False
    progress: str = ""
    _stop_requested: bool = False
    _tool_call: dict[str, Any] = {}
    notice: str = ""  # an agent's notice (info / warning / danger), shown until the next message
    notice_level: str = "info"
    notice_title: str = ""
    color_scheme: str = ""  # "light" / "dark" from the theme or the agent's tool; "" = system
    theme_style: dict[str, str] = {}
    models: list[dict[str, str]] = []  # the workflow's `composer.models`, for the picker
    model: str = ""  # the picked model's id, sent with each message ("" when none offered)

    @rx.var
    def has_messages(self) -> bool:
        return bool(self.messages)

    @rx.var
    def last_message_id(self) -> str:
        return self.messages[-1]["id"] if self.messages else ""

    @rx.var
    def tools_running(self) -> bool:
        """A running workflow block last in the reply (above the still empty placeholder)
        shows its own spinner: no "Thinking…" under it."""
        shown = [m for m in self.messages[-2:] if m["id"] != PENDING or m["text"]]
        return bool(shown) and shown[-1]["role"] == "workflow" and not shown[-1]["done"]

    async def _context(self) -> tuple[Services, RequestContext]:
        session = await self.get_state(ChatSessionState)
        return get_services(), await session.chatkit_context()

    @rx.event
    async def load(self, thread_id: str = "") -> None:
        """On mount: the history, the thread ChatKit had open (if any), and the look and
        the models of the session's workflow (ChatKit's theme and composer options)."""
        try:
            services, context = await self._context()
            ui = (await self.get_state(ChatSessionState)).workflow_ui
            theme = ui.get("theme")
            self.color_scheme, self.theme_style = color_scheme(theme), theme_style(theme)
            self.models = offered_models(ui)
            self._adopt_limits(ui)
            self.model = allowed_model(self.models, self.model)
            await self._load_threads(services, context)
            if (thread_id or self.thread_id) and not (self.streaming and thread_id in ("", self.thread_id)):
                await self._open(services, context, thread_id or self.thread_id)
        except ChatKitAppError as exc:
            self.error = exc.message
        finally:
            self.opening = False

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

    @rx.event
    def new_chat(self) -> None:
        """A fresh start screen; a reply still streaming is stopped (its part is kept)."""
        self._stop_requested = self.streaming
        self._clear_window()
        self.error, self.progress = "", ""
        self._at("")  # the address bar back on `/`

    def _thread_gone(self, thread_id: str) -> None:
        if self.thread_id == thread_id:
            self._clear_window()

    @rx.event
    def stop(self) -> None:
        self._stop_requested = True

    @rx.event
    def choose_model(self, model_id: str) -> None:
        self.model = allowed_model(self.models, model_id)

    @rx.event
    def send_prompt(self, text: str) -> Any:
        return NativeChatState.send({"message": text})  # type: ignore[misc]

    async def _take_turn(self) -> None:
        """Wait for the reply that is streaming (if any) to end, then own the next one."""
        while True:
            async with self:
                if not self.streaming:
                    self.streaming = True
                    self._stop_requested, self.error, self.progress, self.notice = False, "", "", ""
                    return
            await asyncio.sleep(QUEUE_POLL_SECONDS)

    @rx.event(background=True)
    async def send(self, form: dict[str, Any]) -> None:
        await remember_visitor(self)
        text = str(form.get("message", "")).strip()
        tags = message_tags(form.get(TAGS_FIELD))  # entities picked from the "/" menu
        async with self:
            attached, self.pending = self.pending, []
            model = allowed_model(self.models, self.model)
        if not text and not attached and not tags:
            return
        await self._take_turn()  # sent while a reply streams (the composer was cleared): queued
        async with self:
            self.messages = [
                *self.messages,
                {
                    "id": f"local-user-{time.monotonic_ns()}",
                    "role": "user",
                    "text": "".join(t["text"] + " " for t in tags) + text,
                    "attachments": attached,
                },
            ]
            thread_id = self.thread_id
            opened = await self._open_reply()
        if opened is None:
            return
        services, context = opened
        message = input_message(text, [a["id"] for a in attached], model, tags)
        if thread_id:
            events = stream(services, context, "threads.add_user_message", thread_id=thread_id, input=message)
        else:
            events = stream(services, context, "threads.create", input=message)
        await self._follow(events)

    @rx.event(background=True)
    async def retry(self) -> None:
        """A new answer to the last user message (ChatKit's retry_after_item)."""
        await remember_visitor(self)
        await self._take_turn()
        async with self:
            users = [i for i, m in enumerate(self.messages) if m["role"] == "user" and not m["id"].startswith("local-")]
            if not users or not self.thread_id:
                self.streaming = False
                return
            last = users[-1]
            item_id, thread_id = self.messages[last]["id"], self.thread_id
            self.messages = self.messages[: last + 1]
            opened = await self._open_reply()
        if opened is None:
            return
        services, context = opened
        await self._follow(stream(services, context, "threads.retry_after_item", thread_id=thread_id, item_id=item_id))

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
        await self._take_turn()
        async with self:
            thread_id = self.thread_id
            if not thread_id:
                self.streaming = False
                return
            opened = await self._open_reply()
        if opened is None:
            return
        services, context = opened
        await self._follow(
            stream(services, context, "threads.custom_action", thread_id=thread_id, item_id=item_id, action=action)
        )

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
        self.messages = [{**m, "feedback": kind} if m["id"] == item_id else m for m in self.messages]

    async def _follow(self, events: AsyncGenerator[dict[str, Any], None]) -> None:
        """Show a streamed reply; then run the client tools it asked for (the demo
        agent's `switch_theme`) and show what the agent says after their results."""
        await self._follow_once(events)
        for _ in range(MAX_TOOL_ROUNDS):
            async with self:
                call, self._tool_call = self._tool_call, {}
                thread_id = self.thread_id
            if not call or not thread_id:
                return
            result = await self._run_client_tool(call)
            await self._take_turn()
            async with self:
                opened = await self._open_reply()
            if opened is None:
                return
            services, context = opened
            await self._follow_once(
                stream(services, context, "threads.add_client_tool_output", thread_id=thread_id, result=result)
            )

    async def _open_reply(self) -> tuple[Services, RequestContext] | None:
        """Under the state lock, with the turn taken: the placeholder the reply streams
        into, and the protocol context; None (turn given back, error shown) when the
        session cannot be used."""
        self.messages = [*self.messages, {"id": PENDING, "role": "assistant", "text": ""}]
        try:
            return await self._context()
        except ChatKitAppError as exc:
            self.streaming, self.error = False, exc.message
            self.messages = self.messages[:-1]
            return None

    async def _run_client_tool(self, call: dict[str, Any]) -> dict[str, Any]:
        arguments = call.get("arguments")
        theme = arguments.get("theme") if isinstance(arguments, dict) else None
        if call.get("name") == THEME_TOOL and theme in ("light", "dark"):
            async with self:
                self.color_scheme = str(theme)
            return {"ok": True, "theme": theme}
        return {"ok": False, "error": f"This page has no client tool named {call.get('name')!r}."}

    async def _follow_once(self, events: AsyncGenerator[dict[str, Any], None]) -> None:
        # The stream is read by its own task, which never touches state: stopping cancels
        # it, and the server sees what it sees when an HTTP client hangs up (it saves the
        # partial answer). This loop applies what arrived, a few times a second.
        arrived: list[dict[str, Any]] = []

        async def read() -> None:
            async for event in events:
                arrived.append(event)

        reader = asyncio.create_task(read())
        try:
            while True:
                finished = reader.done()
                batch = arrived[:]
                del arrived[:]
                async with self:
                    messages = self.messages
                    for event in batch:
                        messages = apply_event(messages, event) or messages
                        self._show(event)
                    if messages is not self.messages:
                        self.messages = messages
                    stop = self._stop_requested
                if finished:
                    break
                if stop:
                    reader.cancel()
                await asyncio.wait({reader}, timeout=FLUSH_SECONDS)
            if not reader.cancelled() and reader.exception() is not None:
                raise reader.exception()  # type: ignore[misc]
        except ChatKitAppError as exc:  # refused before it started (a rate limit, a quota): say why
            async with self:
                self.error = exc.message
        except Exception:  # the store or agent failed mid-way: say so, keep what arrived
            async with self:
                self.error = "The reply was interrupted; what arrived is kept. Try again."
        finally:
            if not reader.done():
                reader.cancel()
            async with self:
                self._end_reply()

    def _end_reply(self) -> None:
        """The reply is over (done, stopped or failed): an empty placeholder goes, no
        workflow keeps spinning, the window is bounded again."""
        messages = [settled(m) if m["role"] == "workflow" and not m["done"] else m for m in self.messages]
        if messages and messages[-1]["role"] == "assistant" and not messages[-1]["text"]:
            messages = messages[:-1]  # nothing arrived (a tool call, an error)
        self.messages = messages
        self._bound_window()
        self.streaming, self.progress = False, ""

    def _show(self, event: dict[str, Any]) -> None:
        """What an event changes besides the messages: threads, notices, progress, errors."""
        kind = event.get("type")
        item = event.get("item") or {}
        if item.get("type") == "client_tool_call" and kind == "thread.item.done" and item.get("status") != "completed":
            self._tool_call = item
        if kind == "thread.created":
            created = event.get("thread") or {}
            self.thread_id = created["id"]
            self._thread_created(created)
        if kind == "thread.updated" and (title := (event.get("thread") or {}).get("title")):
            self._thread_titled(self.thread_id, title)
        if kind == "notice":
            self.notice = str(event.get("message", ""))[:500]
            self.notice_level = str(event.get("level", "info"))
            self.notice_title = str(event.get("title") or "")[:120]
        if kind == "progress_update":
            self.progress = str(event.get("text", ""))
        elif kind == "error":
            self.error = str(event.get("message") or "The assistant could not answer.")
        elif is_text(event) or (kind == "thread.item.added" and item.get("type") == "workflow"):
            self.progress = ""  # the answer (or the tools' block) now shows what happens
