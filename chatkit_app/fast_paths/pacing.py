"""Reading model streams in fewer, larger pieces when many are open at once.

Every read of a model stream costs the same fixed work however little it carries: a
wake-up and a socket read, the HTTP and SSE layers, the SDKs' per-event layers (openai,
Agents, ChatKit), one SSE frame and one socket write to the browser. A model sends a token
every few milliseconds; read as it arrives, 50 streams mean ~10,000 such rounds a second,
more than one core can do (bench/streaming.py), and everyone's answer slows down.

So while a stream is sending text, it is read at most once per `interval()`, which grows
with the number of streams open in the process: nothing with one stream, `open / rate`
seconds with more (10 ms with 10 streams), at most `max_interval` (50 ms, from 50 streams
on). In between, the connection is not read at all (aiohttp's flow control pauses it), so
what the model sent waits in the kernel and arrives in one socket read, one HTTP chunk
for the SDK and one merged text delta. The process then reads about `rate` times a second
in all, whatever the load. Nothing is lost or reordered; only when bytes are read
changes. The pause follows only a read that carried a delta, so the first token, and the
first after a tool call or a slow start, is read the moment it comes.

`PacedAioHttpClient` is the openai SDK's aiohttp client (`openai.DefaultAioHttpClient`:
same defaults, proxies from the environment) whose responses are read this way, and whose
refused connections are connection errors, not connect timeouts. A request carrying a
callback in its `ON_REQUEST_SENT` extension calls it once its bytes are handed to the
socket (an early model call: `early_call`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import httpx2
from aiohttp import ClientResponse

from chatkit_app.fast_paths.internals import (
    AioHttpClientHooks,
    AiohttpResponseStream,
    AiohttpTransport,
    aiohttp_response_of,
    map_aiohttp_exceptions,
    take_buffered,
)

_DELTA = b'"delta":'  # Responses text deltas and Chat Completions chunks both carry one
# The httpx2 request extension holding a callback for when the request's bytes are sent.
ON_REQUEST_SENT = "chatkit_app.on_request_sent"


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


PACER = ReadPacer()


class PacedResponseStream(AiohttpResponseStream):
    """A response body read as `pacer` says: each read returns everything received so
    far; after one that carried a delta, the connection rests until the interval is up."""

    def __init__(self, response: ClientResponse, pacer: ReadPacer) -> None:
        super().__init__(response)
        self._response = response
        self._pacer = pacer
        # Until it is first read, the body waits in the kernel: a call made early
        # (`early_call`) is read only once its answer is being streamed, not byte by byte
        # while the server is still busy setting it up.
        self._held = _pause(response)

    def _release(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            if not held.is_closing():
                held.resume_reading()

    async def aclose(self) -> None:
        self._release()
        await super().aclose()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._release()
        response = self._response
        loop = asyncio.get_running_loop()
        last, hold = 0.0, False
        with self._pacer.stream(), map_aiohttp_exceptions():
            while True:
                # Once the whole body has arrived the connection may already serve another
                # request: it is never paused then (and nothing more would come anyway).
                if hold and not response.content.is_eof() and (wait := last + self._pacer.interval() - loop.time()) > 0:
                    await _rest(_transport(response), wait)
                chunk = _buffered_before_failure(response.content) or await response.content.readany()
                if not chunk:
                    return
                last, hold = loop.time(), _DELTA in chunk
                yield chunk


def _transport(response: ClientResponse) -> asyncio.Transport | None:
    """The transport of the connection the response is read from, looked up each time:
    aiohttp may release the connection once the body has arrived."""
    connection = response.connection
    return connection.transport if connection is not None else None


def _pause(response: ClientResponse) -> asyncio.Transport | None:
    """Stops reading the response's connection, unless its body has all arrived (the
    connection may then serve another request already); returns the paused transport."""
    transport = _transport(response)
    if transport is None or response.content.is_eof() or not transport.is_reading():
        return None
    transport.pause_reading()
    return transport


def _buffered_before_failure(content: aiohttp.StreamReader) -> bytes:
    """The bytes that arrived before the connection failed: aiohttp's readers raise the
    failure at once, dropping them (the last tokens of an answer cut off mid-way)."""
    if content.exception() is None:
        return b""
    return take_buffered(content)


async def _rest(transport: asyncio.Transport | None, seconds: float) -> None:
    """Leaves the connection unread for `seconds` (the kernel keeps what arrives)."""
    if transport is None or not transport.is_reading():
        await asyncio.sleep(seconds)
        return
    transport.pause_reading()
    try:
        await asyncio.sleep(seconds)
    finally:
        if not transport.is_closing():
            transport.resume_reading()


async def _chunk_sent(_session: aiohttp.ClientSession, context: SimpleNamespace, _params: Any) -> None:
    if context.on_sent is not None:
        context.on_sent()


class PacedAiohttpTransport(AiohttpTransport):
    """The SDK's aiohttp transport, its responses read paced (`pacer`), a refused
    connection a connection error, and each request's `ON_REQUEST_SENT` callback called
    as its bytes go out (through aiohttp's request tracing: aiohttp makes a request's
    trace context in the task that sends it, where `_sending` names its callback)."""

    def __init__(self, *args: Any, pacer: ReadPacer = PACER, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pacer = pacer
        self._sending: dict[asyncio.Task[Any] | None, Callable[[], None]] = {}
        # aiohttp calls the factory as it would a class: `factory(trace_request_ctx=...)`.
        factory = cast(type[SimpleNamespace], self._trace_context)
        self._trace = aiohttp.TraceConfig(trace_config_ctx_factory=factory)
        self._trace.on_request_chunk_sent.append(_chunk_sent)
        self._trace.freeze()

    def _trace_context(self, trace_request_ctx: Any = None) -> SimpleNamespace:
        return SimpleNamespace(on_sent=self._sending.get(asyncio.current_task()), trace_request_ctx=trace_request_ctx)

    def get_client(self) -> aiohttp.ClientSession:
        session = super().get_client()
        if self._trace not in session.trace_configs:
            session.trace_configs.append(self._trace)  # read by aiohttp for each request
        return session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        on_sent = request.extensions.get(ON_REQUEST_SENT)
        task = asyncio.current_task()
        if on_sent is not None:
            self._sending[task] = on_sent
        try:
            response = await super().handle_async_request(request)
        except httpx2.ConnectTimeout as exc:
            # The vendored transport maps every aiohttp connection error to a connect
            # timeout; a refused connection (a connector error that is no timeout) is not.
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, TimeoutError):
                raise httpx2.ConnectError(str(exc), request=request) from cause
            raise
        finally:
            if on_sent is not None:
                self._sending.pop(task, None)
        if isinstance(response.stream, AiohttpResponseStream):
            response.stream = PacedResponseStream(aiohttp_response_of(response.stream), self.pacer)
        return response


class PacedAioHttpClient(AioHttpClientHooks):
    """`openai.DefaultAioHttpClient` whose transports (direct and through proxies) pace."""

    def make_transport(self, **options: Any) -> httpx2.AsyncBaseTransport:
        return PacedAiohttpTransport(**options)
