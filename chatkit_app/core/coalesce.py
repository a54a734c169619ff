"""Merging what is already waiting in a stream, so a busy server sends fewer, larger pieces.

`coalesce(source, key, join)` yields `source`'s items in order, as soon as each arrives: it
never waits for more. A background task reads `source` into a buffer; when the consumer
comes back for the next item and several are already buffered, each run of adjacent items
with the same non-None `key` is `join`ed into one. An idle stream therefore passes every
item through alone (nothing is delayed), and a stream whose consumer fell behind catches up
in one step per run instead of one per item: every layer after it (for a Responses stream,
from the openai SDK's JSON parsing and validation on: `fast_paths.sse.FastSSEDecoder`; then
the Agents SDK's run loop and queues, ChatKit's conversion, persistence bookkeeping and
serialization, one SSE frame and one socket write) works per run.

Nothing is lost or reordered: items are only ever concatenated with their neighbours, an
error raised by `source` reaches the consumer after every item read before it, and closing
the consumer cancels the reader (which closes `source`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


async def coalesce(
    source: AsyncIterator[T],
    key: Callable[[T], Hashable | None],
    join: Callable[[list[T]], T],
) -> AsyncGenerator[T, None]:
    buffer: deque[T] = deque()
    error: list[BaseException] = []
    finished = False
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] | None = None

    def wake() -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read() -> None:
        nonlocal finished
        try:
            async for item in source:
                buffer.append(item)
                wake()
        except Exception as exc:  # handed to the consumer, after the items before it
            error.append(exc)
        finally:
            finished = True
            wake()

    reader = asyncio.create_task(read(), name="coalesce-reader")
    try:
        while True:
            if not buffer:
                if finished:
                    break
                waiter = loop.create_future()
                await waiter
                waiter = None
                continue
            item = buffer.popleft()
            group = key(item)
            if group is not None and buffer and key(buffer[0]) == group:
                run = [item]
                while buffer and key(buffer[0]) == group:
                    run.append(buffer.popleft())
                item = join(run)
            yield item
        if error:
            raise error[0]
    finally:
        if not reader.done():
            reader.cancel()
            await asyncio.wait([reader])
