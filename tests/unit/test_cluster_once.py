"""Periodic jobs once per cluster (`chatkit_app/cluster/once.py`) on real Redis, real
PostgreSQL and real file locks: of two contenders exactly one runs each window; a leader
that goes away is replaced; and the hourly sweep's loop runs in one of two at a time."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, create_engine, text

from chatkit_app.cluster.once import (
    REDIS_KEY_PREFIX,
    FileLeader,
    PostgresLeader,
    RedisLease,
    Turn,
    every_window,
    turn_for,
)
from chatkit_app.db import make_engine
from chatkit_app.housekeeping import sweep_and_log
from chatkit_app.services import build_services
from tests.conftest import make_settings


@pytest.fixture
def job() -> str:
    return "test-" + uuid.uuid4().hex


@pytest.fixture
def redis_keys(redis_url: str, job: str) -> Iterator[None]:
    yield
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{REDIS_KEY_PREFIX}:{job}:*"):
        client.delete(key)
    client.close()


def _pg_engine(postgres_url: str) -> Engine:
    return make_engine(postgres_url, pool_size=1, timeout_seconds=5)


def test_of_two_redis_leases_one_takes_each_window(redis_url: str, job: str, redis_keys: None) -> None:
    first, second = RedisLease(redis_url, job, 60), RedisLease(redis_url, job, 60)
    try:
        for window in (100, 101):
            assert sorted([first.take(window), second.take(window)]) == [False, True]
            assert not first.take(window) and not second.take(window)  # asked again: still taken
        ttl = redis.Redis.from_url(redis_url).pttl(f"{REDIS_KEY_PREFIX}:{job}:100")
        assert 60_000 < ttl <= 120_000  # expires by itself, after its window
    finally:
        first.release()
        second.release()


def test_of_two_postgres_contenders_one_leads_until_it_goes(postgres_url: str, job: str) -> None:
    first, second = PostgresLeader(_pg_engine(postgres_url), job), PostgresLeader(_pg_engine(postgres_url), job)
    try:
        assert first.take(1) is True
        assert second.take(1) is False
        assert first.take(2) is True and second.take(2) is False  # the leader keeps leading
        first.release()
        assert second.take(3) is True
        assert PostgresLeader(_pg_engine(postgres_url), job).take(3) is False
    finally:
        first.release()
        second.release()


def test_a_postgres_leader_whose_session_dies_is_replaced(postgres_url: str, job: str) -> None:
    first, second = PostgresLeader(_pg_engine(postgres_url), job), PostgresLeader(_pg_engine(postgres_url), job)
    admin = create_engine(postgres_url)  # in the test's schema, like the contenders
    try:
        assert first.take(1) is True
        with admin.begin() as connection:
            killed = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = :c "
                    "AND objid = hashtext(current_schema() || ':' || :job)::oid"
                ),
                {"c": 0x6368_6B6A, "job": job},
            ).all()
        assert killed
        deadline = time.monotonic() + 10
        while not second.take(2):  # the server frees the lock once the session has ended
            assert time.monotonic() < deadline
        assert first.take(3) is False  # notices its session is gone, asks again, and is refused
    finally:
        first.release()
        second.release()
        admin.dispose()


def test_of_two_file_locks_one_leads_until_it_goes(tmp_path: Path) -> None:
    first, second = FileLeader(tmp_path / "job.lock"), FileLeader(tmp_path / "job.lock")
    assert first.take(1) is True and second.take(1) is False
    assert first.take(2) is True and second.take(2) is False
    first.release()
    assert second.take(3) is True
    second.release()


@pytest.mark.parametrize("kind", ["redis", "postgres", "sqlite"])
async def test_two_sweeping_loops_sweep_once_per_window(
    kind: str, tmp_path: Path, job: str, request: pytest.FixtureRequest
) -> None:
    """Two processes' hourly loops (as two services sharing the same stores), with a
    one-second window: each window is swept by exactly one of them."""
    if kind == "redis":
        request.getfixturevalue("redis_keys")
        extra = {"redis_url": request.getfixturevalue("redis_url"), "database_url": f"sqlite:///{tmp_path / 'db'}"}
    elif kind == "postgres":
        extra = {"database_url": request.getfixturevalue("postgres_url")}
    else:
        extra = {"database_url": f"sqlite:///{tmp_path / 'db'}"}
    settings = make_settings(tmp_path, **extra)
    contenders = [build_services(settings, production=False) for _ in range(2)]
    swept: list[tuple[int, int]] = []

    def work(index: int) -> Callable[[], object]:
        async def sweep_now() -> None:
            window = int(time.time())
            await sweep_and_log(contenders[index])
            swept.append((window, index))

        return sweep_now

    def make_turn() -> Turn:
        return turn_for(settings, job, 1.0)

    loops = [asyncio.create_task(every_window(job, 1.0, make_turn, work(index))) for index in range(2)]  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + 20
        while len({window for window, _ in swept}) < 3:
            assert time.monotonic() < deadline, swept
            await asyncio.sleep(0.05)
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        for services in contenders:
            services.close()
    per_window = Counter(window for window, _ in swept)
    assert set(per_window.values()) == {1}, swept
    if kind != "redis":  # a leader: the same process every time
        assert len({index for _, index in swept}) == 1
