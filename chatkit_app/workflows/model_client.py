"""The OpenAI client the assistant streams with: the official SDK (httpx transport included),
with cheaper paths for what a streamed answer costs per token, each meaning exactly what the
SDK's own path means (tests/unit/test_model_stream_fast_paths.py):

- SSE: `FastSSEDecoder` splits whole events per chunk at once, not line by line.
- Merging: Responses text deltas of one content part that are already waiting when the
  stream's reader asks for more come as one event (`coalesce`), so a busy server parses,
  validates and hands on one event per run instead of one per token through the SDK's
  stream, the Agents run loop and everything after it; an idle one passes each on at once.
- Parsing: each event is validated as the class its `type` names (~3 us) instead of
  against the union of all ~60 event types (~100 us); anything that does not fit goes to
  the SDK's lenient parsing.
- Request: a streamed Responses call skips the SDK's parameter walk (`_Responses`).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import typing
import weakref
from collections.abc import AsyncIterator, Hashable, Iterable, Mapping
from functools import cached_property
from typing import Annotated, Any, Union, cast

import httpx2
import openai
import pydantic
from agents.items import TResponseStreamEvent
from openai._base_client import make_request_options
from openai._compat import model_dump
from openai._streaming import ServerSentEvent, SSEDecoder
from openai._types import ResponseT, not_given
from openai._utils import is_given
from openai.resources.responses import AsyncResponses
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent

from chatkit_app.chatkit_server.coalesce import coalesce
from chatkit_app.settings import Settings

_ClientKey = tuple[str, str | None, float]
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_ClientKey, OpenAIClient]] = (
    weakref.WeakKeyDictionary()
)
TEXT_DELTA = "response.output_text.delta"


def shared_client(settings: Settings) -> OpenAIClient:
    """One client (one connection pool) per event loop and configuration. The SDK's own
    retries are off: `OpenAIAgent.respond` retries within the timeout budget."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    base_url = settings.openai_base_url or None
    cache_key: _ClientKey = (key, base_url, settings.chatkit_upstream_timeout_seconds)
    clients = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    if cache_key not in clients:
        clients[cache_key] = OpenAIClient(
            api_key=key, base_url=base_url, timeout=settings.chatkit_upstream_timeout_seconds, max_retries=0
        )
    return clients[cache_key]


class OpenAIClient(openai.AsyncOpenAI):
    """`openai.AsyncOpenAI`, sending streamed Responses calls with less work, decoding
    streams faster and parsing each streamed event straight into its own class."""

    @cached_property
    def responses(self) -> AsyncResponses:
        return _Responses(self)

    def _make_sse_decoder(self) -> SSEDecoder:
        return FastSSEDecoder()

    def _process_response_data(self, *, data: object, cast_to: type[ResponseT], response: httpx2.Response) -> ResponseT:
        if isinstance(data, dict) and (cast_to is _RESPONSE_STREAM_EVENT or cast_to is ChatCompletionChunk):
            try:
                if cast_to is ChatCompletionChunk:
                    return cast(ResponseT, ChatCompletionChunk.model_validate(data))
                return cast(ResponseT, _RESPONSE_EVENTS.validate_python(data))
            except pydantic.ValidationError:
                pass  # e.g. an event type newer than this SDK: its lenient parsing decides
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)


_RESPONSE_STREAM_EVENT: object = ResponseStreamEvent
# The members of `ResponseStreamEvent` (Annotated[Union[...], ...]) as a union tagged by
# `type`, built once here (~0.1 s) rather than on the first streamed event.
_EVENT_CLASSES: Any = Union[typing.get_args(typing.get_args(ResponseStreamEvent)[0])]  # noqa: UP007
_RESPONSE_EVENTS: pydantic.TypeAdapter[TResponseStreamEvent] = pydantic.TypeAdapter(
    Annotated[_EVENT_CLASSES, pydantic.Field(discriminator="type")]
)


