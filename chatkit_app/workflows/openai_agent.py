"""The real assistant: an OpenAI Agents SDK agent behind the ChatKit protocol.

It talks to OpenAI, or to any OpenAI-compatible server through `OPENAI_BASE_URL`
(Responses API, or Chat Completions for Ollama / vLLM / llama.cpp). The thread's history
is the model input; the run's events become ChatKit events via `stream_agent_response`.

Upstream failures never escape as bare exceptions: they become a `CustomStreamError` with
a short human message (the ChatKit server turns it into an `ErrorEvent`), and an answer cut
off mid-way is kept as a finished item first. The client does no retries of its own; this
agent retries 5xx, 429 and lost connections while nothing has been streamed yet, all inside
one budget of `CHATKIT_UPSTREAM_TIMEOUT_SECONDS`. Messages and logs never carry the API key
or upstream error text.

Cost per token and per answer (measured by bench/streaming.py, 50 answers at once on 2
cores) is kept down at each layer the answer crosses, each meaning exactly what the SDK's
own path means (tests/unit/test_model_stream_fast_paths.py, tests/api/test_coalescing.py):
- HTTP: `StreamingTransport` hands on everything the socket holds at once instead of one
  HTTP chunk (one token) at a time through httpcore and h11.
- SSE: `_SSEDecoder` splits whole events per chunk at once, not line by line.
- Parsing: each event is validated as the class its `type` names (~3 us) instead of
  against the union of all ~60 event types (~100 us; a Chat Completions chunk was built
  field by field, ~200 us); anything that does not fit goes to the SDK's lenient parsing.
- Request: a streamed Responses call skips the SDK's parameter walk (`_Responses`).
- Run loop: the model's events are read ahead and text deltas already waiting when the
  Agents run loop asks for more are merged (`coalesce`), so a busy server runs, persists
  and sends one delta instead of one per token, while an idle one passes each on at once.
- Database: `stream_agent_response`'s first read is answered from ours (`_ReadOnce`), and
  a new thread's title is saved when the answer ends, not before its first token.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import typing
import weakref
from collections.abc import AsyncIterator, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Union, cast

import httpx2
import openai
import pydantic
from agents import (
    Agent,
    ModelBehaviorError,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    TResponseInputItem,
)
from agents.items import TResponseStreamEvent
from chatkit.actions import Action
from chatkit.agents import AgentContext, ThreadItemConverter, stream_agent_response
from chatkit.errors import CustomStreamError
from chatkit.store import Store, StoreItemType
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    Attachment,
    Page,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageTagContent,
    WidgetItem,
)
from openai import AsyncStream
from openai._base_client import make_request_options
from openai._compat import model_dump
from openai._streaming import ServerSentEvent, SSEDecoder
from openai._types import ResponseT, not_given
from openai._utils import is_given
from openai.resources.responses import AsyncResponses
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import (
    EasyInputMessageParam,
    Response,
    ResponseInputContentParam,
    ResponseInputTextParam,
    ResponseOutputItemAddedEvent,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
)

from chatkit_app.chatkit_server.coalesce import coalesce
from chatkit_app.chatkit_server.context import RequestContext
from chatkit_app.settings import Settings
from chatkit_app.workflows.agent import ChatAgent, Turn, message_text
from chatkit_app.workflows.offline import OfflineAgent

logger = logging.getLogger("chatkit_app.workflows.openai_agent")

_ClientKey = tuple[str, str | None, float]
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_ClientKey, _OpenAIClient]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class Failure:
    message: str
    allow_retry: bool = True
    retryable: bool = False  # worth another attempt when nothing was streamed yet
    retry_after: float | None = None


class OpenAIAgent:
    """A `ChatAgent` running `settings.chatkit_model` with `settings.chatkit_instructions`."""

    def __init__(
        self, settings: Settings, *, max_retries: int = 2, retry_backoff: float = 0.5, history_limit: int = 50
    ) -> None:
        self.settings = settings
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.history_limit = history_limit
        self.budget = settings.chatkit_upstream_timeout_seconds

    async def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        text = message_text(turn.message)
        # A new thread's title is set when the answer ends (the SDK then saves the thread
        # and sends `thread.updated`; `AppChatKitServer` saves it if the client hung up):
        # not one more database write queued before the first token of every new chat.
        title = _title(text) if turn.thread.title is None and text else None
        newest = await turn.store.load_thread_items(turn.thread.id, None, self.history_limit, "desc", turn.context)
        model_input = await _CONVERTER.to_agent_input(list(reversed(newest.data)))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.budget
        attempt = 0
        try:
            while True:
                partial = _PartialAnswer(turn)
                try:
                    async for event in self._attempt(turn, newest, model_input, deadline - loop.time(), partial):
                        yield event
                    return
                except Exception as exc:
                    failure = describe_failure(exc, budget=self.budget, started=partial.has_output)
                    wait = failure.retry_after if failure.retry_after is not None else self.retry_backoff * 2**attempt
                    if (
                        failure.retryable
                        and not partial.has_output
                        and attempt < self.max_retries
                        and loop.time() + wait < deadline
                    ):
                        logger.info("model call failed (%s); retry %d in %.1f s", _kind(exc), attempt + 1, wait)
                        attempt += 1
                        await asyncio.sleep(wait)
                        continue
                    logger.warning("model call failed (%s) after %d attempt(s)", _kind(exc), attempt + 1)
                    for closing in partial.close():
                        yield closing
                    raise CustomStreamError(failure.message, allow_retry=failure.allow_retry) from None
        finally:
            if title is not None:
                turn.thread.title = title

    async def _attempt(
        self,
        turn: Turn,
        newest: Page[ThreadItem],
        model_input: list[Any],
        seconds_left: float,
        partial: _PartialAnswer,
    ) -> AsyncIterator[ThreadStreamEvent]:
        # Every read (headers, then each chunk) must arrive within the budget left.
        client = _shared_client(self.settings).with_options(timeout=max(seconds_left, 0.001))
        model: _RecordingResponsesModel | _RecordingChatCompletionsModel
        if self.settings.chatkit_openai_api == "chat_completions":
            model = _RecordingChatCompletionsModel(model=self.settings.chatkit_model, openai_client=client)
        else:
            model = _RecordingResponsesModel(model=self.settings.chatkit_model, openai_client=client)
        model.partial = partial
        agent = Agent[AgentContext[RequestContext]](
            name="assistant", instructions=self.settings.chatkit_instructions, model=model
        )
        store = _ReadOnce(turn.store, turn.thread.id, newest)
        context = AgentContext[RequestContext](thread=turn.thread, store=store, request_context=turn.context)
        config = RunConfig(tracing_disabled=True, trace_include_sensitive_data=False, workflow_name="chatkit")
        result = Runner.run_streamed(agent, model_input, context=context, run_config=config)
        try:
            async for event in stream_agent_response(context, result):
                yield partial.observe(event)
        finally:
            result.cancel()

    async def action(
        self, turn: Turn, action: Action[str, Any], sender: WidgetItem | None
    ) -> AsyncIterator[ThreadStreamEvent]:
        item = AssistantMessageItem(
            id=turn.new_id("message"),
            thread_id=turn.thread.id,
            created_at=datetime.now(),
            content=[AssistantMessageContent(text=f"This assistant does not handle the action `{action.type}`.")],
        )
        yield ThreadItemDoneEvent(item=item)


def describe_assistant(settings: Settings) -> str:
    """What workflow `assistant` runs, in words a visitor understands (no secrets)."""
    if settings.openai_api_key is not None or settings.openai_base_url:
        where = "an OpenAI-compatible server" if settings.openai_base_url else "OpenAI"
        return f"AI assistant ({settings.chatkit_model} via {where})"
    return "Offline demo agent: canned answers, no language model"


def _title(text: str) -> str:
    first_line = text.splitlines()[0]
    return first_line[:60] + ("…" if len(first_line) > 60 else "")


class _ReadOnce(Store[RequestContext]):
    """`store`, except that the first read of the thread's newest items (the one
    `stream_agent_response` makes as it starts, just after ours) is answered from the page
    we read: one database round trip less before the first token. Any other call, and any
    read after it, goes to `store`."""

    def __init__(self, store: Store[RequestContext], thread_id: str, newest: Page[ThreadItem]) -> None:
        self._store = store
        self._thread_id = thread_id
        self._newest: Page[ThreadItem] | None = newest

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: RequestContext
    ) -> Page[ThreadItem]:
        newest, self._newest = self._newest, None
        if newest is not None and thread_id == self._thread_id and after is None and order == "desc":
            if limit <= len(newest.data) or not newest.has_more:
                data = newest.data[:limit]
                more = len(newest.data) > limit or newest.has_more
                return Page(data=data, has_more=more, after=data[-1].id if more and data else None)
        return await self._store.load_thread_items(thread_id, after, limit, order, context)

    def generate_thread_id(self, context: RequestContext) -> str:
        return self._store.generate_thread_id(context)

    def generate_item_id(self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext) -> str:
        return self._store.generate_item_id(item_type, thread, context)

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        return await self._store.load_thread(thread_id, context)

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        await self._store.save_thread(thread, context)

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        await self._store.save_attachment(attachment, context)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        return await self._store.load_attachment(attachment_id, context)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        await self._store.delete_attachment(attachment_id, context)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        return await self._store.load_threads(limit, after, order, context)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        await self._store.add_thread_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        await self._store.save_item(thread_id, item, context)

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        return await self._store.load_item(thread_id, item_id, context)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        await self._store.delete_thread(thread_id, context)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: RequestContext) -> None:
        await self._store.delete_thread_item(thread_id, item_id, context)


def make_assistant_agent(settings: Settings) -> ChatAgent:
    """The OpenAI agent when a key or a base URL is configured, else the offline demo agent."""
    if settings.openai_api_key is not None or settings.openai_base_url:
        return OpenAIAgent(settings)
    return OfflineAgent()


class _SSEDecoder(SSEDecoder):
    """The SDK's SSE decoder, with a fast path for streams whose lines end in LF or CRLF
    (OpenAI's and the usual compatible servers'): split each chunk into whole events at
    blank lines and decode each event's lines at once, instead of line by line through a
    regex and three generators. A lone CR, or a CRLF split between two chunks, hands the
    rest of the stream to the SDK's own decoder, so every line end means exactly what it
    means there (tests/unit/test_model_stream_fast_paths.py compares them)."""

    async def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
        pending = b""
        events: list[ServerSentEvent] = []
        try:
            async for chunk in iterator:
                if b"\r" in chunk:
                    if chunk.endswith(b"\r") or chunk.count(b"\r") != chunk.count(b"\r\n"):
                        async for sse in super().aiter_bytes(_prepend_bytes(pending, chunk, iterator)):
                            yield sse
                        return
                    chunk = chunk.replace(b"\r\n", b"\n")  # CRLF line ends, whole in this chunk
                *frames, pending = (pending + chunk).split(b"\n\n")
                for frame in frames:
                    self._decode_frame(frame.decode("utf-8"), events)
                for sse in events:
                    yield sse
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
                events.append(sse)
        if (sse := self.decode("")) is not None:  # the blank line that ended the frame
            events.append(sse)


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
            stream_cls=AsyncStream[ResponseStreamEvent],
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


class _OpenAIClient(openai.AsyncOpenAI):
    """`openai.AsyncOpenAI`, sending streamed Responses calls with less work, decoding
    streams faster and parsing each streamed event straight into its own class."""

    @cached_property
    def responses(self) -> AsyncResponses:
        return _Responses(self)

    def _make_sse_decoder(self) -> SSEDecoder:
        return _SSEDecoder()

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


def _shared_client(settings: Settings) -> openai.AsyncOpenAI:
    """One client (one connection pool) per event loop and configuration. The SDK's own
    retries are off: `OpenAIAgent.respond` retries within the timeout budget."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    base_url = settings.openai_base_url or None
    cache_key: _ClientKey = (key, base_url, settings.chatkit_upstream_timeout_seconds)
    clients = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    if cache_key not in clients:
        clients[cache_key] = _OpenAIClient(
            api_key=key,
            base_url=base_url,
            timeout=settings.chatkit_upstream_timeout_seconds,
            max_retries=0,
        )
    return clients[cache_key]


