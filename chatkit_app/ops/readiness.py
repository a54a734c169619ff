"""`/readyz`: whether this process can serve, checked against what it depends on.

The database (`SELECT 1`), Redis (`PING`, when configured: `REDIS_URL` or
`REFLEX_REDIS_URL`) and the file storage (`storage_ready`) are checked concurrently,
each within `CHATKIT_READY_TIMEOUT_SECONDS`: a service that hangs fails its check in that
time instead of holding the probe. Blocking checks run on threads of their own; a
check whose previous run is still stuck fails at once rather than queueing another thread
behind it. Concurrent probes share one run, and a result is reused for a second, so a
flood of probes costs one round of checks a second.

Failures name the service and say what happened in words that carry no secret (the
exception's type or the timeout), never a URL or an upstream message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import text

from chatkit_app.services import Services
from chatkit_app.settings import Settings

T = TypeVar("T")
logger = logging.getLogger("chatkit_app.ops")
REUSE_SECONDS = 1.0


@dataclass(frozen=True)
class Check:
    ok: bool
    seconds: float
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "seconds": round(self.seconds, 4)}
        if self.error is not None:
            body["error"] = self.error
        return body


@dataclass(frozen=True)
class Report:
    checks: dict[str, Check]

    @property
    def failed(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check.ok]


def redis_urls(settings: Settings) -> list[str]:
    """The Redis servers this process uses (rate limits; Reflex's state)."""
    urls = [settings.redis_url, os.environ.get("REFLEX_REDIS_URL")]
    return list(dict.fromkeys(url.strip() for url in urls if url and url.strip()))


async def storage_ready(services: Services) -> None:
    """The file storage answers (`CHATKIT_STORAGE_URL`: the local directory is there and
    writable; an S3 bucket answers a HEAD)."""
    await services.storage.ready()


def in_daemon_thread(fn: Callable[[], T]) -> Future[T]:
    """`fn` on a thread of its own that does not hold up the process's exit: a check stuck
    on a service that hangs must not keep a stopping worker alive."""
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name="readyz", daemon=True).start()
    return future


class Readiness:
    """The checks of one process (see the module's docstring)."""

    def __init__(self, services: Callable[[], Services], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._services = services
        self._clock = clock
        self._stuck: dict[str, Future[Any]] = {}
        self._tasks: dict[str, asyncio.Future[None]] = {}
        self._running: asyncio.Future[Report] | None = None
        self._last: tuple[float, Report] | None = None

    async def report(self, within: float) -> Report:
        if self._last is not None and self._clock() - self._last[0] < REUSE_SECONDS:
            return self._last[1]
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._run(within))
        report = await asyncio.shield(self._running)
        if self._last is None or self._last[1].failed != report.failed:
            _log_change(report)
        self._last = (self._clock(), report)
        return report

    async def _run(self, within: float) -> Report:
        started = time.perf_counter()
        try:
            services = await self._blocking("services", self._services, within)
        except Exception as exc:  # not started yet, or the database refused at start
            check = Check(False, time.perf_counter() - started, _describe(exc, within))
            return Report({"database": check})
        checks: dict[str, Awaitable[Check]] = {
            "database": self._timed(lambda: self._blocking("database", lambda: _ping(services), within), within)
        }
        urls = redis_urls(services.settings)
        if urls:
            checks["redis"] = self._timed(lambda: _ping_redis(urls, within), within)
        checks["storage"] = self._timed(lambda: self._single("storage", lambda: storage_ready(services)), within)
        results = await asyncio.gather(*checks.values())
        return Report(dict(zip(checks, results, strict=True)))

    async def _timed(self, check: Callable[[], Awaitable[object]], within: float) -> Check:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(check(), within)
        except Exception as exc:
            return Check(False, time.perf_counter() - started, _describe(exc, within))
        return Check(True, time.perf_counter() - started)

    async def _single(self, name: str, check: Callable[[], Awaitable[None]]) -> None:
        """`check` in a task of its own, at most one at a time per `name`: a check whose
        awaiter timed out keeps running (its worker thread cannot be stopped, e.g. on a
        hung mount), and another must not pile a new thread on top each probe."""
        previous = self._tasks.get(name)
        if previous is not None and not previous.done():
            raise StillWaiting
        task = asyncio.ensure_future(check())
        task.add_done_callback(_retrieved)
        self._tasks[name] = task
        await asyncio.shield(task)

    async def _blocking(self, name: str, fn: Callable[[], T], within: float) -> T:
        """`fn` off the event loop, at most one at a time per `name`."""
        previous = self._stuck.get(name)
        if previous is not None and not previous.done():
            raise StillWaiting
        future = in_daemon_thread(fn)
        self._stuck[name] = future
        return await asyncio.wait_for(asyncio.wrap_future(future), within)


def _log_change(report: Report) -> None:
    """A line when readiness changes (not one per probe)."""
    if report.failed:
        named = ", ".join(f"{name} ({report.checks[name].error})" for name in report.failed)
        logger.warning("not ready: %s", named)
    else:
        logger.info("ready: %s", ", ".join(report.checks))


def _retrieved(task: asyncio.Future[None]) -> None:
    """Marks the outcome of a check nobody awaits any more as seen (no warning at exit)."""
    if not task.cancelled():
        task.exception()


class StillWaiting(Exception):
    """The previous check of this service has not come back yet."""


def _ping(services: Services) -> None:
    with services.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def _ping_redis(urls: list[str], within: float) -> None:
    from redis.asyncio import Redis

    for url in urls:
        client = Redis.from_url(url, socket_connect_timeout=within, socket_timeout=within)
        try:
            await client.ping()  # type: ignore[misc]  # redis-py types it for both clients
        finally:
            await client.aclose()


def _describe(exc: BaseException, within: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {within:g} s"
    if isinstance(exc, StillWaiting):
        return "the previous check has not come back yet"
    return type(exc).__name__
