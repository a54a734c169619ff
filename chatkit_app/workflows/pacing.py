"""Reading model streams in fewer, larger pieces when many are open at once.

Every read of a model stream costs the same fixed work however little it carries: a
wake-up, the HTTP and SSE layers, the SDKs' per-event layers (openai, Agents, ChatKit), one
SSE frame and one socket write to the browser. A model sends a token every few
milliseconds; read as it arrives, 50 streams mean ~10,000 such rounds a second, more than
one core can do (bench/streaming.py), and everyone's answer slows down.

So while a stream is sending text, it is read at most once per `interval()`, which grows
with the number of streams open in the process: nothing with one stream, `open / rate`
seconds with more (10 ms with 10 streams), at most `max_interval` (50 ms, from 50 streams
on). The process then reads about `rate` times a second in all, whatever the load, and
what a stream sent in between (buffered by the transport) arrives in one read and goes on
as one merged text delta. Nothing is lost or reordered; only when bytes are read changes.
The pause applies only after a read that carried text, so the first token, and the first
after a tool call or a slow start, is read the moment it comes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class ReadPacer:
    """Counts the model streams open in this process and says how long each waits
    between reads. 50 ms at most: 20 updates a second, still read as typing."""

    rate: float = 1000.0  # reads per second, all streams together
    max_interval: float = 0.05
    open_streams: int = 0

    def interval(self) -> float:
        if self.open_streams <= 1:
            return 0.0
        return min(self.max_interval, self.open_streams / self.rate)

    @contextmanager
    def stream(self) -> Iterator[None]:
        self.open_streams += 1
        try:
            yield
        finally:
            self.open_streams -= 1


class PacedReads:
    """`chunks`, pulled no sooner than `pacer.interval()` after the previous pull when the
    reader set `hold` (it did for a chunk that carried text)."""

    def __init__(self, chunks: AsyncIterator[bytes], pacer: ReadPacer) -> None:
        self._chunks = chunks
        self._pacer = pacer
        self._loop = asyncio.get_running_loop()
        self._last = 0.0
        self.hold = False

    def __aiter__(self) -> PacedReads:
        return self

    async def __anext__(self) -> bytes:
        if self.hold:
            wait = self._last + self._pacer.interval() - self._loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        chunk = await anext(self._chunks)
        self._last = self._loop.time()
        return chunk


PACER = ReadPacer()
