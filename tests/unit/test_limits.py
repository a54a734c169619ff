"""LimitPolicy against real storage: the `limits` library's memory storage and a real
Redis (CHATKIT_TEST_REDIS_URL), and a migrated SQLite database for the token ledger."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from chatkit_app.errors import QuotaExceeded, RateLimited
from chatkit_app.limits import LimitPolicy, build_policy
from chatkit_app.limits.wording import count, size, wait
from chatkit_app.settings import Settings
from tests.conftest import LIMITS_OFF


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


def _transaction(engine: Engine) -> Any:
    """Runs ledger work in a transaction off the event loop (what the chat store does)."""

    async def run(fn: Any) -> Any:
        def work() -> Any:
            with engine.begin() as conn:
                return fn(conn)

        return await run_in_threadpool(work)

    return run


@pytest.fixture(params=["memory", "redis"])
def storage_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
async def make_policy(engine: Engine, storage_url: str | None) -> AsyncIterator[Any]:
    """Builds a policy with only the given limits on; its Redis keys are its own."""

    def build(clock: Clock | None = None, **limits: int) -> LimitPolicy:
        values: dict[str, Any] = {**LIMITS_OFF, **{f"chatkit_limit_{name}": value for name, value in limits.items()}}
        settings = Settings(_env_file=None, redis_url=storage_url, **values)
        prefix = "test_limits_" + uuid.uuid4().hex
        return build_policy(settings, _transaction(engine), key_prefix=prefix, clock=clock or Clock())

    yield build


async def test_the_message_over_the_rate_is_refused_with_when_to_retry(make_policy: Any) -> None:
    policy = make_policy(messages_per_minute=3)
    for _ in range(3):
        await policy.message("alice")
    with pytest.raises(RateLimited) as refused:
        await policy.message("alice")
    assert refused.value.code == "rate_limited" and refused.value.status == 429
    assert refused.value.retry_after is not None and 1 <= refused.value.retry_after <= 60
    assert refused.value.message == f"You can send 3 messages a minute; try again in {refused.value.retry_after} s."
    await policy.message("bob")  # per user


async def test_a_refused_thread_costs_no_message(make_policy: Any) -> None:
    policy = make_policy(messages_per_minute=3, threads_per_day=1)
    await policy.message("alice", starts_thread=True)
    with pytest.raises(QuotaExceeded) as refused:
        await policy.message("alice", starts_thread=True)
    assert refused.value.code == "quota_exceeded"
    assert refused.value.retry_after is not None and 86_000 < refused.value.retry_after <= 86_400
    assert refused.value.message.startswith("You can start 1 chat a day; try again in ")
    await policy.message("alice")  # the refused thread did not use up a message
    await policy.message("alice")
    with pytest.raises(RateLimited):
        await policy.message("alice")


async def test_sessions_and_identities_are_rate_limited(make_policy: Any) -> None:
    policy = make_policy(sessions_per_minute=2, identities_per_hour=1)
    await policy.session("alice")
    await policy.session("alice")
    with pytest.raises(RateLimited, match=r"^You can open 2 chat sessions a minute; try again in \d+ s\.$"):
        await policy.session("alice")
    await policy.identity("192.0.2.1")
    with pytest.raises(RateLimited) as refused:
        await policy.identity("192.0.2.1")
    assert refused.value.retry_after is not None and 3_500 < refused.value.retry_after <= 3_600
    await policy.identity("192.0.2.2")


async def test_upload_bytes_stop_at_the_daily_quota(make_policy: Any) -> None:
    policy = make_policy(upload_bytes_per_day=1000)
    with pytest.raises(QuotaExceeded, match="You can upload 1000 bytes a day and have 1000 bytes left"):
        await policy.new_upload("alice", 1001)
    await policy.new_upload("alice", 1000)  # only checked, nothing counted
    await policy.reserve_upload("alice", 600)
    with pytest.raises(QuotaExceeded) as refused:
        await policy.reserve_upload("alice", 500)
    assert refused.value.retry_after is not None and 86_000 < refused.value.retry_after <= 86_400
    assert "have 400 bytes left" in refused.value.message
    await policy.reserve_upload("alice", 400)  # exactly the quota
    with pytest.raises(QuotaExceeded):
        await policy.new_upload("alice", 1)


async def test_model_tokens_over_the_last_day_and_when_they_free_up(make_policy: Any) -> None:
    clock = Clock()
    policy = make_policy(clock, model_tokens_per_day=100)
    start = clock.now
    await policy.answer("alice")
    await policy.record_tokens("alice", "thr_1", "msg_1", 60)
    clock.now = start + 100
    await policy.record_tokens("alice", "thr_1", "msg_2", 50)
    await policy.record_tokens("bob", "thr_2", "msg_3", 500)
    clock.now = start + 200
    with pytest.raises(QuotaExceeded) as refused:
        await policy.answer("alice")
    # Once the first answer (60) leaves the window, 50 < 100 remain.
    assert refused.value.retry_after == 86_400 - 200
    assert refused.value.message == "You can use 100 model tokens a day; try again in 24 h."
    clock.now = start + 86_400 + 1
    await policy.answer("alice")
    assert await policy.sweep_usage() == 1  # alice's first answer left the window
    assert await policy.sweep_usage(now=start + 100 + 86_400) == 2


async def test_every_limit_at_zero_is_off(make_policy: Any) -> None:
    policy = make_policy()
    for _ in range(50):
        await policy.identity("192.0.2.1")
        await policy.session("alice")
        await policy.message("alice", starts_thread=True)
        await policy.new_upload("alice", 10**12)
        await policy.reserve_upload("alice", 10**9)
    await policy.record_tokens("alice", None, None, 10**9)
    await policy.answer("alice")


async def test_an_unreachable_redis_does_not_stop_the_chat(engine: Engine) -> None:
    settings = Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0", chatkit_limit_messages_per_minute=1)
    policy = build_policy(settings, _transaction(engine))
    await policy.message("alice")
    await policy.message("alice")  # not enforced while the storage is down (logged)


def test_wording() -> None:
    assert wait(0.2) == "1 s" and wait(12) == "12 s" and wait(300) == "5 min" and wait(3 * 3600) == "3 h"
    assert count(1, "chat") == "1 chat" and count(20_000, "file{s} waiting") == "20,000 files waiting"
    assert size(200 * 1024 * 1024) == "200 MB" and size(1536) == "1.5 KB" and size(12) == "12 bytes"
