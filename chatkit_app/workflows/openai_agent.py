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
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import weakref
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import openai
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
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    Attachment,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    UserMessageTagContent,
    WidgetItem,
)
from openai.types.responses import (
    EasyInputMessageParam,
    ResponseInputContentParam,
    ResponseInputTextParam,
    ResponseOutputItemAddedEvent,
    ResponseTextDeltaEvent,
)

from chatkit_app.chatkit_server.context import RequestContext
from chatkit_app.settings import Settings
from chatkit_app.workflows.agent import ChatAgent, Turn, message_text
from chatkit_app.workflows.offline import OfflineAgent

logger = logging.getLogger("chatkit_app.workflows.openai_agent")

_ClientKey = tuple[str, str | None, float]
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_ClientKey, openai.AsyncOpenAI]] = (
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
        if turn.thread.title is None and text:
            first_line = text.splitlines()[0]
            turn.thread.title = first_line[:60] + ("…" if len(first_line) > 60 else "")
        model_input = await _CONVERTER.to_agent_input(await turn.history(self.history_limit))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.budget
        attempt = 0
        while True:
            partial = _PartialAnswer(turn)
            try:
                async for event in self._attempt(turn, model_input, deadline - loop.time(), partial):
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

    async def _attempt(
        self, turn: Turn, model_input: list[Any], seconds_left: float, partial: _PartialAnswer
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
        context = AgentContext[RequestContext](thread=turn.thread, store=turn.store, request_context=turn.context)
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


def make_assistant_agent(settings: Settings) -> ChatAgent:
    """The OpenAI agent when a key or a base URL is configured, else the offline demo agent."""
    if settings.openai_api_key is not None or settings.openai_base_url:
        return OpenAIAgent(settings)
    return OfflineAgent()


def _shared_client(settings: Settings) -> openai.AsyncOpenAI:
    """One client (one connection pool) per event loop and configuration. The SDK's own
    retries are off: `OpenAIAgent.respond` retries within the timeout budget."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    base_url = settings.openai_base_url or None
    cache_key: _ClientKey = (key, base_url, settings.chatkit_upstream_timeout_seconds)
    clients = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    if cache_key not in clients:
        clients[cache_key] = openai.AsyncOpenAI(
            api_key=key, base_url=base_url, timeout=settings.chatkit_upstream_timeout_seconds, max_retries=0
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

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        async for event in super().stream_response(*args, **kwargs):
            self.partial.record(event)
            yield event


class _RecordingChatCompletionsModel(OpenAIChatCompletionsModel):
    partial: _PartialAnswer

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        async for event in super().stream_response(*args, **kwargs):
            self.partial.record(event)
            yield event


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
