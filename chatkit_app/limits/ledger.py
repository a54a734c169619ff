"""What the limits read from the database: model tokens used per answer, and uploads not
yet sent in a message.

Both are facts the database already holds for other reasons (or must hold for every
worker to agree), so they are counted there rather than in the rate-limit storage:
tokens are known only after an answer and must survive restarts for a 24-hour window;
a pending upload stops being pending when it is sent or deleted, which a counter could
not follow. Each query runs as the chat store runs its own (`SQLModelStore.transaction`):
on SQLite on the event loop unless another process holds the lock, else off the loop.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import Connection

from chatkit_app.models import ChatKitAttachment, ModelUsage

_T = TypeVar("_T")
WINDOW_SECONDS = 24 * 3600

_USAGE = ModelUsage.__table__  # type: ignore[attr-defined]
_ATT = ChatKitAttachment.__table__  # type: ignore[attr-defined]
_INSERT = sa.insert(_USAGE)
_SUM = sa.select(sa.func.coalesce(sa.func.sum(_USAGE.c.tokens), 0)).where(
    _USAGE.c.user_id == sa.bindparam("uid"), _USAGE.c.created_at > sa.bindparam("since")
)
_ROWS = (
    sa.select(_USAGE.c.created_at, _USAGE.c.tokens)
    .where(_USAGE.c.user_id == sa.bindparam("uid"), _USAGE.c.created_at > sa.bindparam("since"))
    .order_by(_USAGE.c.created_at)
)
_SWEEP = sa.delete(_USAGE).where(_USAGE.c.created_at <= sa.bindparam("before"))
_PENDING = sa.select(sa.func.count()).where(_ATT.c.user_id == sa.bindparam("uid"), _ATT.c.thread_id.is_(None))


class Transaction(Protocol):
    """Runs `fn` in one database transaction, e.g. `SQLModelStore.transaction`."""

    def __call__(self, fn: Callable[[Connection], _T], /) -> Awaitable[_T]: ...


class Ledger:
    def __init__(self, transaction: Transaction) -> None:
        self._tx = transaction

    async def record(self, user_id: str, thread_id: str | None, item_id: str | None, tokens: int, now: int) -> None:
        row = {
            "id": "use_" + secrets.token_urlsafe(16),
            "user_id": user_id,
            "thread_id": thread_id,
            "item_id": item_id,
            "tokens": tokens,
            "created_at": now,
        }

        def work(conn: Connection) -> None:
            conn.execute(_INSERT, row)

        await self._tx(work)

    async def tokens_since(self, user_id: str, since: int) -> int:
        def work(conn: Connection) -> int:
            return int(conn.execute(_SUM, {"uid": user_id, "since": since}).scalar_one())

        return await self._tx(work)

    async def frees_at(self, user_id: str, since: int, quota: int) -> int:
        """When the user's window holds less than `quota` again: the time the newest of
        the oldest rows that must leave the window was written, plus the window."""

        def work(conn: Connection) -> int:
            rows = conn.execute(_ROWS, {"uid": user_id, "since": since}).all()
            total = sum(int(tokens) for _, tokens in rows)
            for created_at, tokens in rows:
                total -= int(tokens)
                if total < quota:
                    return int(created_at) + WINDOW_SECONDS
            return since + WINDOW_SECONDS

        return await self._tx(work)

    async def sweep(self, before: int) -> int:
        """Delete usage rows written at or before `before` (Unix seconds); how many."""

        def work(conn: Connection) -> int:
            return int(conn.execute(_SWEEP, {"before": before}).rowcount or 0)

        return await self._tx(work)

    async def pending_uploads(self, user_id: str) -> int:
        """The user's attachments not sent in a message yet (no thread)."""

        def work(conn: Connection) -> int:
            return int(conn.execute(_PENDING, {"uid": user_id}).scalar_one())

        return await self._tx(work)
