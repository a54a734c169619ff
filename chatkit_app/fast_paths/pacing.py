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
refused connections are connection errors, not connect timeouts. A request made with
`on_request_sent(callback)` calls `callback` once its bytes are handed to the socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx2
import openai
from aiohttp import ClientResponse
from openai._vendor.httpx_aiohttp.transport import AiohttpResponseStream, AiohttpTransport, map_aiohttp_exceptions

_DELTA = b'"delta":'  # Responses text deltas and Chat Completions chunks both carry one


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
        self._pacer = pacer
        # Until it is first read, the body waits in the kernel: a call made early
        # (`model_client`) is read only once its answer is being streamed, not byte by byte
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
        response = self._aiohttp_response
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
    if content.exception() is None or not content._buffer:
        return b""
    return content._read_nowait(-1)


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


# Called when the request made in this context has its bytes on the socket (see
# `on_request_sent`); aiohttp writes a body in a task of its own, which inherits it.
_ON_SENT: ContextVar[Callable[[], None] | None] = ContextVar("chatkit_on_request_sent", default=None)


def on_request_sent(callback: Callable[[], None]) -> None:
    """Requests made from here on in this context call `callback` as their body is
    handed to the socket (run the request in a task of its own to scope it)."""
    _ON_SENT.set(callback)


async def _chunk_sent(*_: Any) -> None:
    callback = _ON_SENT.get()
    if callback is not None:
        callback()


_SENT_TRACE = aiohttp.TraceConfig()
_SENT_TRACE.on_request_chunk_sent.append(_chunk_sent)
_SENT_TRACE.freeze()


class PacedAiohttpTransport(AiohttpTransport):
    def __init__(self, *args: Any, pacer: ReadPacer = PACER, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pacer = pacer

    def get_client(self) -> aiohttp.ClientSession:
        session = super().get_client()
        if _SENT_TRACE not in session.trace_configs:
            session.trace_configs.append(_SENT_TRACE)  # read by aiohttp for each request
        return session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            response = await super().handle_async_request(request)
        except httpx2.ConnectTimeout as exc:
            # The vendored transport maps every aiohttp connection error to a connect
            # timeout; a refused connection (a connector error that is no timeout) is not.
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, TimeoutError):
                raise httpx2.ConnectError(str(exc), request=request) from cause
            raise
        if isinstance(response.stream, AiohttpResponseStream):
            response.stream = PacedResponseStream(response.stream._aiohttp_response, self.pacer)
        return response


class PacedAioHttpClient(openai.DefaultAioHttpClient):
    """`openai.DefaultAioHttpClient` whose transports (direct and through proxies) pace."""

    def _init_transport(self, *args: Any, transport: httpx2.AsyncBaseTransport | None = None, **kwargs: Any) -> Any:
        return transport if transport is not None else PacedAiohttpTransport(*args, **kwargs)

    def _init_proxy_transport(self, proxy: httpx2.Proxy, *args: Any, **kwargs: Any) -> Any:
        return PacedAiohttpTransport(*args, proxy=proxy, **kwargs)
