"""One-statement writes on SQLite's fast path, run on the driver's connection.

The fast path (`db.on_loop_else_waiting`) runs short transactions right on the event loop
against a SQLite connection that never waits for a lock. Every new chat writes four rows
that way (thread, user message, answer, title). Through SQLAlchemy's `Connection` (pool
checkout, transaction, execution context, result) one such write costs ~50 µs on a quiet
process and over 100 µs among 50 answers, of which SQLite's own work is ~10 µs: time spent
before the first token of every answer and again when it ends (bench/streaming.py). Here
the statement SQLAlchemy compiled runs, with SQLAlchemy's own parameter processing, on the
sqlite3 connection: the same SQL and the same parameters, so the same rows
(tests/unit/test_store.py runs the store contract both ways).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler


class CompiledWrite:
    """A write statement compiled once for SQLite, with its bind processors."""

    __slots__ = ("_compiled", "_names", "_processors", "sql")

    def __init__(self, statement: sa.ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
            raise ValueError("expected a SQL statement compiled for a positional paramstyle (SQLite's qmark)")
        self.sql = compiled.string
        self._compiled = compiled
        self._names: list[str] = list(compiled.positiontup)
        binds = compiled.binds
        self._processors = {
            name: binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in set(self._names)
        }

    def parameters(self, params: Mapping[str, Any]) -> list[Any]:
        """The driver's parameters, as SQLAlchemy would pass them (literal binds included)."""
        values = self._compiled.construct_params(params)
        out = []
        for name in self._names:
            processor = self._processors[name]
            out.append(values[name] if processor is None else processor(values[name]))
        return out


def driver_rowcount(engine: sa.Engine, write: CompiledWrite, params: Mapping[str, Any]) -> int:
    """Runs `write` in its own transaction on a connection of `engine`'s pool; its
    rowcount. Driver errors become SQLAlchemy's (a lock is an `OperationalError`, as
    `db.on_loop_else_waiting` expects), after a rollback."""
    pooled = engine.raw_connection()
    try:
        connection: sqlite3.Connection = pooled.driver_connection  # type: ignore[assignment]
        try:
            count = int(connection.execute(write.sql, write.parameters(params)).rowcount)
            connection.commit()
        except sqlite3.Error as exc:
            connection.rollback()
            raise DBAPIError.instance(write.sql, None, exc, sqlite3.Error) from exc
        return count
    finally:
        pooled.close()
