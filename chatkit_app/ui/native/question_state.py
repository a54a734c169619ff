"""The native chat's answers to an agent's structured question: sent with
`threads.add_structured_input`, the request ChatKit's UI sends, and streamed back like any
turn (the server replaces the item with its answered copy, then the agent goes on).
`NativeChatState` mixes it in and supplies the turn machinery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import reflex as rx

from chatkit_app.core.context import RequestContext
from chatkit_app.services import Services
from chatkit_app.ui.native.message_model import ChatMessage
from chatkit_app.ui.native.protocol import stream
from chatkit_app.ui.native.questions import ITEM_FIELD, skip_all, submission
from chatkit_app.ui.native.reply_state import Events
from chatkit_app.ui.state import remember_visitor


class QuestionState(rx.State, mixin=True):
    answering: str = ""  # the id of the question whose answers are on their way

    @rx.event(background=True)
    async def answer_questions(self, form: dict[str, Any]) -> None:
        """The question's form, sent: its item is named in the form itself."""
        await self._send_answers(str(form.get(ITEM_FIELD, "")), form)

    @rx.event(background=True)
    async def skip_questions(self, item_id: str) -> None:
        await self._send_answers(item_id, None)

    async def _send_answers(self, item_id: str, form: dict[str, Any] | None) -> None:
        await remember_visitor(self)
        async with self:
            asked = next((m for m in self.messages if m.id == item_id and m.role == "questions"), None)
            if asked is None or asked.status != "pending" or self.answering:
                return
            self.answering = item_id

        async def start() -> Events | None:
            if not self.thread_id:
                return None
            services, context = await self._context()
            request = {"thread_id": self.thread_id, "item_id": item_id, "input": answers}
            return stream(services, context, "threads.add_structured_input", **request)

        try:  # the question is free again however this ends (a malformed form too)
            answers = skip_all() if form is None else submission(asked, form)
            await self._run_turn(start)
        finally:
            async with self:
                self.answering = ""

    if TYPE_CHECKING:  # NativeChatState's (the window and the turn)
        messages: list[ChatMessage]
        thread_id: str

        async def _context(self) -> tuple[Services, RequestContext]: ...

        async def _run_turn(self, start: Callable[[], Awaitable[Events | None]]) -> None: ...
