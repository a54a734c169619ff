"""The real assistant: an OpenAI Agents SDK agent behind the ChatKit protocol.

It talks to OpenAI, or to any OpenAI-compatible server through `OPENAI_BASE_URL`
(Responses API, or Chat Completions for Ollama / vLLM / llama.cpp). The thread's history
is the model input; the run's events become ChatKit events via `stream_agent_response`.

Upstream failures never escape as bare exceptions: they become a `CustomStreamError` with
a short human message (the ChatKit server turns it into an `ErrorEvent`), and an answer cut
off mid-way is kept as a finished item first (`partial_answer`). The client does no retries
of its own; this agent retries 5xx, 429 and lost connections while nothing has been
streamed yet, all inside one budget of `CHATKIT_UPSTREAM_TIMEOUT_SECONDS`. Messages and
logs never carry the API key or upstream error text (`failures`).

Cost per token and per answer (bench/streaming.py: 50 answers at once on 2 cores) is kept
down where the answer crosses each layer: the model client (`model_client`: SSE decoding,
merging waiting text deltas, parsing), the database (`history.ReadOnce`: at most one read
of the thread before the first token, none for a thread the request creates; a new
thread's title is saved after its first text, while the model writes). Time to first
token: the model call goes out before the Agents SDK sets the run up
(`model_client._Responses.start_early`), for a new thread even before ChatKit saves it
(`start_early` here), so that the setup overlaps the model's own time to first token; its
body is left unread in the kernel until the answer is streamed (`pacing`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import anyio
from agents import Agent, ModelSettings, RunConfig, Runner
from chatkit.actions import Action
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.errors import CustomStreamError
from chatkit.server import agents_sdk_user_agent_override
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    Page,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
)

from chatkit_app.core.context import RequestContext
from chatkit_app.settings import Settings
from chatkit_app.workflows.agent import ChatAgent, Turn, message_text
from chatkit_app.workflows.failures import describe_failure, failure_kind
from chatkit_app.workflows.history import ReadOnce
from chatkit_app.workflows.model_client import OpenAIClient, shared_client
from chatkit_app.workflows.model_inputs import converter_for
from chatkit_app.workflows.offline import OfflineAgent
from chatkit_app.workflows.partial_answer import PartialAnswer, RecordingChatCompletionsModel, RecordingResponsesModel

logger = logging.getLogger("chatkit_app.workflows.openai_agent")
# This request's client whose model call `start_early` sent, until `_attempt` takes it.
_STARTED: ContextVar[OpenAIClient | None] = ContextVar("chatkit_started_model_call", default=None)
EARLY_SEND_WAIT = 0.05  # seconds an answer waits for its early call's request to go out


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
        self._early_key = (settings.chatkit_model, settings.chatkit_instructions)

    async def start_early(self, message: UserMessageItem) -> None:
        """For a thread this request creates, whose history is `message` alone: the model
        call goes out now, before ChatKit saves the thread and the message, and is taken
        over by this request's answer (`drop_early` closes it if there is none)."""
        if self.settings.chatkit_openai_api != "responses":
            return
        model_input = await converter_for(None, self.settings).to_agent_input([message])
        client = shared_client(self.settings).with_options(timeout=self.budget)
        with agents_sdk_user_agent_override():  # as when ChatKit runs the agent
            client.responses.start_early(self._early_key, model_input)
        _STARTED.set(client)
        # Its request goes out before this answer's setup: when many arrive at once, the
        # server then sends their model calls first (`HeadStart`), not behind their setups.
        try:
            await client.responses.early_call_sent(EARLY_SEND_WAIT)
        except asyncio.CancelledError:  # the request is gone: its model call goes too
            await self.drop_early()
            raise

    async def drop_early(self) -> None:
        client, _ = _STARTED.get(), _STARTED.set(None)
        if client is not None:
            await client.responses.close_early()

    async def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        text = message_text(turn.message)
        # A new thread's title is set once the first text has gone out (the SDK then saves
        # the thread and sends `thread.updated` after the next event, or at the end), or when
        # the answer ends without text (`AppChatKitServer` saves it if the client hung up):
        # not one more database write before the first token of every new chat, nor in
        # the work every answer does when it ends, but while its model is still writing.
        title = _title(text) if turn.thread.title is None and text else None
        newest = await turn.newest(self.history_limit)
        model_input = await converter_for(turn, self.settings).to_agent_input(list(reversed(newest.data)))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.budget
        attempt = 0
        try:
            while True:
                partial = PartialAnswer(turn)
                try:
                    left = deadline - loop.time()
                    async for event in self._attempt(turn, newest, model_input, left, partial, early=attempt == 0):
                        yield event
                        if title is not None and _is_text(event):
                            turn.thread.title, title = title, None
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
                        logger.info("model call failed (%s); retry %d in %.1f s", failure_kind(exc), attempt + 1, wait)
                        attempt += 1
                        await asyncio.sleep(wait)
                        continue
                    logger.warning("model call failed (%s) after %d attempt(s)", failure_kind(exc), attempt + 1)
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
        partial: PartialAnswer,
        *,
        early: bool,
    ) -> AsyncIterator[ThreadStreamEvent]:
        started = _STARTED.get() if early else None
        if started is not None:
            _STARTED.set(None)
            client = started  # its call went out before the thread was saved
        else:
            # Every read (headers, then each chunk) must arrive within the budget left.
            client = shared_client(self.settings).with_options(timeout=max(seconds_left, 0.001))
        model: RecordingResponsesModel | RecordingChatCompletionsModel
        if self.settings.chatkit_openai_api == "chat_completions":
            model = RecordingChatCompletionsModel(model=self.settings.chatkit_model, openai_client=client)
        else:
            model = RecordingResponsesModel(model=self.settings.chatkit_model, openai_client=client)
            if early and started is None:
                # The model starts on its answer while the Agents SDK sets the run up.
                client.responses.start_early(self._early_key, model_input)
                await asyncio.sleep(0)  # the early call's request goes out now
        model.partial = partial
        store = ReadOnce(turn.store, turn.thread.id, newest)
        context: AgentContext[RequestContext] = AgentContext(
            thread=turn.thread, store=store, request_context=turn.context
        )
        # One Agent per run: the Agents SDK tracks the runs sharing an Agent, at a cost that
        # grows with their number (50 concurrent runs of one Agent: ~0.5 ms more per run).
        agent: Agent[AgentContext[RequestContext]] = Agent(
            name="assistant", instructions=self.settings.chatkit_instructions, model=model
        )
        if self.settings.chatkit_openai_api == "chat_completions" and self.settings.chatkit_limit_model_tokens_per_day:
            # The token quota needs the usage, which the Agents SDK asks of OpenAI itself
            # only; OpenAI-compatible servers (vLLM, Ollama, llama.cpp) report it when asked.
            agent.model_settings = ModelSettings(include_usage=True)
        config = RunConfig(tracing_disabled=True, trace_include_sensitive_data=False, workflow_name="chatkit")
        result = Runner.run_streamed(agent, model_input, context=context, run_config=config)
        item_id: str | None = None
        try:
            async for event in stream_agent_response(context, result):
                observed = partial.observe(event)
                if isinstance(observed, ThreadItemDoneEvent) and isinstance(observed.item, AssistantMessageItem):
                    item_id = observed.item.id
                yield observed
        finally:
            result.cancel()
            await client.responses.close_early()
            await _record_usage(turn, item_id, result.context_wrapper.usage.total_tokens)

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


