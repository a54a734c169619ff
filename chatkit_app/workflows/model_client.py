"""The OpenAI client the assistant streams with: the official SDK on its aiohttp transport,
with cheaper paths for what a streamed answer costs per token, each meaning exactly what the
SDK's own path means (tests/unit/test_model_stream_fast_paths.py):

- Reading: on the SDK's aiohttp transport; while many streams are open, each is read at
  most every few milliseconds, so one read carries several tokens (`pacing`).
- SSE: `FastSSEDecoder` splits whole events per chunk at once, not line by line, and
  parses a text delta frame straight from its bytes.
- Merging: Responses text deltas of one content part read together, or already waiting
  when the stream's reader asks for more (`coalesce`), go on as one event, so a busy
  server validates and hands on one event per run instead of one per token through the
  SDK's stream, the Agents run loop, ChatKit and the socket to the browser; an idle one
  passes each on at once.
- Parsing: each event is validated as the class its `type` names (~3 us) instead of
  against the union of all ~60 event types (~100 us); anything that does not fit goes to
  the SDK's lenient parsing.
- Request: a streamed Responses call skips the SDK's parameter walk (`_Responses`).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import typing
import weakref
from collections.abc import AsyncIterator, Coroutine, Hashable, Iterable, Mapping
from functools import cached_property
from typing import Annotated, Any, Union, cast

import httpx2
import openai
import pydantic
from agents.items import TResponseStreamEvent
from agents.models.openai_responses import _HEADERS_OVERRIDE
from openai._base_client import get_platform, make_request_options
from openai._compat import model_dump
from openai._streaming import ServerSentEvent, SSEDecoder
from openai._types import ResponseT, not_given
from openai._utils import is_given
from openai.resources.responses import AsyncResponses
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent

from chatkit_app.core.coalesce import coalesce
from chatkit_app.settings import Settings
from chatkit_app.workflows.pacing import PacedAioHttpClient, on_request_sent

_ClientKey = tuple[str, str | None, float]
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_ClientKey, OpenAIClient]] = (
    weakref.WeakKeyDictionary()
)
TEXT_DELTA = "response.output_text.delta"


def shared_client(settings: Settings) -> OpenAIClient:
    """One client (one connection pool) per event loop and configuration, on the SDK's
    aiohttp transport, read paced (`pacing`). The SDK's own retries are off:
    `AgentRunner.respond` retries within the timeout budget."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    base_url = settings.openai_base_url or None
    cache_key: _ClientKey = (key, base_url, settings.chatkit_upstream_timeout_seconds)
    clients = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    if cache_key not in clients:
        timeout = settings.chatkit_upstream_timeout_seconds
        clients[cache_key] = OpenAIClient(
            api_key=key,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
            http_client=PacedAioHttpClient(timeout=timeout),
        )
    return clients[cache_key]


async def close_shared_clients() -> None:
    """Closes this event loop's shared clients (an aiohttp session must be closed)."""
    for client in _CLIENTS.pop(asyncio.get_running_loop(), {}).values():
        await client.close()


class OpenAIClient(openai.AsyncOpenAI):
    """`openai.AsyncOpenAI`, sending streamed Responses calls with less work, decoding
    streams faster and parsing each streamed event straight into its own class.

    It knows the platform (for the SDK's `X-Stainless-OS` header) from the start, and so do
    its copies (`with_options`, one per answer): the SDK otherwise looks it up in a worker
    thread before the first request of every client, a thread hop in front of each answer."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._platform = _PLATFORM

    @cached_property
    def responses(self) -> _Responses:
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


_PLATFORM = get_platform()  # may read files: once, at import
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
    regex and three generators; a text delta frame is parsed straight from its bytes.
    Text deltas of one content part that are waiting together go on as one event
    (`coalesce`, `_join_deltas`).
    A lone CR, or a CRLF split between two chunks, hands the rest of the stream to the
    SDK's own decoder, so every line end means exactly what it means there."""

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
                self._decode_frames(frames, events)
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

    def _decode_frames(self, frames: list[bytes], events: list[ServerSentEvent]) -> None:
        for frame in frames:
            if (delta := _text_delta(frame)) is not None:
                events.append(delta)
                continue
            for line in frame.decode("utf-8").split("\n"):
                if line.startswith("data:"):
                    self._data.append(line[6:] if line.startswith("data: ") else line[5:])
                elif line.startswith("event:"):
                    self._event = line[7:] if line.startswith("event: ") else line[6:]
                elif (sse := self.decode(line)) is not None:  # id, retry, comments, other fields
                    events.append(sse)
            if (sse := self.decode("")) is not None:  # the blank line that ended the frame
                events.append(sse)


class _ParsedSSE(ServerSentEvent):
    """A Responses text delta whose JSON was already parsed (to merge it): `json()`
    returns that object instead of parsing `data` again."""

    def __init__(self, data: str, parsed: dict[str, Any]) -> None:
        super().__init__(event=TEXT_DELTA, data=data)
        self.parsed = parsed

    def json(self) -> Any:
        return self.parsed


_DELTA_HEAD = b"event: " + TEXT_DELTA.encode() + b"\ndata: "


def _text_delta(frame: bytes) -> _ParsedSSE | None:
    """A frame that is exactly one Responses text delta (an `event:` line, one `data:`
    line, nothing else), parsed; None for any other frame, which the SDK's rules decode."""
    if not frame.startswith(_DELTA_HEAD) or frame.find(b"\n", len(_DELTA_HEAD)) != -1:
        return None
    text = frame[len(_DELTA_HEAD) :].decode("utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if (
        type(data) is dict
        and data.get("type") == TEXT_DELTA
        and type(data.get("delta")) is str
        and type(data.get("logprobs", [])) is list
        and isinstance(data.get("item_id"), str)
        and isinstance(data.get("output_index"), int)
        and isinstance(data.get("content_index"), int)
    ):
        return _ParsedSSE(text, data)
    return None


