"""Any OpenAI Agents SDK agent behind the ChatKit protocol: the runner of agent workflows.

A workflow's `agent` (or the one its `agent_factory` makes for this request) runs with the
thread's history as input; ChatKit's `stream_agent_response` turns the run's events into
ChatKit events. Tools receive ChatKit's `AgentContext` as their run context: the request
context (`ctx.context.request_context.user_id`, the thread, the store), `stream_widget`,
workflow tasks, client tool calls. Each tool call shows as a task (`tool_progress`).

Every agent of the run whose model is a name reaches the site's model server
(`model_provider.SiteModels`); the user's pick from the workflow's `models` replaces it,
and a model outside that list is refused before anything runs.

Upstream failures never escape as bare exceptions: they become a `CustomStreamError` with a
short human message, and an answer cut off mid-way is kept as a finished item first
(`partial_answer`). Failed model calls are retried (5xx, 429, lost connections) while
nothing has been streamed yet, all inside one budget of `CHATKIT_UPSTREAM_TIMEOUT_SECONDS`.
A guardrail that trips ends the turn with a message saying so.

Time to first token: `agent_early.EarlyStart` (fast paths only) sends the model call before
the Agents SDK sets the run up.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import anyio
from agents import (
    Agent,
    InputGuardrailTripwireTriggered,
    MaxTurnsExceeded,
    OutputGuardrailTripwireTriggered,
    Runner,
)
from chatkit.actions import Action
from chatkit.agents import stream_agent_response
from chatkit.errors import CustomStreamError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    Page,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    WidgetItem,
)

from chatkit_app.core.byte_budget import ByteBudget
from chatkit_app.core.context import RequestContext
from chatkit_app.errors import ChatKitAppError
from chatkit_app.fast_paths import ModelClient, shared_client
from chatkit_app.ops import metrics
from chatkit_app.settings import Settings
from chatkit_app.workflows.agent import Turn, message_text
from chatkit_app.workflows.agent_early import EarlyStart
from chatkit_app.workflows.failures import describe_failure, failure_kind, failure_label
from chatkit_app.workflows.history import ReadOnce
from chatkit_app.workflows.mcp_connections import McpConnections
from chatkit_app.workflows.model_inputs import converter_for
from chatkit_app.workflows.model_provider import SiteModels
from chatkit_app.workflows.partial_answer import PartialAnswer
from chatkit_app.workflows.registry import Workflow
from chatkit_app.workflows.run_config import picked_model, run_config
from chatkit_app.workflows.tool_progress import ToolContext, ToolProgress
from chatkit_app.workflows.widget_actions import MAX_TYPE_CHARS, action_note

logger = logging.getLogger("chatkit_app.workflows.agent_runner")
MAX_TURNS = 12  # model calls per answer (tool rounds and handoffs included)


class AgentRunner(EarlyStart):
    """A `ChatAgent` (and `EarlyStarting`) for one request of an agent workflow."""

    def __init__(
        self,
        settings: Settings,
        workflow: Workflow,
        *,
        max_retries: int = 2,
        retry_backoff: float = 0.5,
        history_limit: int = 50,
        mcp: McpConnections | None = None,
        file_bytes: ByteBudget | None = None,
    ) -> None:
        self.settings = settings
        self.workflow = workflow
        self.mcp = mcp if mcp is not None else McpConnections()
        self.file_bytes = file_bytes  # shared by the process's answers (`core.byte_budget`)
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.history_limit = history_limit
        self.budget = settings.chatkit_upstream_timeout_seconds
        # The client whose model call `start_early` sent, until the answer takes it over.
        self._started: ModelClient | None = None

    # -- answering ---------------------------------------------------------------------------

    async def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        chosen = self._chosen_model(turn)
        agent = await self._agent_for(turn.context)
        text = message_text(turn.message)
        # A new thread's title is set once the first text has gone out (the SDK then saves
        # the thread and sends `thread.updated` after the next event, or at the end), or when
        # the answer ends without text (`AppChatKitServer` saves it if the client hung up):
        # not one more database write before the first token, but while the model writes.
        title = _title(text) if turn.thread.title is None and text else None
        newest = await turn.newest(self.history_limit)
        converter = converter_for(turn, self.settings, self.file_bytes)
        try:
            model_input = await converter.to_agent_input(list(reversed(newest.data)))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.budget
            attempt = 0
            while True:
                partial = PartialAnswer(turn)
                try:
                    left = deadline - loop.time()
                    run = self._attempt(turn, agent, chosen, newest, model_input, left, partial, early=attempt == 0)
                    async for event in run:
                        yield event
                        if title is not None and _is_text(event):
                            turn.thread.title, title = title, None
                    return
                except CustomStreamError:
                    for closing in partial.close():
                        yield closing
                    raise
                except InputGuardrailTripwireTriggered as exc:
                    name = exc.guardrail_result.guardrail.get_name()
                    logger.info("input guardrail %r tripped in workflow %r", name, self.workflow.id)
                    title = None  # nor does it name the thread
                    if turn.message is not None:
                        # The refused message leaves the thread: kept, it would reach the
                        # model with the history of the next turn.
                        yield ThreadItemRemovedEvent(item_id=turn.message.id)
                    raise CustomStreamError(_REFUSED_MESSAGE, allow_retry=False) from None
                except OutputGuardrailTripwireTriggered as exc:
                    name = exc.guardrail_result.guardrail.get_name()
                    logger.info("output guardrail %r tripped in workflow %r", name, self.workflow.id)
                    raise CustomStreamError(_GUARDRAIL_MESSAGE, allow_retry=False) from None
                except ChatKitAppError as exc:  # the day's model tokens ran out mid-answer
                    for closing in partial.close():
                        yield closing
                    raise CustomStreamError(exc.message, allow_retry=False) from None
                except MaxTurnsExceeded:
                    for closing in partial.close():
                        yield closing
                    raise CustomStreamError(_TOO_MANY_STEPS, allow_retry=True) from None
                except Exception as exc:
                    failure = describe_failure(exc, budget=self.budget, started=partial.has_output)
                    metrics.model_error(failure_label(exc))
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
            converter.release()  # the files' bytes are no longer held
            if title is not None:
                turn.thread.title = title

    def _chosen_model(self, turn: Turn) -> str | None:
        """The user's pick from the workflow's models; any other is refused."""
        picked = picked_model(turn.message)
        if picked is None:
            return None
        if picked not in self.workflow.model_ids:
            raise CustomStreamError(_UNKNOWN_MODEL, allow_retry=False)
        return picked

    async def _agent_for(self, context: RequestContext) -> Agent[Any]:
        """The run's agent: a copy of the workflow's (the Agents SDK tracks the runs that
        share an Agent, at a cost growing with their number), or the factory's."""
        if self.workflow.agent is not None:
            base = self.workflow.agent
        else:
            assert self.workflow.agent_factory is not None
            made = self.workflow.agent_factory(context)
            base = await made if inspect.isawaitable(made) else made
            if not isinstance(base, Agent):
                raise TypeError(f"workflow {self.workflow.id!r}: agent_factory returned a {type(base).__name__}")
        changes: dict[str, Any] = {}  # on a copy: a factory may hand out a shared agent too
        if base.model is None:
            changes["model"] = self.settings.chatkit_model
        if self.workflow.mcp_servers:
            # Connected (once per process) and checked; a server that is down ends the turn
            # here with a message naming it (`McpUnavailable`), before any model call.
            servers = await self.mcp.ready(self.workflow.mcp_servers)
            changes["mcp_servers"] = [*base.mcp_servers, *servers]
        return base.clone(**changes)

    async def _attempt(
        self,
        turn: Turn,
        agent: Agent[Any],
        chosen: str | None,
        newest: Page[ThreadItem],
        model_input: list[Any],
        seconds_left: float,
        partial: PartialAnswer,
        *,
        early: bool,
    ) -> AsyncIterator[ThreadStreamEvent]:
        started = self._started if early else None
        if started is not None:
            self._started = None
            client = started  # its call went out before the thread was saved
        else:
            # Every read (headers, then each chunk) must arrive within the budget left.
            client = shared_client(self.settings).with_options(timeout=max(seconds_left, 0.001))
            key = self._early_key(chosen) if early else None
            if key is not None:
                # The model starts on its answer while the Agents SDK sets the run up.
                client.responses.start_early(key, model_input)
                await asyncio.sleep(0)  # the early call's request goes out now
        store = ReadOnce(turn.store, turn.thread.id, newest)
        context = ToolContext(thread=turn.thread, store=store, request_context=turn.context)
        config = run_config(self.settings, self.workflow.id, agent, chosen, SiteModels(self.settings, client, partial))
        result = Runner.run_streamed(
            agent,
            model_input,
            context=context,
            run_config=config,
            hooks=ToolProgress(turn.check_tokens),
            max_turns=MAX_TURNS,
        )
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
        """A widget's button: the workflow's handler for its type, else the agent answers
        the click, written into the thread as hidden context (`widget_actions.py`)."""
        handler = self.workflow.actions.get(action.type)
        if handler is not None:
            async for event in handler(turn, action, sender):
                yield event
            return
        if not self.workflow.actions_to_agent:
            text = f"This assistant does not handle the action `{action.type[:MAX_TYPE_CHARS]}`."
            item = AssistantMessageItem(
                id=turn.new_id("message"),
                thread_id=turn.thread.id,
                created_at=datetime.now(),
                content=[AssistantMessageContent(text=text)],
            )
            yield ThreadItemDoneEvent(item=item)
            return
        await turn.store.add_thread_item(turn.thread.id, action_note(turn, action, sender), turn.context)
        async for event in self.respond(turn):
            yield event


_REFUSED_MESSAGE = (
    "The assistant's safety check refused your message, so it was not sent and was removed "
    "from the chat. Rephrase it (without the sensitive details) and try again."
)
_GUARDRAIL_MESSAGE = "The assistant's safety check stopped its answer. Try asking differently."
_TOO_MANY_STEPS = f"The assistant took more than {MAX_TURNS} steps without finishing its answer. Try again."
_UNKNOWN_MODEL = "That model is not offered for this chat. Pick one from the list."


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


def _is_text(event: ThreadStreamEvent) -> bool:
    return isinstance(event, ThreadItemUpdatedEvent) and isinstance(event.update, AssistantMessageContentPartTextDelta)


def _title(text: str) -> str:
    first_line = text.splitlines()[0]
    return first_line[:60] + ("…" if len(first_line) > 60 else "")
