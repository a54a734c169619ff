"""Requests that just arrived reach their model call before started answers set up further.

An answer's request first does a little (authenticate, parse, send the model call: about
1 ms) and then a lot (save the thread, set the Agents SDK run up: a few ms) while the model
works on its first token. When many arrive at once, every await lets all the others run,
so without an order the model calls of the last arrivals wait behind everyone's set-up,
their models start late, and their answers end late (bench/streaming.py at 50 streams:
the aggregate rate ~0.78x the floor's without this, ~0.81x with it). Here a request is
*arriving* from `arrive()` (the endpoint has its body: nothing left to wait for from the
client, so a slow client cannot hold others up) until `done()`, once its model call's
request is on the socket (`AgentRunner.start_early`: sent in a task of its own, it would
otherwise go out only after the setups already running). An answer that has sent its
model call waits (`wait_turn`) until nobody is arriving, for at most `max_wait`, before
it sets up."""

from __future__ import annotations

import asyncio


class Arrival:
    __slots__ = ("_gate", "_open")

    def __init__(self, gate: HeadStart) -> None:
        self._gate, self._open = gate, True

    def done(self) -> None:
        if self._open:
            self._open = False
            self._gate._left()


class HeadStart:
    def __init__(self, max_wait: float = 0.05) -> None:
        self.max_wait = max_wait
        self.arriving = 0
        self._quiet: asyncio.Event | None = None

    def arrive(self) -> Arrival:
        self.arriving += 1
        if self._quiet is not None:
            self._quiet.clear()
        return Arrival(self)

    def _left(self) -> None:
        self.arriving -= 1
        if self.arriving == 0 and self._quiet is not None:
            self._quiet.set()

    async def wait_turn(self) -> None:
        if self.arriving == 0:
            return
        if self._quiet is None:
            self._quiet = asyncio.Event()
        try:
            await asyncio.wait_for(self._quiet.wait(), self.max_wait)
        except TimeoutError:
            pass
