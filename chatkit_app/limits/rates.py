"""Counting hits against rate limits with the `limits` library.

One storage for every counter: Redis when `REDIS_URL` (or `REFLEX_REDIS_URL`) is set, so that all workers and
machines share the counts, process memory otherwise (then each worker counts on its
own). Counts of events (messages, sessions, threads, identities) use a moving window:
exact, and the wait it reports is when the oldest counted event leaves the window.
Bytes use a fixed window (one counter incremented by the size), since a moving window
keeps one entry per unit counted.

A storage outage must not take the chat down: when Redis cannot be reached, the hit is
allowed and a warning is logged (at most once a minute).

In memory the library's synchronous limiters are used: a check is then plain CPU with no
suspension point, so it does not let the other requests of a burst in between a request
and its model call.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Literal

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerMinute
from limits import storage as sync_storage
from limits import strategies as sync_strategies
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.errors import StorageError
from limits.util import WindowStats

from chatkit_app.ops import metrics

Storage = RedisStorage | sync_storage.MemoryStorage

logger = logging.getLogger("chatkit_app.limits")
Period = Literal["minute", "hour", "day"]
_ITEMS: dict[Period, type[RateLimitItem]] = {
    "minute": RateLimitItemPerMinute,
    "hour": RateLimitItemPerHour,
    "day": RateLimitItemPerDay,
}


@dataclass(frozen=True)
class Rule:
    """`amount` per `period` for one kind of counter (`name`); 0 turns it off."""

    name: str
    amount: int
    period: Period
    weighted: bool = False  # counts a size (fixed window), not events (moving window)

    @property
    def off(self) -> bool:
        return self.amount <= 0

    def item(self) -> RateLimitItem:
        return _ITEMS[self.period](self.amount, namespace=self.name)


def make_storage(redis_url: str | None, key_prefix: str) -> Storage:
    """`limits`' async Redis storage (on redis-py, already a dependency) or memory."""
    if not redis_url:
        return sync_storage.MemoryStorage()
    if redis_url.startswith("unix://"):  # Reflex's spelling of a socket; `limits` names it redis+unix
        redis_url = "redis+" + redis_url
    uri = redis_url if redis_url.startswith("async+") else "async+" + redis_url
    return RedisStorage(uri, implementation="redispy", key_prefix=key_prefix, wrap_exceptions=True)


class Counters:
    """Hits against rules; each method answers None (allowed) or the seconds to wait."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._moving: Any
        self._fixed: Any
        if isinstance(storage, sync_storage.MemoryStorage):
            self._moving = sync_strategies.MovingWindowRateLimiter(storage)
            self._fixed = sync_strategies.FixedWindowRateLimiter(storage)
        else:
            self._moving = MovingWindowRateLimiter(storage)
            self._fixed = FixedWindowRateLimiter(storage)
        self._warned_at = -math.inf

    def _limiter(self, rule: Rule) -> Any:
        """Either the async (Redis) or the synchronous (memory) limiter: use `_done`."""
        return self._fixed if rule.weighted else self._moving

    async def hit(self, rule: Rule, key: str, cost: int = 1) -> float | None:
        """Count `cost` against `rule` for `key`, or nothing when that would pass it."""
        if rule.off:
            return None
        item, limiter = rule.item(), self._limiter(rule)
        try:
            if rule.weighted:
                if not await _done(limiter.test(item, key, cost=cost)):  # a fixed window counts refused hits too
                    return await self._refused(rule, limiter, item, key)
            if await _done(limiter.hit(item, key, cost=cost)):
                return None
            return await self._refused(rule, limiter, item, key)
        except StorageError as exc:
            self._storage_down(exc)
            return None

    async def check(self, rule: Rule, key: str, cost: int = 1) -> float | None:
        """Whether `cost` more would be allowed now, counting nothing."""
        if rule.off:
            return None
        item, limiter = rule.item(), self._limiter(rule)
        try:
            if await _done(limiter.test(item, key, cost=cost)):
                return None
            return await self._refused(rule, limiter, item, key)
        except StorageError as exc:
            self._storage_down(exc)
            return None

    async def remaining(self, rule: Rule, key: str) -> int:
        if rule.off:
            return 0
        try:
            stats: WindowStats = await _done(self._limiter(rule).get_window_stats(rule.item(), key))
        except StorageError as exc:
            self._storage_down(exc)
            return rule.amount
        return max(0, stats.remaining)

    async def _refused(self, rule: Rule, limiter: Any, item: RateLimitItem, key: str) -> float:
        """A refusal (counted in the metrics by the rule's name): the seconds to wait."""
        metrics.limit_refused(rule.name)
        return await self._wait(limiter, item, key)

    async def _wait(self, limiter: Any, item: RateLimitItem, key: str) -> float:
        stats: WindowStats = await _done(limiter.get_window_stats(item, key))
        return max(1.0, stats.reset_time - time.time())

    def _storage_down(self, exc: StorageError) -> None:
        now = time.monotonic()
        if now - self._warned_at >= 60:
            self._warned_at = now
            logger.warning("rate-limit storage unavailable (%s): limits are not enforced", type(exc).__name__)


async def _done(result: Any) -> Any:
    """The value of a limiter call: awaited for the async (Redis) limiters, as it is for
    the synchronous ones (no suspension point)."""
    return await result if inspect.isawaitable(result) else result
