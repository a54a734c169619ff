"""The history's rules: date groups on the visitor's clock, the search match, thread
addresses; and its state's paging, search, rename and delete against a real ChatKit
server and SQLite store (another user's threads never show)."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from chatkit.types import ThreadMetadata

from chatkit_app.core.context import RequestContext
from chatkit_app.services import Services
from chatkit_app.ui.native import history_state
from chatkit_app.ui.native.history_model import (
    ThreadEntry,
    entry_of,
    group_label,
    group_threads,
    matches,
    plausible_id,
    query_words,
    thread_id_of,
    thread_path,
    visitor_zone,
    with_new,
)
from chatkit_app.ui.native.history_state import HistoryState
from chatkit_app.ui.native.message_model import ChatMessage
from chatkit_app.ui.native.window import MessageWindow

BERLIN_SUMMER = timezone(timedelta(hours=2))
NOW = datetime(2026, 6, 10, 0, 30, tzinfo=BERLIN_SUMMER)  # 22:30 UTC the day before


def _at(days: float, hours: float = 0) -> str:
    return (NOW - timedelta(days=days, hours=hours)).astimezone(UTC).isoformat()


def test_threads_are_grouped_by_the_visitors_calendar_day() -> None:
    threads = [
        ThreadEntry("a", "just now", _at(0)),
        ThreadEntry("b", "at midnight", _at(0, hours=0.5)),  # 00:00 local: still today
        ThreadEntry("c", "late yesterday", _at(0, hours=1)),  # 23:30 local, yesterday
        ThreadEntry("d", "two days", _at(2)),
        ThreadEntry("e", "a week", _at(7)),
        ThreadEntry("f", "eight days", _at(8)),
        ThreadEntry("g", "last year", _at(400)),
    ]
    groups = group_threads(threads, NOW)
    assert [(g.label, [t.id for t in g.threads]) for g in groups] == [
        ("Today", ["a", "b"]),
        ("Yesterday", ["c"]),
        ("Previous 7 days", ["d", "e"]),
        ("Older", ["f", "g"]),
    ]


def test_the_same_moment_is_today_or_yesterday_depending_on_the_zone() -> None:
    stamp = "2026-06-09T23:00:00+00:00"
    assert group_label(stamp, NOW) == "Today"  # 01:00 on the 10th in Berlin
    seen_next_day_in_utc = datetime(2026, 6, 10, 8, tzinfo=UTC)
    assert group_label(stamp, seen_next_day_in_utc) == "Yesterday"


def test_empty_groups_are_left_out_and_odd_dates_count_as_today() -> None:
    groups = group_threads([ThreadEntry("x", "no date", ""), ThreadEntry("y", "future", _at(-3))], NOW)
    assert [(g.label, len(g.threads)) for g in groups] == [("Today", 2)]
    assert group_threads([], NOW) == []
    naive = (NOW - timedelta(days=1)).astimezone(UTC).replace(tzinfo=None).isoformat()
    assert group_label(naive, NOW) == "Yesterday"  # a date without zone is UTC


def test_the_browsers_offset_becomes_the_zone() -> None:
    assert visitor_zone(-120) == BERLIN_SUMMER  # getTimezoneOffset() is minutes behind UTC
    assert visitor_zone(300).utcoffset(None) == timedelta(hours=-5)
    assert visitor_zone(99_999) == UTC


def test_search_needs_every_word_in_the_title_in_any_case() -> None:
    entry = ThreadEntry("t", "Quarterly Budget review", "")
    assert matches(entry, query_words("budget")) and matches(entry, query_words("  REVIEW quarterly "))
    assert not matches(entry, query_words("budget plan"))


def test_a_thread_has_an_address_and_only_plausible_ids_are_read_from_one() -> None:
    assert thread_path("thr_abc-D_9") == "/c/thr_abc-D_9" and thread_path("") == "/"
    assert thread_id_of("/c/thr_abc-D_9") == "thr_abc-D_9" and thread_id_of("/c/thr_x/") == "thr_x"
    for path in ("/", "/c/", "/embed/assistant", "/c/a/b", "/c/../x", "/c/" + "x" * 101, "/c/thr%20x"):
        assert thread_id_of(path) == "", path
    assert not plausible_id("") and not plausible_id("thr_1; DROP") and plausible_id("thr_" + "A" * 22)


def test_a_protocol_thread_becomes_an_entry() -> None:
    entry = entry_of({"id": "thr_1", "title": None, "created_at": "2026-06-01T10:00:00Z"})
    assert entry == ThreadEntry("thr_1", "New chat", "2026-06-01T10:00:00Z")


def test_a_new_thread_is_listed_once_even_when_a_history_page_brought_it_first() -> None:
    old, new = ThreadEntry("thr_old", "Old", "2026-06-01"), ThreadEntry("thr_new", "New chat", "2026-06-02")
    assert with_new([old], new) == [new, old]
    assert with_new([new, old], new) == [new, old]  # the page that loaded meanwhile had it


# --- the state's logic against a real server --------------------------------------------


class History:
    """HistoryState's (and the window's) logic on a plain object: a Reflex state needs a
    running app; the protocol, server and store here are the real ones."""

    def __init__(self, services: Services, context: RequestContext) -> None:
        self._services, self._ctx = services, context
        self.error, self.thread_id, self.streaming = "", "", False
        self.messages: list[ChatMessage] = []
        self.has_earlier, self.whole_id = False, ""
        self.gone: list[str] = []
        for name, value in vars(HistoryState).items():
            if inspect.isfunction(value) and name != "_thread_gone" and not name.startswith("__"):
                setattr(self, name, value.__get__(self))
        self.threads, self.search_results, self.search, self.not_found = [], [], "", False
        self.has_more_threads, self.search_capped, self.renaming_id, self.delete_id = False, False, "", ""
        self.url_path = ""
        for name in ("_open_window", "_clear_window"):
            setattr(self, name, getattr(MessageWindow, name).__get__(self))

    async def _context(self) -> tuple[Services, RequestContext]:
        return self._services, self._ctx

    def _thread_gone(self, thread_id: str) -> None:
        self.gone.append(thread_id)
        if self.thread_id == thread_id:
            self.thread_id = ""


def _context(services: Services, user: str) -> RequestContext:
    return RequestContext(user, f"sess_{user}", "assistant", "http://testserver")


async def _threads(services: Services, context: RequestContext, titles: list[str]) -> list[str]:
    """Stored threads, the first title the oldest (a second apart)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = []
    for n, title in enumerate(titles):
        thread = ThreadMetadata(id=f"thr_{context.user_id}_{n}", title=title, created_at=start + timedelta(seconds=n))
        await services.store.save_thread(thread, context)
        ids.append(thread.id)
    return ids