class FastSSEDecoder(SSEDecoder):
    """The SDK's SSE decoder, with a fast path for streams whose lines end in LF or CRLF
    (OpenAI's and the usual compatible servers'): split each chunk into whole events at
    blank lines and decode each event's lines at once, instead of line by line through a
    regex and three generators. A lone CR, or a CRLF split between two chunks, hands the
    rest of the stream to the SDK's own decoder, so every line end means exactly what it
    means there. Text deltas waiting together are merged (`_delta_key`, `_join_deltas`)."""

    def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
        return coalesce(self._events(iterator), _delta_key, _join_deltas)

    async def _events(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
        pending = b""
        events: list[ServerSentEvent] = []
        try:
            async for chunk in iterator:
                if b"\r" in chunk:
                    if chunk.endswith(b"\r") or chunk.count(b"\r") != chunk.count(b"\r\n"):
                        async for sse in super().aiter_bytes(_prepend_bytes(pending, chunk, iterator)):
                            yield sse
                            if sse.data.startswith("[DONE]"):
                                return
                        return
                    chunk = chunk.replace(b"\r\n", b"\n")  # CRLF line ends, whole in this chunk
                *frames, pending = (pending + chunk).split(b"\n\n")
                for frame in frames:
                    self._decode_frame(frame.decode("utf-8"), events)
                for sse in events:
                    yield sse
                    if sse.data.startswith("[DONE]"):
                        # Chat Completions' end: stop reading now. The SDK stops at this
                        # event and closes the response, which must not find our reader
                        # (`coalesce`) still waiting on the socket (anyio BusyResourceError).
                        return
                events.clear()
            for line in pending.decode("utf-8").split("\n")[:-1]:  # whole lines after the last event
                if (last := self.decode(line)) is not None:
                    yield last
        finally:
            self._reset()

    def _decode_frame(self, frame: str, events: list[ServerSentEvent]) -> None:
        for line in frame.split("\n"):
            if line.startswith("data:"):
                self._data.append(line[6:] if line.startswith("data: ") else line[5:])
            elif line.startswith("event:"):
                self._event = line[7:] if line.startswith("event: ") else line[6:]
            elif (sse := self.decode(line)) is not None:  # id, retry, comments, other fields
                events.append(_parse_delta(sse))
        if (sse := self.decode("")) is not None:  # the blank line that ended the frame
            events.append(_parse_delta(sse))


class _ParsedSSE(ServerSentEvent):
    """A server-sent event whose JSON was already parsed (to merge it): `json()` returns
    that object instead of parsing `data` again."""

    def __init__(self, sse: ServerSentEvent, parsed: dict[str, Any]) -> None:
        super().__init__(event=sse.event, data=sse.data, id=sse.id, retry=sse.retry)
        self.parsed = parsed

    def json(self) -> Any:
        return self.parsed


def _parse_delta(sse: ServerSentEvent) -> ServerSentEvent:
    """A Responses text delta of the shape `_join_deltas` merges, parsed; any other event
    (or a delta that is not such JSON) as it is, for the SDK to handle."""
    if sse.event != TEXT_DELTA or sse.id is not None or sse.retry is not None:
        return sse
    try:
        data = json.loads(sse.data)
    except ValueError:
        return sse
    if (
        type(data) is dict
        and data.get("type") == TEXT_DELTA
        and type(data.get("delta")) is str
        and type(data.get("logprobs", [])) is list
        and isinstance(data.get("item_id"), str)
        and isinstance(data.get("output_index"), int)
        and isinstance(data.get("content_index"), int)
    ):
        return _ParsedSSE(sse, data)
    return sse


def _delta_key(sse: ServerSentEvent) -> Hashable | None:
    """Where a parsed text delta goes (item, output, content part); None for other events."""
    if type(sse) is not _ParsedSSE:
        return None
    data = sse.parsed
    return (data["item_id"], data["output_index"], data["content_index"])


def _join_deltas(events: list[ServerSentEvent]) -> ServerSentEvent:
    first, last = cast(_ParsedSSE, events[0]), cast(_ParsedSSE, events[-1])
    merged = dict(first.parsed)
    merged["delta"] = "".join(cast(_ParsedSSE, sse).parsed["delta"] for sse in events)
    if "logprobs" in merged:
        merged["logprobs"] = [lp for sse in events for lp in cast(_ParsedSSE, sse).parsed.get("logprobs") or []]
    if "sequence_number" in last.parsed:
        merged["sequence_number"] = last.parsed["sequence_number"]
    data = json.dumps(merged, ensure_ascii=False, separators=(",", ":"))
    return _ParsedSSE(ServerSentEvent(event=first.event, data=data), merged)


async def _prepend_bytes(first: bytes, second: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    yield second
    async for chunk in rest:
        yield chunk


class _Responses(AsyncResponses):
    async def create(self, **params: Any) -> Any:
        """`AsyncResponses.create`; for a streamed call without the SDK's walk of the
        parameters against their TypedDicts (~1-2 ms a request, a tenth of the server's
        CPU at 50 streams). The Responses parameters have no aliased or formatted fields
        (tests/unit/test_model_stream_fast_paths.py checks the request bodies are
        identical), so that walk only drops omitted values and dumps pydantic models, as
        `_plain` does. Anything else goes the SDK's way."""
        if params.get("stream") is not True or not params.keys() <= _CREATE_PARAMETERS:
            return await super().create(**params)
        options = make_request_options(
            extra_headers=params.pop("extra_headers", None),
            extra_query=params.pop("extra_query", None),
            extra_body=params.pop("extra_body", None),
            timeout=params.pop("timeout", not_given),
            security={"bearer_auth": True},
        )
        body = {key: _plain(value) for key, value in params.items() if is_given(value)}
        return await self._post(
            "/responses",
            body=body,
            options=options,
            cast_to=Response,
            stream=True,
            stream_cls=openai.AsyncStream[ResponseStreamEvent],
        )


_CREATE_PARAMETERS = frozenset(inspect.signature(AsyncResponses.create).parameters) - {"self"}


def _plain(value: object) -> object:
    if isinstance(value, pydantic.BaseModel):
        return model_dump(value, exclude_unset=True, mode="json", exclude=getattr(value, "__api_exclude__", None))
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items() if is_given(item)}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | bytearray):
        return [_plain(item) for item in value]
    return value