def _delta_key(sse: ServerSentEvent) -> Hashable | None:
    """Where a parsed text delta goes (item, output, content part); None for other events."""
    if type(sse) is not _ParsedSSE:
        return None
    data = sse.parsed
    return (data["item_id"], data["output_index"], data["content_index"])


def _join_deltas(events: list[ServerSentEvent]) -> ServerSentEvent:
    deltas = [cast(_ParsedSSE, sse).parsed for sse in events]
    merged = dict(deltas[0])
    merged["delta"] = "".join(delta["delta"] for delta in deltas)
    if "logprobs" in merged:
        merged["logprobs"] = [lp for delta in deltas for lp in delta.get("logprobs") or []]
    if "sequence_number" in deltas[-1]:
        merged["sequence_number"] = deltas[-1]["sequence_number"]
    return _ParsedSSE(json.dumps(merged, ensure_ascii=False, separators=(",", ":")), merged)


async def _prepend_bytes(first: bytes, second: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    yield second
    async for chunk in rest:
        yield chunk


class _Responses(AsyncResponses):
    """`AsyncResponses` with a cheaper streamed `create`, and early calls (`start_early`)."""

    _early: _EarlyCall | None = None
    _learning: tuple[Hashable, list[Any]] | None = None

    def start_early(self, key: Hashable, model_input: list[Any]) -> None:
        """Sends now the streamed call the Agents SDK is about to make for `model_input`,
        so that setting up the run overlaps the model's time to first token instead of
        preceding it. Its parameters are those the SDK sent the last time for `key`
        (learned from the SDK's own call, never guessed) with this input; the SDK's call
        (`create`) takes it over only if its parameters are equal, and otherwise it is
        closed and `key` gets no more early calls. The first call for a `key` only learns.
        The headers the SDK is told to add here (ChatKit's User-Agent) are part of `key`."""
        key = (key, tuple(sorted((_HEADERS_OVERRIDE.get() or {}).items())))
        self._learning = (key, model_input)
        template = _TEMPLATES.get(key)
        if template is not None:
            params = {**template, "input": model_input}
            self._early = _EarlyCall(key, params, self._streamed(dict(params)))

    async def early_call_sent(self, at_most: float) -> None:
        """Waits (at most `at_most` seconds) until the early call's request is on the
        socket, or has failed; at once if there is none."""
        early = self._early
        if early is not None and not early.sent.done():
            await asyncio.wait((early.sent,), timeout=at_most)

    async def close_early(self) -> None:
        """Closes an early call the SDK did not take over (its run ended before calling)."""
        early, self._early = self._early, None
        if early is not None:
            await early.close()

    async def create(self, **params: Any) -> Any:
        early, self._early = self._early, None
        learning, self._learning = self._learning, None
        if (
            learning is not None
            and params.get("input") == learning[1]
            and _TEMPLATES.get(learning[0], {}) is not None
            and not any(is_given(params.get(name, not_given)) for name in _PER_CONVERSATION)
        ):
            _TEMPLATES[learning[0]] = {key: value for key, value in params.items() if key != "input"}
        if early is not None:
            if early.params == params:
                return await early.task
            _TEMPLATES[early.key] = None  # unpredictable: no more early calls for it
            await early.close()
        if params.get("stream") is not True or not params.keys() <= _CREATE_PARAMETERS:
            return await super().create(**params)
        return await self._streamed(params)

    async def _streamed(self, params: dict[str, Any]) -> Any:
        """A streamed `create` without the SDK's walk of the parameters against their
        TypedDicts (~1-2 ms a request, a tenth of the server's CPU at 50 streams). The
        Responses parameters have no aliased or formatted fields
        (tests/unit/test_model_stream_fast_paths.py checks the request bodies are
        identical), so that walk only drops omitted values and dumps pydantic models, as
        `_plain` does."""
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


# Per agent configuration: the parameters (all but `input`) of its last streamed call,
# or None once an early call did not match (`_Responses.start_early`).
_TEMPLATES: dict[Hashable, dict[str, Any] | None] = {}
# Parameters that may name one user's conversation or data at the model server: a call
# with any of them is never a template (another user's early call must not carry them).
_PER_CONVERSATION = ("previous_response_id", "conversation", "prompt", "metadata", "user", "safety_identifier")


class _EarlyCall:
    """An early call's request, sent in a task of its own; `sent` is done once its bytes
    are on the socket (or the call has ended)."""

    def __init__(self, key: Hashable, params: dict[str, Any], request: Coroutine[Any, Any, Any]) -> None:
        self.key, self.params = key, params
        loop = asyncio.get_running_loop()
        self.sent: asyncio.Future[None] = loop.create_future()
        context = contextvars.copy_context()
        context.run(on_request_sent, self._mark_sent)
        self.task: asyncio.Task[Any] = loop.create_task(request, context=context)
        self.task.add_done_callback(lambda _: self._mark_sent())

    def _mark_sent(self) -> None:
        if not self.sent.done():
            self.sent.set_result(None)

    async def close(self) -> None:
        task = self.task
        if not task.done():
            task.cancel()  # cancelling an unfinished request closes its connection
        elif not task.cancelled() and task.exception() is None:
            await task.result().close()


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
