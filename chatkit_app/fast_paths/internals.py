"""Every private name of a dependency that the app relies on, looked up here and nowhere else.

Each name below says what we assume of it. tests/unit/test_fast_path_internals.py checks
every assumption, by name, at the pinned versions (openai 3.57, openai-agents 0.24,
openai-chatkit 1.6.5, aiohttp 3.14, reflex 0.10): an upgrade that renames or changes one
fails there first, and `CHATKIT_FAST_PATHS=off` runs the app without the speed-ups that
use them, and never imports this module (`plain_internals` holds the private names used
on every path, looked up so that their absence cannot stop an import).

Private methods we replace are replaced by subclasses here (`ClientHooks`,
`AioHttpClientHooks`, `SSEDecoderFields`) or per instance
(`write_frames_with`), each routing to a hook with a public name that the fast paths fill in.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any, TypeVar

import aiohttp
import httpx2
import openai
from agents import Agent
from agents import _run_state_agent_identity as _agent_identity
from agents.models.openai_responses import _HEADERS_OVERRIDE
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.types import ChatKitReq, is_streaming_req
from openai import _base_client, _compat, _streaming, _utils
from openai._vendor.httpx_aiohttp import transport as _aiohttp_transport
from pydantic import BaseModel

T = TypeVar("T")

__all__ = [
    "PLATFORM",
    "AioHttpClientHooks",
    "AiohttpResponseStream",
    "AiohttpTransport",
    "ClientHooks",
    "SSEDecoder",
    "SSEDecoderFields",
    "ServerSentEvent",
    "agent_graph",
    "agents_responses_headers",
    "aiohttp_response_of",
    "is_given",
    "make_request_options",
    "map_aiohttp_exceptions",
    "model_dump",
    "process_parsed",
    "replace_agent_identity_map",
    "stream_parsed",
    "take_buffered",
    "write_frames_with",
]

# --- openai: names used as they are ------------------------------------------------------

ServerSentEvent = _streaming.ServerSentEvent
"""`openai._streaming.ServerSentEvent(event=, data=, id=, retry=)`: one decoded event;
`.event` and `.data` read back what was given, `.json()` parses `.data` (a subclass may
override it: the SDK's streams read an event's JSON only through it)."""

SSEDecoder = _streaming.SSEDecoder
"""`openai._streaming.SSEDecoder`: `aiter_bytes(chunks)` yields the events of a byte
stream (its instance state cleared at the end), `decode(line)` takes one line and returns
an event when the line is blank. Its state: see `SSEDecoderFields`."""

PLATFORM = _base_client.get_platform()
"""`openai._base_client.get_platform()`: the platform named in the SDK's `X-Stainless-OS`
header; it may read files, so it is called once, here, at import."""

make_request_options = _base_client.make_request_options
"""`openai._base_client.make_request_options(extra_headers=, extra_query=, extra_body=,
timeout=, security=)`: the `options` dict the SDK's resources pass to `post`, without
what was not given (a streamed Responses call is built as `AsyncResponses.create` does)."""

model_dump = _compat.model_dump
"""`openai._compat.model_dump(model, exclude_unset=, mode=, exclude=)`: how the SDK dumps
a pydantic model found among a request's parameters (unset fields left out)."""

is_given = _utils.is_given
"""`openai._utils.is_given(value)`: False for `openai.not_given` and `openai.omit`, which
mean "leave this parameter out", True for anything else (None included)."""

AiohttpTransport = _aiohttp_transport.AiohttpTransport
"""`openai._vendor.httpx_aiohttp.transport.AiohttpTransport(**httpx2 transport options,
proxy=)`: the SDK's aiohttp transport for httpx2. `get_client()` makes (or returns) its
aiohttp session; `handle_async_request(request)` answers once the headers are in, its body
an `AiohttpResponseStream`. It maps a refused connection to `httpx2.ConnectTimeout`, the
aiohttp error kept as `__cause__` (the pacing transport corrects that)."""