class _Converter(ThreadItemConverter):
    """History to model input. Attachments are described, not sent (files stay on our server).
    Assistant turns are plain strings, which both APIs (and compatible servers) accept."""

    async def assistant_message_to_input(self, item: AssistantMessageItem) -> TResponseInputItem | None:
        text = "".join(part.text for part in item.content)
        return EasyInputMessageParam(type="message", role="assistant", content=text) if text else None

    async def attachment_to_message_content(self, attachment: Attachment) -> ResponseInputContentParam:
        return ResponseInputTextParam(
            type="input_text", text=f"[The user attached a file: {attachment.name} ({attachment.mime_type})]"
        )

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> ResponseInputContentParam:
        return ResponseInputTextParam(type="input_text", text=f"@{tag.text}: {json.dumps(tag.data)}")


_CONVERTER = _Converter()


class _PartialAnswer:
    """What the model sent so far, so a cut-off answer can be finished (and saved) with it.

    Text is recorded where the model stream is read (`record`), not where events reach
    the client: the Agents SDK drops queued events when the stream fails. Model item ids
    are replaced with store ids (`observe`): Chat Completions gives every message one
    placeholder id."""

    def __init__(self, turn: Turn) -> None:
        self.turn = turn
        self.started = False  # an event reached the client
        self.ids: dict[str, str] = {}  # model item id -> store item id
        self.texts: dict[str, dict[int, str]] = {}  # model item id -> content index -> text
        self.finished: set[str] = set()  # model item ids whose done event reached the client

    @property
    def has_output(self) -> bool:
        return self.started or any(any(parts.values()) for parts in self.texts.values())

    def record(self, event: TResponseStreamEvent) -> None:
        if isinstance(event, ResponseOutputItemAddedEvent) and event.item.type == "message":
            self.texts[event.item.id] = {}
            self.finished.discard(event.item.id)
        elif isinstance(event, ResponseTextDeltaEvent):
            parts = self.texts.setdefault(event.item_id, {})
            parts[event.content_index] = parts.get(event.content_index, "") + event.delta

    def observe(self, event: ThreadStreamEvent) -> ThreadStreamEvent:
        self.started = True
        if isinstance(event, ThreadItemAddedEvent) and isinstance(event.item, AssistantMessageItem):
            self.ids[event.item.id] = self.turn.new_id("message")
            return ThreadItemAddedEvent(item=event.item.model_copy(update={"id": self.ids[event.item.id]}))
        if isinstance(event, ThreadItemUpdatedEvent) and event.item_id in self.ids:
            return ThreadItemUpdatedEvent(item_id=self.ids[event.item_id], update=event.update)
        if isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, AssistantMessageItem):
            self.finished.add(event.item.id)
            new_id = self.ids.pop(event.item.id, None) or self.turn.new_id("message")
            return ThreadItemDoneEvent(item=event.item.model_copy(update={"id": new_id}))
        return event

    def close(self) -> list[ThreadStreamEvent]:
        """Done events for unfinished messages with text; removals for empty ones."""
        closing: list[ThreadStreamEvent] = []
        for model_id, parts in self.texts.items():
            store_id = self.ids.get(model_id)
            if model_id in self.finished:
                continue
            if any(parts.values()):
                content = [AssistantMessageContent(text=parts[index]) for index in sorted(parts)]
                item = AssistantMessageItem(
                    id=store_id or self.turn.new_id("message"),
                    thread_id=self.turn.thread.id,
                    created_at=datetime.now(),
                    content=content,
                )
                closing.append(ThreadItemDoneEvent(item=item))
            elif store_id is not None:
                closing.append(ThreadItemRemovedEvent(item_id=store_id))
        return closing


