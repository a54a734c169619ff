"""A turn's state under its lease, on a plain object (a Reflex state needs an app): the
owner keeps it by beating, an expired turn ends keeping what arrived, and an owner whose
turn was taken over leaves the state alone."""

from __future__ import annotations

import asyncio
import time

from chatkit_app.ui.native.item_events import PENDING
from chatkit_app.ui.native.message_model import ChatMessage
from chatkit_app.ui.native.turn_failures import NO_FAILURE, SERVER_STOPPED
from chatkit_app.ui.native.turn_lease import LEASE_SECONDS, LIVE_OWNERS, NO_LEASE, taken
from chatkit_app.ui.native.turn_state import TurnState
from chatkit_app.ui.native.window import MessageWindow


class Turns:
    _take_turn = TurnState._take_turn
    _holds = TurnState._holds
    _give_back = TurnState._give_back
    _close_reply = TurnState._close_reply
    _end_reply = TurnState._end_reply
    _end_stale_turn = TurnState._end_stale_turn
    _watch_lease = TurnState._watch_lease
    _bound_window = MessageWindow._bound_window

    def __init__(self) -> None:
        self.messages: list[ChatMessage] = []
        self.streaming, self.progress, self.error, self.notice = False, "", "", ""
        self.failure, self._lease, self._stop_requested = NO_FAILURE, NO_LEASE, False
        self.whole_id, self.has_earlier = "", False

    async def __aenter__(self) -> Turns:  # `async with self`, as a background task's state proxy
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def _stuck(beat: float) -> Turns:
    """A turn left behind by a process that died while the answer streamed."""
    turns = Turns()
    turns.messages = [
        ChatMessage(id="u1", role="user", text="hi"),
        ChatMessage(id=PENDING, role="assistant", text="half an ans", truncated=False),
    ]
    turns.streaming, turns._lease = True, taken("deadhost:1:x:y", beat)
    return turns


def test_a_new_turn_waits_for_a_live_one_and_takes_an_expired_one() -> None:
    turns = _stuck(time.time() - LEASE_SECONDS - 1)
    asyncio.run(asyncio.wait_for(turns._take_turn("me"), 2))
    try:
        assert turns._lease.owner == "me" and turns.streaming
        assert turns.messages[-1].text == "half an ans"  # what arrived stays
        assert turns.failure == NO_FAILURE  # the new turn starts clean
    finally:
        LIVE_OWNERS.discard("me")

    live = _stuck(time.time())  # its owner (another process) beats: the new turn waits

    async def waits() -> bool:
        try:
            await asyncio.wait_for(live._take_turn("me2"), 0.3)
        except TimeoutError:
            return True
        return False

    assert asyncio.run(waits())
    LIVE_OWNERS.discard("me2")


def test_the_watch_ends_a_dead_turn_keeping_what_arrived_and_offering_retry() -> None:
    turns = _stuck(time.time() - 0.2)  # expires in a few seconds
    started = time.monotonic()
    asyncio.run(asyncio.wait_for(turns._watch_lease(), LEASE_SECONDS + 3))
    assert LEASE_SECONDS - 1 < time.monotonic() - started < LEASE_SECONDS + 2
    assert not turns.streaming and turns._lease == NO_LEASE
    assert turns.failure == SERVER_STOPPED
    assert [m.text for m in turns.messages] == ["hi", "half an ans"]


def test_an_owner_whose_turn_was_taken_over_leaves_it_alone() -> None:
    turns = _stuck(time.time())
    turns._lease = taken("newer", time.time())
    assert not turns._holds("deadhost:1:x:y")
    turns._give_back("deadhost:1:x:y")
    assert turns.streaming and turns._lease.owner == "newer"
    assert turns._holds("newer")
    turns._give_back("newer")
    assert not turns.streaming