AiohttpResponseStream = _aiohttp_transport.AiohttpResponseStream
"""`openai._vendor.httpx_aiohttp.transport.AiohttpResponseStream(aiohttp_response)`: the
body of such a response; `aclose()` releases the aiohttp response (see
`aiohttp_response_of`)."""

map_aiohttp_exceptions = _aiohttp_transport.map_aiohttp_exceptions
"""`openai._vendor.httpx_aiohttp.transport.map_aiohttp_exceptions()`: a context manager
raising httpx2's error for an aiohttp one (a cut body: `httpx2.ReadError`), as the
transport does."""


def aiohttp_response_of(stream: AiohttpResponseStream) -> aiohttp.ClientResponse:
    """`AiohttpResponseStream._aiohttp_response`: the aiohttp response whose body the
    stream yields (set by its constructor, the one argument)."""
    response: aiohttp.ClientResponse = stream._aiohttp_response
    return response


class SSEDecoderFields(_streaming.SSEDecoder):
    """`SSEDecoder` with its state for the event being read by name: `_data` (the list of
    the `data:` values so far, joined with newlines into the event's data), `_event` (the
    last `event:` value) and `_reset()` (clears it all, as at the end of a stream). A
    faster decoder adds whole lines to that state through these methods."""

    def add_data(self, value: str) -> None:
        self._data.append(value)

    def set_event(self, value: str) -> None:
        self._event = value

    def reset(self) -> None:
        self._reset()