async def test_the_history_pages_in_and_search_reads_every_page(services: Services, monkeypatch: Any) -> None:
    monkeypatch.setattr(history_state, "THREAD_PAGE", 4)
    monkeypatch.setattr(history_state, "SEARCH_PAGE", 3)
    alice, bob = _context(services, "alice"), _context(services, "bob")
    titles = [f"{'budget' if n % 5 == 0 else 'chat'} {n}" for n in range(11)]
    await _threads(services, alice, titles)
    await _threads(services, bob, ["budget of bob"])
    history: Any = History(services, alice)

    await history._load_threads(services, alice)
    assert [t.title for t in history.threads] == ["budget 10", "chat 9", "chat 8", "chat 7"]
    assert history.has_more_threads and not history.history_loading
    await history.more_threads()
    await history.more_threads()
    assert [t.title for t in history.threads] == [t for t in reversed(titles)]
    assert not history.has_more_threads
    await history.more_threads()  # nothing more: nothing changes
    assert len(history.threads) == 11

    history.threads = history.threads[:4]  # only the first page loaded: search still finds all
    await history.search_threads("BUDGET")
    assert [t.title for t in history.search_results] == ["budget 10", "budget 5", "budget 0"]
    assert not history.search_capped
    await history.search_threads("  ")
    assert history.search_results == [] and history.search == "  "


async def test_search_stops_at_its_limit_and_says_so(services: Services, monkeypatch: Any) -> None:
    monkeypatch.setattr(history_state, "SEARCH_PAGE", 2)
    monkeypatch.setattr(history_state, "MAX_RESULTS", 3)
    alice = _context(services, "alice")
    await _threads(services, alice, [f"same {n}" for n in range(6)])
    history: Any = History(services, alice)
    await history.search_threads("same")
    assert len(history.search_results) == 3 and history.search_capped


