"""Owning a turn: `streaming` with a lease (turn_lease.py) and the last turn's failure.

A turn is taken by one background task at a time; the others wait for it to end, or for
its lease to expire (its process died: the flag was kept with the tab's state). The
owner refreshes the heartbeat at every flush and checks it still holds the lease; an
expired turn is ended by whoever finds it, keeping what arrived and offering Retry.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import reflex as rx

from chatkit_app.ui.native.chat_base import ChatBase
from chatkit_app.ui.native.message_model import ChatMessage
from chatkit_app.ui.native.turn_failures import NO_FAILURE, SERVER_STOPPED, TurnFailure
from chatkit_app.ui.native.turn_lease import (
    LEASE_SECONDS,
    LIVE_OWNERS,
    NO_LEASE,
    Lease,
    expired,
    held_by,
    remaining,
    renewed,
    stale_here,
    taken,
)
from chatkit_app.ui.native.turn_rules import without_placeholder
from chatkit_app.ui.native.workflow_items import settled

QUEUE_POLL_SECONDS = 0.05
MAX_WATCH_SECONDS = 600.0  # a lease watch gives up after this (the next event checks again)


class TurnState(ChatBase, mixin=True):
    streaming: bool = False
    progress: str = ""
    failure: TurnFailure = NO_FAILURE  # the last turn's, shown as a card under it
    notice: str = ""  # an agent's notice (info / warning / danger), shown until the next message
    _lease: Lease = NO_LEASE
    _stop_requested: bool = False

    if TYPE_CHECKING:  # MessageWindow's, mixed into NativeChatState
        messages: list[ChatMessage]

        def _bound_window(self) -> None: ...

    @rx.var
    def failed(self) -> bool:
        return self.failure.title != ""

    async def _take_turn(self, owner: str) -> None:
        """Wait for the turn that runs (if any) to end or expire, then own the next one."""
        LIVE_OWNERS.add(owner)
        while True:
            async with self:
                now = time.time()
                if self.streaming and (expired(self._lease, now) or stale_here(self._lease)):
                    self._end_stale_turn()
                if not self.streaming:
                    self.streaming, self._lease = True, taken(owner, now)
                    self._stop_requested, self.error, self.progress, self.notice = False, "", "", ""
                    self.failure = NO_FAILURE
                    return
            await asyncio.sleep(QUEUE_POLL_SECONDS)

    def _holds(self, owner: str) -> bool:
        """Under the state lock: whether `owner` still runs the turn (heartbeat refreshed)."""
        lease = renewed(self._lease, owner, time.time())
        if lease is None:
            return False
        self._lease = lease
        return True

    def _give_back(self, owner: str) -> None:
        """Under the state lock: the turn is over (done, stopped, failed, or refused)."""
        LIVE_OWNERS.discard(owner)
        if held_by(self._lease, owner):
            self._end_reply()

    def _close_reply(self) -> None:
        """One streamed reply is over (done, stopped or failed): an empty placeholder
        goes, no workflow keeps spinning, the window is bounded again."""
        messages = [settled(m) if m.role == "workflow" and not m.done else m for m in self.messages]
        self.messages = without_placeholder(messages)
        self._bound_window()

    def _end_reply(self) -> None:
        self._close_reply()
        self.streaming, self.progress, self._lease = False, "", NO_LEASE

    def _end_stale_turn(self) -> None:
        """A turn whose owner is gone: what arrived stays, Retry is offered."""
        self._end_reply()
        self.failure = SERVER_STOPPED

    async def _watch_lease(self) -> None:
        """While a turn runs elsewhere: end it as soon as its lease expires (its process
        died), so the stop button goes and the next message can go through."""
        deadline = time.monotonic() + MAX_WATCH_SECONDS
        while time.monotonic() < deadline:
            async with self:
                if not self.streaming or self._lease.owner in LIVE_OWNERS:
                    return  # nothing runs, or a task of this process runs it and will end it
                now = time.time()
                if expired(self._lease, now) or stale_here(self._lease):
                    self._end_stale_turn()
                    return
                wait = remaining(self._lease, now)
            await asyncio.sleep(min(wait + 0.05, LEASE_SECONDS))
