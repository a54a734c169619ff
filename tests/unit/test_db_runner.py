"""`DatabaseRunner`: database calls on threads of their own, as many as the pool keeps on
PostgreSQL (one on SQLite); a call that finds no thread free within the wait never runs
and raises the pool's timeout (503 `database_unavailable`); a cancelled wait drops a call
still queued; the caller's context variables (the request id) reach the thread."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from chatkit_app.db import make_engine
from chatkit_app.services import DatabaseRunner

REQUEST = contextvars.ContextVar("request", default="none")


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    built = make_engine(postgres_url, pool_size=2, timeout_seconds=5)
    yield built
    built.dispose()


class Gate:
    """Calls that query the database, then wait until the test opens the gate; counts how
    many run at once."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.opened = engine, threading.Event()
        self.lock, self.running, self.most = threading.Lock(), 0, 0
        self.ran: list[str] = []

    def call(self, name: str) -> str:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.ran.append(name)
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            assert self.opened.wait(10)
            return f"{name}:{REQUEST.get()}"
        finally:
            with self.lock:
                self.running -= 1


async def until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_postgres_runs_as_many_calls_at_once_as_the_pool_keeps(engine: Engine) -> None:
    runner, gate = DatabaseRunner(engine, threads=2, wait_seconds=5), Gate(engine)
    try:
        REQUEST.set("req-1")
        calls = [asyncio.ensure_future(runner(gate.call, f"c{i}")) for i in range(5)]
        await until(lambda: gate.running == 2)
        await asyncio.sleep(0.1)  # the other three stay queued
        assert gate.running == 2 and len(gate.ran) == 2
        gate.opened.set()
        assert sorted(await asyncio.gather(*calls)) == [f"c{i}:req-1" for i in range(5)]
        assert gate.most == 2
    finally:
        gate.opened.set()
        runner.close()


async def test_a_call_without_a_free_thread_within_the_wait_never_runs(engine: Engine) -> None:
    runner, gate = DatabaseRunner(engine, threads=2, wait_seconds=0.3), Gate(engine)
    try:
        held = [asyncio.ensure_future(runner(gate.call, f"held{i}")) for i in range(2)]
        await until(lambda: gate.running == 2)
        started = time.monotonic()
        with pytest.raises(PoolTimeout):
            await runner(gate.call, "late")
        assert 0.25 <= time.monotonic() - started < 2
        gate.opened.set()
        assert sorted(await asyncio.gather(*held)) == ["held0:none", "held1:none"]
        assert await runner(gate.call, "after") == "after:none"  # the threads serve again
        assert "late" not in gate.ran
    finally:
        gate.opened.set()
        runner.close()


async def test_a_running_call_outlasting_the_wait_is_awaited(engine: Engine) -> None:
    runner, gate = DatabaseRunner(engine, threads=1, wait_seconds=0.2), Gate(engine)
    try:
        call = asyncio.ensure_future(runner(gate.call, "slow"))
        await until(lambda: gate.running == 1)
        await asyncio.sleep(0.4)  # past the wait: it runs, so it is not dropped
        gate.opened.set()
        assert await call == "slow:none"
    finally:
        gate.opened.set()
        runner.close()


async def test_a_cancelled_wait_drops_the_queued_call(engine: Engine) -> None:
    runner, gate = DatabaseRunner(engine, threads=1, wait_seconds=5), Gate(engine)
    try:
        held = asyncio.ensure_future(runner(gate.call, "held"))
        await until(lambda: gate.running == 1)
        queued = asyncio.ensure_future(runner(gate.call, "queued"))
        await asyncio.sleep(0.05)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        gate.opened.set()
        assert await held == "held:none"
        assert await runner(gate.call, "next") == "next:none"
        assert gate.ran == ["held", "next"]
    finally:
        gate.opened.set()
        runner.close()


async def test_sqlite_runs_one_call_at_a_time(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'one.db'}")
    runner, gate = DatabaseRunner(engine, threads=8, wait_seconds=0.05), Gate(engine)
    try:
        REQUEST.set("req-2")
        calls = [asyncio.ensure_future(runner(gate.call, f"s{i}")) for i in range(3)]
        await until(lambda: gate.running == 1)
        await asyncio.sleep(0.2)  # longer than the wait: SQLite's queue has none
        gate.opened.set()
        assert await asyncio.gather(*calls) == ["s0:req-2", "s1:req-2", "s2:req-2"]
        assert gate.most == 1
    finally:
        gate.opened.set()
        runner.close()
        engine.dispose()
