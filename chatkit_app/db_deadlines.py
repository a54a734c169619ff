"""PostgreSQL that stops answering must not hold a request for longer than the timeout.

`statement_timeout` (set per connection by `db.make_engine`) ends slow statements on the
server, which keeps the connection. It cannot help when the server gets nothing: a frozen
server or a cut network, where the kernel (or a proxy) still acknowledges what is sent and
a client would wait forever. So every wait of a psycopg connection on its server (a
statement, commit, rollback, the pool's pre-ping) ends after a deadline: the connection is
dropped (SQLAlchemy sees it closed, discards it and the pool's older connections) and
psycopg's `OperationalError` reaches the API, which answers 503 `database_unavailable`.

The deadline is the statement timeout plus a grace (the server's own cancel comes first
when the server is alive); the pool's pre-ping (what a connection waits for between
coming back to the pool and being handed out again) gets the short grace alone, so that a frozen server costs a request
about one timeout: the ping's grace, then a new connection's `connect_timeout`.

Rests on psycopg's `Connection.wait(gen, interval, timeout)` and `errors._WaitTimeout`
(psycopg 3.3); `tests/unit/test_db_timeouts.py` checks both exist.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors
from sqlalchemy import Engine, event


def grace_seconds(timeout: float) -> float:
    """What the client waits beyond the server's statement timeout; also the ping's deadline."""
    return min(timeout, max(1.0, timeout / 5))


class _Deadlines(psycopg.Connection[Any]):
    chatkit_in_pool: bool


def deadline_connection_class(timeout: float) -> type[_Deadlines]:
    """A psycopg connection class whose waits on the server end after `timeout` + grace."""
    grace = grace_seconds(timeout)

    class DeadlineConnection(_Deadlines):
        chatkit_deadline = timeout + grace
        chatkit_ping_deadline = grace
        chatkit_in_pool = False  # from checkin to checkout: its waits are the pre-ping's

        def wait(self, gen: Any, interval: Any = None, timeout: float | None = None) -> Any:
            if timeout is None:
                timeout = self.chatkit_ping_deadline if self.chatkit_in_pool else self.chatkit_deadline
            extra = {} if interval is None else {"interval": interval}
            try:
                return super().wait(gen, timeout=timeout, **extra)
            except errors._WaitTimeout:
                self.pgconn.finish()  # mid-protocol: unusable; `broken` tells SQLAlchemy so
                raise psycopg.OperationalError(f"the database did not answer within {timeout:g} s") from None

    return DeadlineConnection


def install(engine: Engine, timeout: float) -> None:
    """Have `engine` (postgresql+psycopg) open `deadline_connection_class(timeout)` connections."""
    connection_class = deadline_connection_class(timeout)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        return connection_class.connect(*cargs, **cparams)

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, connection_class):
            dbapi_connection.chatkit_in_pool = True

    @event.listens_for(engine, "checkout")
    def _handed_out(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if isinstance(dbapi_connection, connection_class):
            dbapi_connection.chatkit_in_pool = False