async def _record_usage(turn: Turn, item_id: str | None, tokens: int) -> None:
    """Store the tokens the model reported for this attempt (the daily token quota),
    also when the client hung up (shielded: the request's task may be cancelled)."""
    if turn.record_usage is None or tokens <= 0:
        return
    with anyio.CancelScope(shield=True):
        try:
            await turn.record_usage(item_id, tokens)
        except Exception:
            logger.warning("could not store the model usage of an answer", exc_info=True)


def runs_a_model(settings: Settings) -> bool:
    """Whether workflow `assistant` runs a language model (a key or a base URL is set)."""
    return settings.openai_api_key is not None or bool(settings.openai_base_url)


def describe_assistant(settings: Settings) -> str:
    """What workflow `assistant` runs, in words a visitor understands (no secrets)."""
    if runs_a_model(settings):
        where = "an OpenAI-compatible server" if settings.openai_base_url else "OpenAI"
        return f"AI assistant ({settings.chatkit_model} via {where})"
    return "Offline demo agent: canned answers, no language model"


def _is_text(event: ThreadStreamEvent) -> bool:
    return isinstance(event, ThreadItemUpdatedEvent) and isinstance(event.update, AssistantMessageContentPartTextDelta)


def _title(text: str) -> str:
    first_line = text.splitlines()[0]
    return first_line[:60] + ("…" if len(first_line) > 60 else "")


def make_assistant_agent(settings: Settings) -> ChatAgent:
    """The OpenAI agent when a key or a base URL is configured, else the offline demo agent."""
    if runs_a_model(settings):
        return OpenAIAgent(settings)
    return OfflineAgent()