async def test_rename_tidies_the_title_and_delete_asks_first(services: Services) -> None:
    alice, bob = _context(services, "alice"), _context(services, "bob")
    [first, second] = await _threads(services, alice, ["one", "two"])
    [bobs] = await _threads(services, bob, ["bob's"])
    history: Any = History(services, alice)
    await history._load_threads(services, alice)

    history.start_rename(first)
    assert history.renaming_id == first
    await history.save_title(first, "  a   new\ttitle ")
    assert history.renaming_id == "" and history.threads[1].title == "a new title"
    assert (await services.store.load_thread(first, alice)).title == "a new title"
    await history.save_title(first, "   ")  # empty: the old title stays
    assert history.threads[1].title == "a new title"
    await history.save_title(bobs, "taken over")  # someone else's: as if it did not exist
    assert history.error == "This chat no longer exists."
    assert (await services.store.load_thread(bobs, bob)).title == "bob's"
    await history.delete_thread(bobs)
    assert (await services.store.load_thread(bobs, bob)).title == "bob's"

    history.error, history.thread_id = "", second
    history.ask_delete(second)
    assert history.delete_id == second
    history.delete_dialog_open(False)  # cancelled: nothing deleted
    assert history.delete_id == "" and len(history.threads) == 2
    history.ask_delete(second)
    await history.confirm_delete()
    assert [t.id for t in history.threads] == [first] and history.gone[-1] == second
    assert history.url_path == "/" and history.thread_id == ""  # the open one went: back to /


async def test_an_address_opens_only_the_visitors_own_thread(services: Services) -> None:
    alice, bob = _context(services, "alice"), _context(services, "bob")
    [mine] = await _threads(services, alice, ["mine"])
    [theirs] = await _threads(services, bob, ["theirs"])
    history: Any = History(services, alice)
    assert await history._open_window(services, alice, mine) is True and history.thread_id == mine
    for other in (theirs, "thr_unknown", "../../etc", ""):
        assert await history._open_window(services, alice, other) is False
        assert history.thread_id == "" and history.messages == []


@pytest.mark.parametrize(("path", "expected"), [("/c/thr_1", ("open_thread", "thr_1")), ("/", ("new_chat", None))])
def test_back_and_forward_show_what_the_address_names(path: str, expected: tuple[str, str | None]) -> None:
    class Chat:
        follow_url = HistoryState.__dict__["follow_url"]

        @staticmethod
        def open_thread(thread_id: str) -> tuple[str, str]:
            return ("open_thread", thread_id)

        new_chat = ("new_chat", None)

    chat: Any = Chat()
    chat.thread_id, chat.not_found, chat.url_owner = "thr_other", False, "page-1"
    assert chat.follow_url(path) == expected
    chat.thread_id = "thr_1"
    assert chat.follow_url("/c/thr_1") is None  # already shown
    chat.url_owner, chat.thread_id = "", "thr_other"
    assert chat.follow_url(path) is None  # a page that never claimed the address bar (an embed)


def test_a_page_claims_the_address_bar_only_on_the_sites_chat_pages() -> None:
    class Chat:
        claim_url = HistoryState.__dict__["claim_url"]

        def _clear_window(self) -> None:
            self.thread_id = ""

    chat: Any = Chat()
    chat.thread_id, chat.streaming, chat.url_owner, chat.url_path = "thr_1", False, "", ""
    chat.claim_url("page-1", "/embed/assistant", -120)
    assert (chat.url_owner, chat.thread_id, chat.utc_offset_minutes) == ("", "thr_1", -120)
    chat.claim_url("page-2", "/c/thr_1", 0)
    assert (chat.url_owner, chat.url_path, chat.thread_id) == ("page-2", "/c/thr_1", "thr_1")
    chat.streaming = True
    chat.claim_url("page-3", "/", 0)  # a reload while the first reply streams keeps it
    assert chat.thread_id == "thr_1"
    chat.streaming = False
    chat.claim_url("page-4", "/", 0)  # the start page is a new chat
    assert (chat.url_owner, chat.url_path, chat.thread_id) == ("page-4", "/", "")
