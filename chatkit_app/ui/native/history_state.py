"""The chat history's state: the visitor's threads (a page at a time), their search,
rename and delete through the protocol (so ChatKit's UI sees the same), and the address
bar, which follows the thread shown (`/c/{thread_id}`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import reflex as rx
from chatkit.store import NotFoundError

from chatkit_app.core.context import RequestContext
from chatkit_app.errors import ChatKitAppError
from chatkit_app.services import Services
from chatkit_app.ui.native.chat_base import ChatBase
from chatkit_app.ui.native.history_model import (
    THREAD_PREFIX,
    HistoryGroup,
    ThreadEntry,
    entry_of,
    group_threads,
    matches,
    query_words,
    thread_id_of,
    thread_path,
    visitor_zone,
    with_new,
)
from chatkit_app.ui.native.protocol import call

MAX_TITLE = 120
THREAD_PAGE = 50  # threads listed per page of the history
SEARCH_PAGE = 100  # threads read per query while searching
MAX_SEARCHED = 5_000  # a search reads at most this many threads (newest first)
MAX_RESULTS = 100  # and shows at most this many matches
GONE = "This chat no longer exists."


class HistoryState(ChatBase, mixin=True):
    threads: list[ThreadEntry] = []
    has_more_threads: bool = False
    history_loading: bool = True  # until the first page arrives: skeleton rows
    search: str = ""
    search_results: list[ThreadEntry] = []
    search_capped: bool = False  # more matches (or threads) than a search shows
    renaming_id: str = ""  # the entry whose title is an input
    delete_id: str = ""  # the thread the delete confirmation asks about
    not_found: bool = False  # the address named a thread that is not the visitor's
    opening: bool = True  # a thread is loading (and the first paint): a skeleton
    utc_offset_minutes: int = 0  # the browser's, for Today / Yesterday
    url_path: str = ""  # where the address bar should be ("" leaves it as it is)
    url_owner: str = ""  # the page whose address bar follows url_path (see thread_url.jsx)

    if TYPE_CHECKING:  # MessageWindow's and NativeChatState's, mixed in beside this one
        thread_id: str
        streaming: bool

        def _clear_window(self) -> None: ...

    @rx.var
    def thread_groups(self) -> list[HistoryGroup]:
        """What the list shows: the threads (or the search's matches) under date headings."""
        shown = self.search_results if self.search.strip() else self.threads
        return group_threads(shown, datetime.now(visitor_zone(self.utc_offset_minutes)))

    @rx.var
    def delete_title(self) -> str:
        return next((t.title for t in [*self.threads, *self.search_results] if t.id == self.delete_id), "")

    # --- listing --------------------------------------------------------------------
    async def _load_threads(self, services: Services, context: RequestContext) -> None:
        """The first page, when the chat mounts (a reloaded tab's "not found" goes too)."""
        self.not_found = False
        try:
            page = await call(services, context, "threads.list", limit=THREAD_PAGE, order="desc")
        finally:
            self.history_loading = False
        self.threads = [entry_of(t) for t in page.get("data", [])]
        self.has_more_threads = bool(page.get("has_more"))

    @rx.event
    async def more_threads(self) -> None:
        """The next page of the history (scrolled to its end, or "Show more")."""
        if not self.has_more_threads or not self.threads:
            return
        try:
            services, context = await self._context()
            page = await call(
                services, context, "threads.list", limit=THREAD_PAGE, order="desc", after=self.threads[-1].id
            )
        except ChatKitAppError as exc:
            self.error = exc.message
            return
        except Exception:  # the cursor thread was deleted meanwhile: start the list again
            services, context = await self._context()
            await self._load_threads(services, context)
            return
        known = {t.id for t in self.threads}
        self.threads = [*self.threads, *(entry_of(t) for t in page.get("data", []) if t["id"] not in known)]
        self.has_more_threads = bool(page.get("has_more"))

    @rx.event
    async def search_threads(self, query: str) -> None:
        """All of the visitor's threads whose title has every word of `query`, read a
        page at a time through the protocol (newest first, up to MAX_SEARCHED)."""
        query = self.search = query[:200]  # the words matched against every title
        if not query.strip():
            self.search_results, self.search_capped = [], False
            return
        try:
            services, context = await self._context()
            found: list[ThreadEntry] = []
            words = query_words(query)
            after: str | None = None
            capped = True  # unless the end of the history is reached
            for _ in range(MAX_SEARCHED // SEARCH_PAGE):
                page = await call(services, context, "threads.list", limit=SEARCH_PAGE, order="desc", after=after)
                data = page.get("data", [])
                found += [e for e in map(entry_of, data) if matches(e, words)]
                if len(found) > MAX_RESULTS:
                    break
                if not page.get("has_more") or not data:
                    capped = False
                    break
                after = data[-1]["id"]
        except ChatKitAppError as exc:
            self.error = exc.message
            return
        self.search_results, self.search_capped = found[:MAX_RESULTS], capped

    # --- what the chat tells the history ----------------------------------------------
    def _thread_created(self, thread: dict[str, Any]) -> None:
        self.threads = with_new(self.threads, entry_of(thread))
        self._at(str(thread["id"]))

    def _thread_titled(self, thread_id: str, title: str) -> None:
        def titled(entries: list[ThreadEntry]) -> list[ThreadEntry]:
            return [ThreadEntry(t.id, title, t.date) if t.id == thread_id else t for t in entries]

        self.threads, self.search_results = titled(self.threads), titled(self.search_results)

    def _thread_gone(self, thread_id: str) -> None:
        raise NotImplementedError  # NativeChatState's (the open thread may be this one)

    def _at(self, thread_id: str, found: bool = True) -> None:
        """The address bar follows the thread shown ("" = the start page); not `found`:
        the "not found" page, at the address that was asked for."""
        self.not_found = not found
        self.url_path = thread_path(thread_id)

    # --- the address bar (thread_url.jsx) ---------------------------------------------
    @rx.event
    def claim_url(self, owner: str, path: str, utc_offset_minutes: int) -> None:
        """A page (re)mounted: its address bar follows from now on, starting from where
        it is (a reloaded tab's old url_path must not move it). The start page is a new
        chat, even in a tab that had a thread open; another page (an embed) keeps its
        address."""
        self.utc_offset_minutes = utc_offset_minutes if isinstance(utc_offset_minutes, int) else 0
        if path != "/" and not path.startswith(THREAD_PREFIX):
            return
        self.url_owner, self.url_path = owner[:40], path[:300]
        if path == "/" and self.thread_id and not self.streaming:
            self._clear_window()

    @rx.event
    def follow_url(self, path: str) -> Any:
        """Back / forward in the browser: show the thread the address names."""
        if not self.url_owner:
            return None
        target = thread_id_of(path)
        self.url_path = path[:300]
        if target and (target != self.thread_id or self.not_found):
            return getattr(type(self), "open_thread")(target)  # noqa: B009  (NativeChatState's)
        if not target and (self.thread_id or self.not_found):
            return getattr(type(self), "new_chat")  # noqa: B009
        return None

    # --- rename ---------------------------------------------------------------------
    @rx.event
    def start_rename(self, thread_id: str) -> None:
        self.renaming_id = thread_id

    @rx.event
    def cancel_rename(self) -> None:
        self.renaming_id = ""

    @rx.event
    async def save_title(self, thread_id: str, title: str) -> None:
        """The inline rename's Enter (or leaving the field): an empty or unchanged title
        keeps the old one."""
        self.renaming_id = ""
        await self._rename(thread_id, title)

    @rx.event
    async def rename_thread(self, form: dict[str, Any]) -> None:
        """A form with `thread_id` and `title` (for an app's own rename form)."""
        await self._rename(str(form.get("thread_id", "")), str(form.get("title", "")))

    async def _rename(self, thread_id: str, title: str) -> None:
        title = " ".join(title.split())[:MAX_TITLE]
        current = next((t.title for t in self.threads if t.id == thread_id), None)
        if not title or not thread_id or title == current:
            return
        try:
            services, context = await self._context()
            await call(services, context, "threads.update", thread_id=thread_id, title=title)
        except NotFoundError:  # deleted meanwhile (another tab), or never the visitor's
            self.error = GONE
            self._forget(thread_id)
            return
        except ChatKitAppError as exc:
            self.error = exc.message
            return
        self._thread_titled(thread_id, title)

    # --- delete (after a confirmation) ------------------------------------------------
    @rx.event
    def ask_delete(self, thread_id: str) -> None:
        self.delete_id = thread_id

    @rx.event
    def delete_dialog_open(self, is_open: bool) -> None:
        if not is_open:
            self.delete_id = ""

    @rx.event
    async def confirm_delete(self) -> None:
        thread_id, self.delete_id = self.delete_id, ""
        if thread_id:
            await self._delete(thread_id)

    @rx.event
    async def delete_thread(self, thread_id: str) -> None:
        """Deletes at once (for an app's own button; the history asks first)."""
        await self._delete(thread_id)

    async def _delete(self, thread_id: str) -> None:
        try:
            services, context = await self._context()
            await call(services, context, "threads.delete", thread_id=thread_id)
        except NotFoundError:
            pass  # gone already: it goes from the list all the same
        except ChatKitAppError as exc:
            self.error = exc.message
            return
        self._forget(thread_id)

    def _forget(self, thread_id: str) -> None:
        active = self.thread_id == thread_id
        self.threads = [t for t in self.threads if t.id != thread_id]
        self.search_results = [t for t in self.search_results if t.id != thread_id]
        self._thread_gone(thread_id)
        if active:
            self._at("")
