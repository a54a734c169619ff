"""Periodic jobs that one process of the whole cluster runs per interval, not every worker
of every host (the hourly sweep, `chatkit_app/housekeeping.py`).

Time is cut into windows aligned to the epoch (`interval` seconds each); at the start of
each window every process asks its `Turn` whether the window is its own:

- with Redis (`REDIS_URL`): a lease per window, `SET <key>:<window> <owner> NX PX` — the
  first process of any host to ask gets it, the others see it taken;
- else on PostgreSQL: a leader, the process holding a session advisory lock
  (`pg_try_advisory_lock`, never waiting) on a connection of its own; it runs every
  window while its session lives, and when it dies the server frees the lock and the next
  process to ask takes over. Not through PgBouncer in transaction mode (use Redis there);
- else (SQLite, one host): a leader holding an exclusive `flock` on a file in the data
  directory, freed by the kernel when the process ends.

A turn that cannot be decided (Redis or the database unreachable) is not taken: the job
waits for the next window rather than running twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Protocol

import redis
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from chatkit_app.db import make_engine
from chatkit_app.settings import Settings

logger = logging.getLogger("chatkit_app.cluster")
REDIS_KEY_PREFIX = "chatkit:once"
_PG_LOCK_CLASS = 0x6368_6B6A  # "chkj": the advisory locks of jobs; the key is the job's hash


class Turn(Protocol):
    """Decides whether this process runs a job in a window. Blocking I/O: call it off the
    event loop."""

    def take(self, window: int) -> bool: ...

    def release(self) -> None: ...


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class RedisLease:
    """One lease per window: taken by exactly one process of all that share the Redis."""

    def __init__(self, url: str, job: str, interval: float, *, timeout: float = 5.0) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._key = f"{REDIS_KEY_PREFIX}:{job}"
        self._ttl_ms = max(1000, int(interval * 2000))  # outlives its window, whatever the clocks
        self._owner = owner_id()

    def take(self, window: int) -> bool:
        return bool(self._client.set(f"{self._key}:{window}", self._owner, nx=True, px=self._ttl_ms))

    def release(self) -> None:
        self._client.close()  # the leases expire by themselves: a window is never run twice


class PostgresLeader:
    """The process whose session holds the job's advisory lock runs every window."""

    def __init__(self, engine: Engine, job: str) -> None:
        self._engine = engine
        self._job = job
        self._connection: Connection | None = None

    def take(self, window: int) -> bool:
        if self._connection is not None:
            try:
                if self._holds_lock(self._connection):
                    return True
            except Exception:  # the session is gone, and with it the lock
                logger.warning("lost the database session that led job %s; asking again", self._job)
            self._drop()
        connection = self._engine.connect()
        try:
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:class, hashtext(current_schema() || ':' || :job))"),
                {"class": _PG_LOCK_CLASS, "job": self._job},
            ).scalar_one()
            connection.commit()  # a session lock outlives the transaction; no idle transaction held
        except BaseException:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._connection = connection
        return True

    def _holds_lock(self, connection: Connection) -> bool:
        held = connection.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND granted AND classid = :class AND objid = hashtext(current_schema() || ':' || :job)::oid"
            ),
            {"class": _PG_LOCK_CLASS, "job": self._job},
        ).scalar_one()
        connection.commit()
        return bool(held)

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.invalidate()  # never back to the pool: its session may still hold the lock
            connection.close()

    def release(self) -> None:
        self._drop()  # closing the session frees the lock
        self._engine.dispose()


class FileLeader:
    """The process holding an exclusive `flock` on `path` runs every window (one host)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle: IO[str] | None = None

    def take(self, window: int) -> bool:
        if self._handle is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self._path, "a+")  # held open while leading
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()  # frees the lock


def turn_for(settings: Settings, job: str, interval: float) -> Turn:
    """Redis when configured, else the database's kind: PostgreSQL's advisory lock, or a
    file lock next to SQLite."""
    redis_url = settings.resolved_redis_url
    if redis_url:
        return RedisLease(redis_url, job, interval, timeout=settings.chatkit_db_timeout_seconds)
    url = settings.resolved_database_url
    if make_url(url).get_backend_name() == "postgresql":
        return PostgresLeader(make_engine(url, pool_size=1, timeout_seconds=settings.chatkit_db_timeout_seconds), job)
    return FileLeader(settings.chatkit_data_dir / f"{job}.lock")


async def every_window(
    job: str,
    interval: float,
    make_turn: Callable[[], Turn],
    work: Callable[[], Awaitable[object]],
    *,
    clock: Callable[[], float] = time.time,
) -> None:
    """Run `work` at the start of each window whose turn this process takes; forever,
    until cancelled. Failures are logged, never fatal."""
    turn: Turn | None = None
    try:
        while True:
            now = clock()
            window = int(now // interval) + 1
            await asyncio.sleep(max(0.0, window * interval - now))
            try:
                if turn is None:
                    turn = await asyncio.to_thread(make_turn)
                mine = await asyncio.to_thread(turn.take, window)
            except Exception as exc:
                logger.warning("job %s skipped: its turn could not be decided (%s)", job, type(exc).__name__)
                continue
            if not mine:
                continue
            try:
                await work()
            except Exception:
                logger.exception("job %s failed", job)
    finally:
        if turn is not None:
            with contextlib.suppress(Exception):
                turn.release()
