"""What the history holds and how it is shown, as plain functions: a thread as a typed
entry, the date groups (Today, Yesterday, Previous 7 days, Older) on the visitor's
clock, the search match, and a thread's address (`/c/{thread_id}`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

UNTITLED = "New chat"
GROUPS = ("Today", "Yesterday", "Previous 7 days", "Older")
THREAD_PREFIX = "/c/"
# Our store's ids are `thr_` + URL-safe base64; anything else in an address is not a thread.
_THREAD_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


@dataclass(frozen=True)
class ThreadEntry:
    """One thread in the history: its id, title and creation time (ISO 8601, UTC)."""

    id: str
    title: str
    date: str = ""


@dataclass(frozen=True)
class HistoryGroup:
    """A date heading and its threads, newest first."""

    label: str
    threads: list[ThreadEntry] = field(default_factory=list)


def entry_of(thread: dict[str, Any]) -> ThreadEntry:
    """A ChatKit thread (as the protocol sends it) as a history entry."""
    return ThreadEntry(
        id=str(thread["id"]), title=str(thread.get("title") or UNTITLED), date=str(thread.get("created_at") or "")
    )


def with_new(threads: list[ThreadEntry], entry: ThreadEntry) -> list[ThreadEntry]:
    """`entry` first, once: a history page that arrived after the thread was made (the
    first message sent while the history loads) lists it already."""
    return [entry, *(thread for thread in threads if thread.id != entry.id)]


def visitor_zone(utc_offset_minutes: int) -> timezone:
    """The browser's zone from `Date.getTimezoneOffset()` (minutes *behind* UTC, so
    UTC+2 is -120); out-of-range values count as UTC."""
    if not -18 * 60 < utc_offset_minutes < 18 * 60:
        return UTC
    return timezone(-timedelta(minutes=utc_offset_minutes))


def _local_day(stamp: str, zone: timezone) -> date | None:
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).date()


def group_label(stamp: str, now: datetime) -> str:
    """Which heading a thread created at `stamp` goes under, seen at `now` (aware, in
    the visitor's zone). An unreadable date (or one in the future) counts as today."""
    assert now.tzinfo is not None, "now must carry the visitor's zone"
    day = _local_day(stamp, now.tzinfo)  # type: ignore[arg-type]
    today = now.date()
    if day is None or day >= today:
        return GROUPS[0]
    age = (today - day).days
    if age == 1:
        return GROUPS[1]
    if age <= 7:
        return GROUPS[2]
    return GROUPS[3]


def group_threads(threads: Iterable[ThreadEntry], now: datetime) -> list[HistoryGroup]:
    """The threads (newest first, as listed) under their date headings, empty groups
    left out, the order of the headings fixed."""
    grouped: dict[str, list[ThreadEntry]] = {label: [] for label in GROUPS}
    for thread in threads:
        grouped[group_label(thread.date, now)].append(thread)
    return [HistoryGroup(label, entries) for label, entries in grouped.items() if entries]


def query_words(query: str) -> list[str]:
    """A search's words, case-folded once for every title it is matched against."""
    return query.casefold().split()


def matches(thread: ThreadEntry, words: list[str]) -> bool:
    """Every word of the query (`query_words`) is in the title (case ignored)."""
    title = thread.title.casefold()
    return all(word in title for word in words)


def thread_path(thread_id: str) -> str:
    """The address of a thread; the start page for none."""
    return f"{THREAD_PREFIX}{thread_id}" if thread_id else "/"


def thread_id_of(path: str) -> str:
    """The thread id in an address (`/c/{id}`, a trailing slash allowed); "" for any
    other address, and for an id that cannot be one of ours."""
    if not path.startswith(THREAD_PREFIX):
        return ""
    candidate = path[len(THREAD_PREFIX) :].rstrip("/")
    return candidate if plausible_id(candidate) else ""


def plausible_id(thread_id: str) -> bool:
    """Could be a thread id (checked before any lookup; the store decides the rest)."""
    return bool(_THREAD_ID.match(thread_id))