class _RecordingResponsesModel(OpenAIResponsesModel):
    partial: _PartialAnswer

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        return _read_ahead(super().stream_response(*args, **kwargs), self.partial)


class _RecordingChatCompletionsModel(OpenAIChatCompletionsModel):
    partial: _PartialAnswer

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        return _read_ahead(super().stream_response(*args, **kwargs), self.partial)


def _read_ahead(
    events: AsyncIterator[TResponseStreamEvent], partial: _PartialAnswer
) -> AsyncIterator[TResponseStreamEvent]:
    """The model's events, each recorded as soon as it is read; text deltas of one content
    part that are already waiting when the run loop asks for more come as one."""

    async def recorded() -> AsyncIterator[TResponseStreamEvent]:
        async for event in events:
            partial.record(event)
            yield event

    return coalesce(recorded(), _text_delta_key, _join_text_deltas)


def _text_delta_key(event: TResponseStreamEvent) -> Hashable | None:
    if isinstance(event, ResponseTextDeltaEvent):
        return (event.item_id, event.output_index, event.content_index)
    return None


def _join_text_deltas(events: list[TResponseStreamEvent]) -> TResponseStreamEvent:
    deltas = [event for event in events if isinstance(event, ResponseTextDeltaEvent)]
    update = {
        "delta": "".join(event.delta for event in deltas),
        "logprobs": [logprob for event in deltas for logprob in event.logprobs],
        "sequence_number": deltas[-1].sequence_number,
    }
    return deltas[0].model_copy(update=update)


