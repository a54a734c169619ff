"""The chat history's state: the visitor's threads, renamed and deleted through the
protocol (so ChatKit's UI sees the same)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.core.context import RequestContext
from chatkit_app.errors import ChatKitAppError
from chatkit_app.services import Services
from chatkit_app.ui.native.chat_base import ChatBase
from chatkit_app.ui.native.protocol import call

MAX_TITLE = 120
THREAD_PAGE = 50


class HistoryState(ChatBase, mixin=True):
    threads: list[dict[str, str]] = []

    async def _load_threads(self, services: Services, context: RequestContext) -> None:
        page = await call(services, context, "threads.list", limit=THREAD_PAGE, order="desc")
        self.threads = [{"id": t["id"], "title": t.get("title") or "New chat"} for t in page.get("data", [])]

    def _thread_created(self, thread: dict[str, Any]) -> None:
        self.threads = [{"id": thread["id"], "title": thread.get("title") or "New chat"}, *self.threads]

    def _thread_titled(self, thread_id: str, title: str) -> None:
        self.threads = [{**t, "title": title} if t["id"] == thread_id else t for t in self.threads]

    def _thread_gone(self, thread_id: str) -> None:
        raise NotImplementedError  # NativeChatState's (the open thread may be this one)

    @rx.event
    async def delete_thread(self, thread_id: str) -> None:
        try:
            services, context = await self._context()
            await call(services, context, "threads.delete", thread_id=thread_id)
        except ChatKitAppError as exc:
            self.error = exc.message
            return
        self.threads = [t for t in self.threads if t["id"] != thread_id]
        self._thread_gone(thread_id)

    @rx.event
    async def rename_thread(self, form: dict[str, Any]) -> None:
        thread_id = str(form.get("thread_id", ""))
        title = " ".join(str(form.get("title", "")).split())[:MAX_TITLE]
        if not title or not thread_id:
            return
        try:
            services, context = await self._context()
            await call(services, context, "threads.update", thread_id=thread_id, title=title)
        except ChatKitAppError as exc:
            self.error = exc.message
            return
        self._thread_titled(thread_id, title)
