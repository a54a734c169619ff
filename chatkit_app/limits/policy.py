"""`LimitPolicy`: every quota and rate limit of the app, in one place.

Built once per process (`Services.limits`) from the `CHATKIT_LIMIT_*` settings (0 turns
one off) and called where both chat UIs pass: the session issuer, our ChatKit server and
its attachment store. Over a limit it raises the app's errors: `RateLimited` (code
`rate_limited`) for rates that free up within minutes, `QuotaExceeded`
(`quota_exceeded`) for daily allowances and standing caps, both with `retry_after`
seconds (the `Retry-After` header) when waiting helps, and a message in plain words.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from chatkit_app.errors import QuotaExceeded, RateLimited
from chatkit_app.limits.ledger import WINDOW_SECONDS, Ledger
from chatkit_app.limits.rates import Counters, Rule, Storage
from chatkit_app.limits.wording import count, size, wait
from chatkit_app.ops import metrics
from chatkit_app.settings import Settings


@dataclass(frozen=True)
class Quotas:
    """The numbers, from the settings; 0 turns a limit off."""

    identities_per_hour: int = 0
    sessions_per_minute: int = 0
    messages_per_minute: int = 0
    lookups_per_minute: int = 0
    threads_per_day: int = 0
    upload_bytes_per_day: int = 0
    pending_uploads: int = 0
    model_tokens_per_day: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Quotas:
        return cls(
            identities_per_hour=settings.chatkit_limit_identities_per_hour,
            sessions_per_minute=settings.chatkit_limit_sessions_per_minute,
            messages_per_minute=settings.chatkit_limit_messages_per_minute,
            lookups_per_minute=settings.chatkit_limit_lookups_per_minute,
            threads_per_day=settings.chatkit_limit_threads_per_day,
            upload_bytes_per_day=settings.chatkit_limit_upload_bytes_per_day,
            pending_uploads=settings.chatkit_limit_pending_uploads,
            model_tokens_per_day=settings.chatkit_limit_model_tokens_per_day,
        )


def address_key(address: str) -> str:
    """What a per-address limit counts by: the IPv4 address, or the IPv6 /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)