def describe_failure(exc: BaseException, *, budget: float, started: bool) -> Failure:
    """A user-facing message for an upstream failure, built only from status codes and
    exception types, never from upstream text (which can echo parts of a key)."""
    seconds = f"{budget:g}"
    chain = _chain(exc)
    status = next((e for e in chain if isinstance(e, openai.APIStatusError)), None)
    if status is not None:
        code = status.status_code
        if code == 429:
            after = _retry_after(status.response.headers)
            when = f"in {max(1, math.ceil(after))} s" if after is not None else "in a moment"
            return Failure(f"The model server is rate limiting requests; try again {when}.", True, True, after)
        if code >= 500:
            return Failure(f"The model server returned an error (HTTP {code}). Try again.", True, True)
        if code in (401, 403):
            return Failure(f"The model server refused the API key (HTTP {code}). Check OPENAI_API_KEY.", False)
        if code == 404:
            return Failure("The model server does not know this model (HTTP 404). Check CHATKIT_MODEL.", False)
        return Failure(f"The model server rejected the request (HTTP {code}).", code in (408, 409))
    if any(isinstance(e, openai.APITimeoutError | TimeoutError) for e in chain):
        if started:
            return Failure(f"The model stopped answering for {seconds} s; its answer was cut off.")
        return Failure(f"The model server did not answer within {seconds} s.")
    if any(isinstance(e, openai.APIConnectionError) for e in chain):
        if started:
            return Failure("The model's answer was cut off: the connection to the model server was lost.")
        return Failure("Could not reach the model server. Try again.", True, True)
    if any(isinstance(e, ValueError | openai.APIResponseValidationError) for e in chain):
        cut = " Its answer was cut off." if started else ""
        return Failure(f"The model server sent a malformed answer.{cut}")
    if any(isinstance(e, openai.APIError | ModelBehaviorError) for e in chain):  # an error sent inside the stream
        if started:
            return Failure("The model server reported an error; its answer was cut off.")
        return Failure("The model server reported an error while answering. Try again.")
    if started:
        return Failure("The model's answer was cut off by an unexpected error. Try again.")
    return Failure("The assistant failed unexpectedly. Try again.")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(header)
        try:
            seconds = float(value) * scale if value is not None else None
        except ValueError:
            seconds = None
        if seconds is not None and math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def _kind(exc: BaseException) -> str:
    status = next((e for e in _chain(exc) if isinstance(e, openai.APIStatusError)), None)
    return f"HTTP {status.status_code}" if status is not None else type(exc).__name__
