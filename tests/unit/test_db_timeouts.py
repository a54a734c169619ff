"""The database settings of `make_engine` on real PostgreSQL: the pool's size and wait, the
server's statement timeout, the connect timeout; and the psycopg names `db_deadlines`
rests on (an upgrade that drops one fails here, by name)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from chatkit_app import db
from chatkit_app.db_deadlines import grace_seconds
from tests.fakes.frozen_proxy import FrozenProxy


@pytest.fixture
def timed_engine(postgres_url: str) -> Iterator[Engine]:
    engine = db.make_engine(postgres_url, pool_size=2, timeout_seconds=1.0)
    yield engine
    engine.dispose()


def test_the_psycopg_names_the_deadlines_use_exist() -> None:
    assert "timeout" in inspect.signature(psycopg.Connection.wait).parameters
    assert issubclass(errors._WaitTimeout, psycopg.OperationalError)


def test_the_grace_is_short_and_never_longer_than_the_timeout() -> None:
    assert grace_seconds(5) == 1.0 and grace_seconds(0.5) == 0.5 and grace_seconds(60) == 12


def test_a_slow_statement_is_cancelled_by_the_server_and_the_connection_stays(timed_engine: Engine) -> None:
    with timed_engine.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "1s"
        started = time.monotonic()
        with pytest.raises(OperationalError) as cancelled:
            connection.execute(text("SELECT pg_sleep(5)"))
        assert 0.9 <= time.monotonic() - started < 1.9
        assert isinstance(cancelled.value.orig, errors.QueryCanceled)
        assert not cancelled.value.connection_invalidated  # the server's cancel: nothing lost
        connection.rollback()
        assert connection.execute(text("SELECT 1")).scalar_one() == 1


def test_the_url_options_are_kept_beside_the_timeout(timed_engine: Engine, postgres_url: str) -> None:
    schema = make_url(postgres_url).query["options"].split("=", 1)[1]
    with timed_engine.connect() as connection:
        assert connection.execute(text("SELECT current_schema()")).scalar_one() == schema


def test_the_pool_holds_pool_size_plus_as_many_and_waiting_for_one_is_bounded(timed_engine: Engine) -> None:
    held = [timed_engine.connect() for _ in range(4)]  # 2 kept + 2 overflow
    try:
        started = time.monotonic()
        with pytest.raises(PoolTimeout):
            timed_engine.connect()
        assert 0.9 <= time.monotonic() - started < 2.0
    finally:
        for connection in held:
            connection.close()


def test_an_untimed_engine_has_no_statement_timeout(postgres_url: str) -> None:
    engine = db.make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "0"
    finally:
        engine.dispose()


def test_a_server_that_never_answers_the_connect_times_out(postgres_url: str) -> None:
    url = make_url(postgres_url)
    proxy = FrozenProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.freeze()
    engine = db.make_engine(url.set(port=proxy.port).render_as_string(hide_password=False), timeout_seconds=1.0)
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError), engine.connect():
            pass
        assert 1.9 <= time.monotonic() - started < 3.5  # libpq's minimum: 2 s
    finally:
        engine.dispose()
        proxy.close()