class LimitPolicy:
    def __init__(
        self, quotas: Quotas, storage: Storage, ledger: Ledger, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.quotas = quotas
        self.storage = storage
        self.ledger = ledger
        self._counters = Counters(storage)
        self._clock = clock
        self._identities = Rule("identities", quotas.identities_per_hour, "hour")
        self._sessions = Rule("sessions", quotas.sessions_per_minute, "minute")
        self._messages = Rule("messages", quotas.messages_per_minute, "minute")
        self._lookups = Rule("lookups", quotas.lookups_per_minute, "minute")
        self._threads = Rule("threads", quotas.threads_per_day, "day")
        self._upload_bytes = Rule("upload_bytes", quotas.upload_bytes_per_day, "day", weighted=True)

    # --- rates -------------------------------------------------------------------------
    async def identity(self, address: str) -> None:
        """A new anonymous identity for a visitor from `address` (client IP). IPv6 counts
        per /64: one home or host has a whole /64 of addresses to rotate through."""
        seconds = await self._counters.hit(self._identities, address_key(address))
        if seconds is not None:
            raise RateLimited(
                f"Too many new visitors from your network: at most {count(self._identities.amount)} an hour; "
                f"try again in {wait(seconds)}.",
                retry_after=_ceil(seconds),
            )

    async def session(self, user_id: str) -> None:
        """A new chat session for `user_id` (refreshes are not counted)."""
        seconds = await self._counters.hit(self._sessions, user_id)
        if seconds is not None:
            raise RateLimited(
                f"You can open {count(self._sessions.amount, 'chat session')} a minute; try again in {wait(seconds)}.",
                retry_after=_ceil(seconds),
            )

    async def message(self, user_id: str, *, starts_thread: bool = False) -> None:
        """A message sent (or an answer retried) by `user_id`; `starts_thread`: it also
        starts a new thread, which counts against the daily thread quota. Both are checked
        before either is counted, so a refused request costs nothing."""
        if starts_thread:
            seconds = await self._counters.check(self._threads, user_id)
            if seconds is not None:
                raise self._thread_error(seconds)
        seconds = await self._counters.hit(self._messages, user_id)
        if seconds is not None:
            raise RateLimited(
                f"You can send {count(self._messages.amount, 'message')} a minute; try again in {wait(seconds)}.",
                retry_after=_ceil(seconds),
            )
        if starts_thread:
            await self.thread(user_id)

    async def lookup(self, user_id: str) -> None:
        """An entity preview or tag search asked by `user_id` (the app's own handlers run)."""
        seconds = await self._counters.hit(self._lookups, user_id)
        if seconds is not None:
            raise RateLimited(
                f"Too many lookups: at most {count(self._lookups.amount)} a minute; try again in {wait(seconds)}.",
                retry_after=_ceil(seconds),
            )

    async def thread(self, user_id: str) -> None:
        """A new thread started by `user_id`."""
        seconds = await self._counters.hit(self._threads, user_id)
        if seconds is not None:
            raise self._thread_error(seconds)

    def _thread_error(self, seconds: float) -> QuotaExceeded:
        return QuotaExceeded(
            f"You can start {count(self._threads.amount, 'chat')} a day; try again in {wait(seconds)}.",
            retry_after=_ceil(seconds),
        )

    # --- uploads -----------------------------------------------------------------------
    async def new_upload(self, user_id: str, declared_bytes: int) -> None:
        """Before an attachment is created: the user's unsent uploads are under the cap,
        and its declared size fits what is left of today's upload bytes."""
        cap = self.quotas.pending_uploads
        if cap > 0 and await self.ledger.pending_uploads(user_id) >= cap:
            metrics.limit_refused("pending_uploads")
            raise QuotaExceeded(
                f"You can have {count(cap, 'file{s} waiting')} to be sent; send or remove some first.",
                retry_after=None,
            )
        seconds = await self._counters.check(self._upload_bytes, user_id, cost=max(declared_bytes, 1))
        if seconds is not None:
            raise await self._bytes_error(user_id, seconds)

    async def reserve_upload(self, user_id: str, nbytes: int) -> None:
        """Count `nbytes` of an upload as they arrive, refusing the ones that would pass
        today's quota (the caller then discards the partial file)."""
        seconds = await self._counters.hit(self._upload_bytes, user_id, cost=nbytes)
        if seconds is not None:
            raise await self._bytes_error(user_id, seconds)

    async def _bytes_error(self, user_id: str, seconds: float) -> QuotaExceeded:
        left = await self._counters.remaining(self._upload_bytes, user_id)
        return QuotaExceeded(
            f"You can upload {size(self._upload_bytes.amount)} a day and have {size(left)} left; "
            f"try again in {wait(seconds)}.",
            retry_after=_ceil(seconds),
        )

    # --- model tokens ------------------------------------------------------------------
    async def answer(self, user_id: str, *, spent: int = 0) -> None:
        """Before an answer starts, and before each further model call of it (tool rounds,
        handoffs): the user's model tokens over the last 24 hours, plus the `spent` tokens
        of the answer so far (not stored yet), are under the daily quota."""
        quota = self.quotas.model_tokens_per_day
        if quota <= 0:
            return
        now = int(self._clock())
        since = now - WINDOW_SECONDS
        if await self.ledger.tokens_since(user_id, since) + spent < quota:
            return
        metrics.limit_refused("model_tokens")
        seconds = max(1, await self.ledger.frees_at(user_id, since, quota) - now)
        raise QuotaExceeded(
            f"You can use {count(quota, 'model token')} a day; try again in {wait(seconds)}.",
            retry_after=seconds,
        )

    async def record_tokens(self, user_id: str, thread_id: str | None, item_id: str | None, tokens: int) -> None:
        """Store what one answer cost, as the model reported it."""
        if tokens > 0:
            await self.ledger.record(user_id, thread_id, item_id, tokens, int(self._clock()))

    async def sweep_usage(self, *, now: float | None = None) -> int:
        """Delete usage rows that left the 24-hour window; how many."""
        return await self.ledger.sweep(int(self._clock() if now is None else now) - WINDOW_SECONDS)


def _ceil(seconds: float) -> int:
    return max(1, math.ceil(seconds))
