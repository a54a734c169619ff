"""Engine creation and schema migration.

SQLite gets WAL, a busy timeout and `synchronous=NORMAL`; PostgreSQL gets a small pool
with pre-ping and, given a timeout, bounded waits: to connect, for a statement (on the
server), for a free pooled connection, and for any answer at all (`db_deadlines`).
`migrate()` brings any database (fresh or older) to the current schema with
the alembic scripts in `chatkit_app/migrations`, under a lock so several workers
starting at once do not race.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import math
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from chatkit_app import db_deadlines

logger = logging.getLogger("chatkit_app.db")
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_PG_MIGRATION_LOCK = 0x6368_6B74  # "chkt"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(
    url: str,
    *,
    busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    pool_size: int = 5,
    timeout_seconds: float | None = None,
) -> Engine:
    """`busy_timeout_ms=0` gives a SQLite engine that fails at once instead of waiting
    for a lock, used for the fast path that runs on the event loop.

    PostgreSQL: `pool_size` connections kept, as many again opened under load;
    `timeout_seconds` (None: wait as long as it takes, e.g. for migrations) bounds the
    connect, each statement, the wait for a pooled connection and any wait for an answer."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            pool_size=5 if busy_timeout_ms else 1,
            max_overflow=20 if busy_timeout_ms else 2,
        )
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, busy_timeout_ms))
        return engine
    if timeout_seconds is None:
        return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeout_seconds,
        connect_args=_postgres_timeouts(parsed, timeout_seconds),
    )
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
        db_deadlines.install(engine, timeout_seconds)
    return engine


def _postgres_timeouts(url: URL, timeout_seconds: float) -> dict[str, Any]:
    """libpq's `connect_timeout` (whole seconds, at least 2) and the server's
    `statement_timeout`, added to the URL's own `options` (connect_args replace them)."""
    if url.get_backend_name() != "postgresql":
        return {}
    options = url.query.get("options", "")
    options = " ".join(options) if isinstance(options, tuple) else options
    statement = f"-c statement_timeout={max(1, round(timeout_seconds * 1000))}"
    return {
        "connect_timeout": max(2, math.ceil(timeout_seconds)),
        "options": f"{options} {statement}".strip(),
    }


def _sqlite_pragmas(busy_timeout_ms: int, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower()


async def on_loop_else_waiting(fast: Callable[[], T], waiting: Callable[[], Awaitable[T]]) -> T:
    """SQLite's fast path: run `fast` right on the event loop against a connection that
    never waits for a lock (no thread hop); if another process holds the lock, its
    transaction has rolled back and `waiting` redoes the work off the loop, waiting."""
    try:
        return fast()
    except OperationalError as exc:
        if not is_lock_error(exc):
            raise
    return await waiting()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Upgrade to the newest revision; safe to call from many processes at once."""
    with _migration_lock(engine):
        with engine.begin() as connection:
            config = alembic_config(engine)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    logger.info("database schema is current")


_thread_lock = threading.Lock()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    with _thread_lock:
        if engine.dialect.name == "sqlite":
            database = engine.url.database
            if not database or database == ":memory:":
                yield
                return
            lock_path = Path(database).with_suffix(".migrate.lock")
            with open(lock_path, "a+") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            return
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
                connection.commit()
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK})
                    connection.commit()
            return
        yield
