"""Following a streamed reply: its events applied to the window a few times a second,
the turn's lease renewed at each flush, client tools run between rounds, and what an
event says besides the messages (threads, notices, progress, a failure)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from chatkit_app.core.context import RequestContext
from chatkit_app.errors import ChatKitAppError
from chatkit_app.services import Services
from chatkit_app.ui.native.item_events import apply_event, is_text, placeholder
from chatkit_app.ui.native.protocol import stream
from chatkit_app.ui.native.turn_failures import INTERRUPTED, failure_of_error, failure_of_event
from chatkit_app.ui.native.turn_lease import new_owner
from chatkit_app.ui.native.turn_state import TurnState

FLUSH_SECONDS = 0.05
THEME_TOOL = "switch_theme"
MAX_TOOL_ROUNDS = 3

Events = AsyncGenerator[dict[str, Any], None]


class ReplyState(TurnState, mixin=True):
    _tool_call: dict[str, Any] = {}
    notice_level: str = "info"
    notice_title: str = ""
    color_scheme: str = ""  # "light" / "dark" from the theme or the agent's tool; "" = system

    if TYPE_CHECKING:  # MessageWindow's, HistoryState's and NativeChatState's
        thread_id: str
        tab_thread: str

        def _thread_created(self, thread: dict[str, Any]) -> None: ...

        def _thread_titled(self, thread_id: str, title: str) -> None: ...

    async def _context(self) -> tuple[Services, RequestContext]:
        raise NotImplementedError  # NativeChatState's

    async def _run_turn(self, start: Callable[[], Awaitable[Events | None]]) -> None:
        """One turn from start to end: the turn is taken (after a reply that streams);
        `start`, under the state lock, makes the request and returns its events (None:
        nothing to answer); the reply streams into a placeholder. A refusal (a limit, a
        quota, the session) becomes the failure card; the turn is always given back."""
        owner = new_owner()
        await self._take_turn(owner)
        try:
            async with self:
                events = await start()
                if events is None:
                    return
                self.messages = [*self.messages, placeholder()]
            await self._follow(events, owner)
        except ChatKitAppError as exc:
            async with self:
                self.failure = failure_of_error(exc)
        finally:
            async with self:
                self._give_back(owner)

    async def _follow(self, events: Events, owner: str) -> None:
        """Show a streamed reply; then run the client tools it asked for (the demo
        agent's `switch_theme`) and show what the agent says after their results. The
        turn stays `owner`'s throughout."""
        await self._follow_once(events, owner)
        for _ in range(MAX_TOOL_ROUNDS):
            async with self:
                tool_call, self._tool_call = self._tool_call, {}
                thread_id = self.thread_id
                if not tool_call or not thread_id or not self._holds(owner):
                    return
            result = await self._run_client_tool(tool_call)
            async with self:
                services, context = await self._context()
                self.messages = [*self.messages, placeholder()]
            await self._follow_once(
                stream(services, context, "threads.add_client_tool_output", thread_id=thread_id, result=result), owner
            )

    async def _run_client_tool(self, tool_call: dict[str, Any]) -> dict[str, Any]:
        arguments = tool_call.get("arguments")
        theme = arguments.get("theme") if isinstance(arguments, dict) else None
        if tool_call.get("name") == THEME_TOOL and theme in ("light", "dark"):
            async with self:
                self.color_scheme = str(theme)
            return {"ok": True, "theme": theme}
        return {"ok": False, "error": f"This page has no client tool named {tool_call.get('name')!r}."}

    async def _follow_once(self, events: Events, owner: str) -> None:
        # The stream is read by its own task, which never touches state: stopping cancels
        # it, and the server sees what it sees when an HTTP client hangs up (it saves the
        # partial answer). This loop applies what arrived a few times a second, and
        # renews the turn's lease each time (or stops, when the turn was taken over).
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
                    if not self._holds(owner):
                        return  # ended by another task as expired: this one was thought dead
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
                self.failure = failure_of_error(exc)
        except Exception:  # the store or agent failed mid-way: say so, keep what arrived
            async with self:
                self.failure = INTERRUPTED
        finally:
            if not reader.done():
                reader.cancel()
            async with self:
                if self._holds(owner):
                    self._close_reply()

    def _show(self, event: dict[str, Any]) -> None:
        """What an event changes besides the messages: threads, notices, progress, errors."""
        kind = event.get("type")
        item = event.get("item") or {}
        if item.get("type") == "client_tool_call" and kind == "thread.item.done" and item.get("status") != "completed":
            self._tool_call = item
        if kind == "thread.created":
            created = event.get("thread") or {}
            self.thread_id = self.tab_thread = created["id"]
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
            self.failure = failure_of_event(event)
        elif is_text(event) or (kind == "thread.item.added" and item.get("type") == "workflow"):
            self.progress = ""  # the answer (or the tools' block) now shows what happens