class ClientHooks(openai.AsyncOpenAI):
    """`openai.AsyncOpenAI`'s private steps as hooks, each doing what the SDK does unless
    a subclass says otherwise:

    - `_make_sse_decoder()`: called once per streamed response for the decoder of its body
      (`sse_decoder`);
    - `_process_response_data(data=, cast_to=, response=)`: called for each streamed
      event's JSON with the stream's event type, e.g. `ResponseStreamEvent` for Responses
      or `ChatCompletionChunk` (`parse_data`);
    - `_prepare_request(request)`: awaited for each request once it is built, before it is
      sent (`prepare_request`, after the SDK's own);
    - `_platform`: the SDK looks the platform up in a worker thread before the first
      request of every client (each `with_options` copy too) unless it is set: here it is
      `PLATFORM` from the start."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._platform = PLATFORM

    def sse_decoder(self) -> SSEDecoder:
        return SSEDecoder()

    def parse_data(self, data: object, cast_to: type[T], response: httpx2.Response) -> T:
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)

    def prepare_request(self, request: httpx2.Request) -> None:
        """Called with each request once the SDK has prepared it."""

    def _make_sse_decoder(self) -> SSEDecoder:
        return self.sse_decoder()

    def _process_response_data(self, *, data: object, cast_to: type[T], response: httpx2.Response) -> T:
        return self.parse_data(data, cast_to, response)

    async def _prepare_request(self, request: httpx2.Request) -> None:
        await super()._prepare_request(request)
        self.prepare_request(request)


class AioHttpClientHooks(openai.DefaultAioHttpClient):
    """`openai.DefaultAioHttpClient` (an httpx2 client on the SDK's aiohttp transport: its
    defaults, proxies from the environment), whose transports come from `make_transport`.
    httpx2 asks `_init_transport(**options, transport=)` for the direct one (a given
    `transport` is used as it is) and `_init_proxy_transport(proxy, **options)` for each
    proxy; the options are httpx2's transport options (verify, cert, trust_env, http1,
    http2, limits)."""

    def make_transport(self, **options: Any) -> httpx2.AsyncBaseTransport:
        return AiohttpTransport(**options)

    def _init_transport(self, *args: Any, transport: httpx2.AsyncBaseTransport | None = None, **kwargs: Any) -> Any:
        return transport if transport is not None else self.make_transport(**_options(args, kwargs))

    def _init_proxy_transport(self, proxy: httpx2.Proxy, *args: Any, **kwargs: Any) -> Any:
        return self.make_transport(**_options(args, kwargs), proxy=proxy)


_TRANSPORT_OPTIONS = ("verify", "cert", "trust_env", "http1", "http2", "limits")


def _options(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    return {**dict(zip(_TRANSPORT_OPTIONS, args, strict=False)), **kwargs}


# --- aiohttp -----------------------------------------------------------------------------


def take_buffered(content: aiohttp.StreamReader) -> bytes:
    """What aiohttp's body reader holds, without waiting: `StreamReader._buffer` (the
    received chunks not read yet) and `_read_nowait(-1)` (takes them all). Its public reads
    raise a connection failure at once, dropping what arrived before it."""
    if not content._buffer:
        return b""
    data: bytes = content._read_nowait(-1)
    return data


# --- openai-agents -----------------------------------------------------------------------


def agents_responses_headers() -> Mapping[str, str]:
    """`agents.models.openai_responses._HEADERS_OVERRIDE`: a context variable holding the
    headers the Agents SDK's Responses model adds to its next call (ChatKit's
    `agents_sdk_user_agent_override()` sets its User-Agent there); None when unset."""
    return _HEADERS_OVERRIDE.get() or {}


def agent_graph(initial_agent: Agent[Any]) -> list[Agent[Any]]:
    """`agents._run_state_agent_identity._iter_agent_graph(agent)`: every agent reachable
    from `agent` through its handoffs, each once, breadth first from `agent`."""
    return list(_agent_identity._iter_agent_graph(initial_agent))


IdentityMap = Callable[[Agent[Any]], dict[str, Agent[Any]]]


def replace_agent_identity_map(make: Callable[[IdentityMap], IdentityMap]) -> None:
    """`agents._run_state_agent_identity._build_agent_identity_map(agent) -> {key: agent}`
    names every agent of the graph (its name, or `name#2`… for agents sharing a name); the
    module's `_build_agent_identity_keys_by_id` calls it through the module's global, twice
    a run (the tool-use tracker and the sandbox's session manager). Replaced there by
    `make(the SDK's function)`, once."""
    sdk = _agent_identity._build_agent_identity_map
    original: IdentityMap = getattr(sdk, "__wrapped__", sdk)
    replacement = make(original)
    replacement.__wrapped__ = original  # type: ignore[attr-defined]
    _agent_identity._build_agent_identity_map = replacement  # type: ignore[assignment]


# --- openai-chatkit ----------------------------------------------------------------------


def write_frames_with(server: ChatKitServer[Any], frame: Callable[[BaseModel], bytes | None]) -> None:
    """Makes `server` write what `frame` writes, and what it declines (None) as the SDK
    does. `ChatKitServer._serialize(obj) -> bytes` writes every event it streams and every
    response it returns; set on the instance, only this server changes."""
    sdk: Callable[[BaseModel], bytes] = server._serialize

    def serialize(obj: BaseModel) -> bytes:
        written = frame(obj)
        return written if written is not None else sdk(obj)

    server._serialize = serialize  # type: ignore[method-assign]


def stream_parsed(server: ChatKitServer[Any], request: ChatKitReq, context: Any) -> AsyncGenerator[bytes, None]:
    """`ChatKitServer._process_streaming(request, context)`: the streamed body for an
    already parsed streaming request (what the public `process` returns after parsing)."""
    stream: AsyncGenerator[bytes, None] = server._process_streaming(request, context)  # type: ignore[arg-type]
    return stream


async def process_parsed(
    server: ChatKitServer[Any], request: ChatKitReq, context: Any
) -> StreamingResult | NonStreamingResult:
    """`ChatKitServer.process` for an already parsed request: `_process_streaming` or
    `_process_non_streaming(request, context) -> bytes`, chosen as `process` chooses."""
    if is_streaming_req(request):
        return StreamingResult(stream_parsed(server, request, context))
    return NonStreamingResult(await server._process_non_streaming(request, context))
