"""Our `ChatKitServer`: the SDK speaks the protocol; we pick the workflow's agent,
store feedback, and keep partial answers when a stream is cut, or its process dies (an
answer is saved as it streams, at most a second behind: `checkpoint`).

Requests are parsed with one `TypeAdapter` built at import. With the fast paths on
(`fast_paths`), the SDK processes that parse: its public `process` builds a new adapter per
call, ~25 ms of schema generation on the event loop before the first byte
(bench/streaming.py: most of the time to first token at 1 stream, seconds at 50); text
delta frames, most of an answer's frames, are serialized directly (same JSON); a new
thread's model call starts before the thread is saved (`EarlyStarting`, `HeadStart`).
With them off, requests go through the SDK's public `process`, as it writes them.

Building the server also moves every object alive at that point (imported modules, the
SDKs' ~300k schema and type objects) out of the garbage collector's reach (`gc.freeze`):
otherwise each full collection rescans them all, ~250 ms with the event loop stopped,
about once per 100 streamed answers. And unless the app chose its own, the collector runs
less often (`tune_gc`)."""

from __future__ import annotations

import dataclasses
import functools
import gc
import logging
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import anyio
from chatkit.actions import Action
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.types import (
    ChatKitReq,
    FeedbackKind,
    ItemsFeedbackReq,
    ItemsListReq,
    StructuredInputItem,
    ThreadItem,
    ThreadMetadata,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsRetryAfterItemReq,
    ThreadStreamEvent,
    UserMessageInput,
    UserMessageItem,
    WidgetItem,
)
from pydantic import TypeAdapter

from chatkit_app import fast_paths as fast
from chatkit_app.chatkit_server.attachments import StoredAttachments
from chatkit_app.chatkit_server.checkpoint import checkpointed
from chatkit_app.chatkit_server.head_start import Arrival, HeadStart
from chatkit_app.chatkit_server.store import SQLModelStore
from chatkit_app.core.context import RequestContext
from chatkit_app.errors import BadRequest
from chatkit_app.limits import LimitPolicy
from chatkit_app.limits.in_flight import AnswersInFlight
from chatkit_app.ops import metrics
from chatkit_app.workflows.agent import ChatAgent, EarlyStarting, Turn
from chatkit_app.workflows.registry import WorkflowRegistry

logger = logging.getLogger("chatkit_app.chatkit_server")
CHATKIT_REQUEST: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)
_frozen = threading.Event()
_PYTHON_GC_THRESHOLDS = (700, 10, 10)
GC_THRESHOLDS = (5_000, 10, 10)  # see `tune_gc`


def _freeze_startup_objects() -> None:
    """Once per process: the objects made while starting up live as long as it does."""
    if not _frozen.is_set():
        _frozen.set()
        gc.collect()
        gc.freeze()
        tune_gc()


def tune_gc() -> None:
    """A young collection every 5,000 net allocations instead of Python's 700, unless the
    thresholds were changed already. Fifty answers started together keep ~100k objects
    alive for a while (bench/streaming.py): with Python's thresholds the collector ran ~70
    young and ~6 middle collections per such burst, and a full one in about every third
    burst, 25-47 ms with the event loop stopped, in front of fifty first tokens; now ~8
    young, ~1 middle, and a full one far less often. The cyclic garbage collected later
    costs the process ~20 MB more, a level it then keeps (measured over 2,000 answers)."""
    if gc.get_threshold() == _PYTHON_GC_THRESHOLDS:
        gc.set_threshold(*GC_THRESHOLDS)


class AppChatKitServer(ChatKitServer[RequestContext]):
    def __init__(
        self,
        store: SQLModelStore,
        registry: WorkflowRegistry,
        attachment_store: StoredAttachments | None = None,
        *,
        limits: LimitPolicy | None = None,
        fast_paths: bool = True,
        answers_in_flight: int = 0,
    ) -> None:
        super().__init__(store, attachment_store)
        self.store: SQLModelStore = store
        self.attachment_store: StoredAttachments | None = attachment_store
        self.registry = registry
        self.limits = limits
        self.fast_paths = fast_paths
        self.in_flight = AnswersInFlight(answers_in_flight)
        self.head_start = HeadStart()
        if fast_paths:
            fast.write_text_deltas_directly(self)
            fast.name_agents_directly()
        _freeze_startup_objects()

    async def process(
        self, request: str | bytes | bytearray, context: RequestContext
    ) -> StreamingResult | NonStreamingResult:
        return await self.process_request(CHATKIT_REQUEST.validate_json(request), context, raw=request)

    async def process_request(
        self,
        request: ChatKitReq,
        context: RequestContext,
        arrival: Arrival | None = None,
        *,
        raw: str | bytes | bytearray | None = None,
    ) -> StreamingResult | NonStreamingResult:
        """`process` for an already parsed request (the endpoint parses it to check it);
        `raw` is its body, for the SDK's `process` when the fast paths are off.
        `arrival` (from the endpoint's `HeadStart`) is done once this request's model call
        is out, or at once for requests that make none. Limits are checked first, before
        anything is stored, streamed or sent to a model: over one, the app's error
        (`RateLimited`, `QuotaExceeded`) is raised here, so `POST /api/chatkit` answers
        429 before streaming and the native UI shows its message. A streamed answer is
        metered from here (`ops.metrics.AnswerMeter`: time to first token, duration)."""
        started = time.perf_counter()
        if self.limits is not None:
            await _check_limits(self.limits, request, context.user_id)
        if isinstance(request, ItemsListReq | ItemsFeedbackReq):
            # The SDK reads these items without loading their thread: another workflow's
            # thread (or someone else's) is not found here, as everywhere else.
            await self.store.load_thread(request.params.thread_id, context)
        if isinstance(request, ThreadsAddStructuredInputReq):
            await _check_question_open(self.store, request, context)
        if not isinstance(request, _ANSWERING):
            return await self._process_checked(request, context, arrival, raw)
        release = self.in_flight.enter(context.user_id)
        try:
            result = await self._process_checked(request, context, arrival, raw)
        except BaseException:
            release()
            raise
        if isinstance(result, StreamingResult):
            return StreamingResult(self.in_flight.holding(result.json_events, release, metrics.answer_meter(started)))
        release()
        return result

    async def _process_checked(
        self,
        request: ChatKitReq,
        context: RequestContext,
        arrival: Arrival | None,
        raw: str | bytes | bytearray | None,
    ) -> StreamingResult | NonStreamingResult:
        if isinstance(request, ThreadsCreateReq):
            context = dataclasses.replace(context, creates_thread=True)
        if not self.fast_paths:
            if arrival is not None:
                arrival.done()
            body = raw if raw is not None else CHATKIT_REQUEST.dump_json(request, by_alias=True)
            return await ChatKitServer.process(self, body, context)
        if not isinstance(request, ThreadsCreateReq) and arrival is not None:
            arrival.done()
        if isinstance(request, ThreadsCreateReq):
            agent = self._agent(context)
            # The agent that may start early answers this request too (`respond`): it is
            # handed along in the context, which the SDK passes to `respond`.
            context = dataclasses.replace(context, creates_thread=True, answering=agent)
            if isinstance(agent, EarlyStarting) and not request.params.input.attachments:
                try:
                    await agent.start_early(_new_message(request.params.input))
                except Exception:  # only a head start: the answer goes the usual way
                    logger.warning("could not start the answer early", exc_info=True)
                if arrival is not None:
                    arrival.done()
                    await self.head_start.wait_turn()
                return StreamingResult(_then_drop_early(fast.stream_parsed(self, request, context), agent))
        return await fast.process_parsed(self, request, context)

    def _agent(self, context: RequestContext) -> ChatAgent:
        """The workflow's agent; made per call (agents may keep per-answer state), unless
        this request's agent was made already (`process_request`)."""
        if context.answering is not None:
            agent: ChatAgent = context.answering
            return agent
        return self.registry.chat_agent(context.workflow_id)

    def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        turn = self._turn(thread, input_user_message, context)
        events = self._agent(context).respond(turn)
        # Only a message with files gets notices (`Turn.notices`): other answers skip the layer.
        if input_user_message and input_user_message.attachments:
            events = _notices_first(turn, events)
        return checkpointed(events, self.store, thread, context)

    def action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        events = self._agent(context).action(self._turn(thread, None, context), action, sender)
        return checkpointed(events, self.store, thread, context)

    def _turn(self, thread: ThreadMetadata, message: UserMessageItem | None, context: RequestContext) -> Turn:
        """A turn whose model tokens are checked before each model call and recorded
        (a widget action's answer runs the agent too)."""
        turn = Turn(thread=thread, message=message, context=context, store=self.store, files=self.attachment_store)
        if self.limits is not None:
            turn.record_usage = functools.partial(self.limits.record_tokens, context.user_id, thread.id)
            turn.check_tokens = _tokens_checker(self.limits, context.user_id)
        return turn

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: RequestContext
    ) -> None:
        """The client hung up: save the partial answer, and the thread (an agent may have
        titled it; the SDK saves a changed thread only when a stream ends normally).
        Shielded, because the request's task is being cancelled and any unshielded await
        would be cancelled too."""
        with anyio.CancelScope(shield=True):
            await super().handle_stream_cancelled(thread, pending_items, context)
            await self.store.save_thread(thread, context)

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: RequestContext
    ) -> None:
        await self.store.save_feedback(thread_id, item_ids, feedback, context)


_ANSWERING = (
    ThreadsCreateReq,
    ThreadsAddUserMessageReq,
    ThreadsRetryAfterItemReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsCustomActionReq,
)


def _tokens_checker(limits: LimitPolicy, user_id: str) -> Callable[[int], Awaitable[None]]:
    async def check(spent: int) -> None:
        await limits.answer(user_id, spent=spent)

    return check


async def _check_limits(limits: LimitPolicy, request: ChatKitReq, user_id: str) -> None:
    """A new thread counts a thread and a message; a message, a retry, a widget's action and
    a question's answers count a message (each stores rows and may run the agent); every
    request that starts an answer needs model tokens left today."""
    if not isinstance(request, _ANSWERING):
        return
    if not isinstance(request, ThreadsAddClientToolOutputReq):
        await limits.message(user_id, starts_thread=isinstance(request, ThreadsCreateReq))
    await limits.answer(user_id)


async def _check_question_open(
    store: SQLModelStore, request: ThreadsAddStructuredInputReq, context: RequestContext
) -> None:
    """Answers go to a pending question only: refused up front (400) rather than failing
    the stream (the SDK raises once streaming has begun)."""
    item = await store.load_item(request.params.thread_id, request.params.item_id, context)
    if not isinstance(item, StructuredInputItem) or item.status != "pending":
        raise BadRequest("This question has been answered already.", code="question_closed")


def _new_message(user_input: UserMessageInput) -> UserMessageItem:
    """The message `threads.create` will save, as far as the model sees it (the ids and the
    time are not part of the model's input)."""
    return UserMessageItem(
        id="pending",
        thread_id="pending",
        content=user_input.content,
        attachments=[],
        quoted_text=user_input.quoted_text,
        inference_options=user_input.inference_options,
        created_at=datetime.now(),
    )


async def _notices_first(turn: Turn, events: AsyncIterator[ThreadStreamEvent]) -> AsyncIterator[ThreadStreamEvent]:
    """The agent's events, each after the notices its turn queued before it: the user reads
    that a file did not reach the model before the answer, or before its error."""
    try:
        async for event in events:
            while turn.notices:
                yield turn.notices.pop(0)
            yield event
    except Exception:
        while turn.notices:
            yield turn.notices.pop(0)
        raise
    while turn.notices:
        yield turn.notices.pop(0)


async def _then_drop_early(stream: AsyncIterator[bytes], agent: EarlyStarting) -> AsyncGenerator[bytes, None]:
    try:
        async for chunk in stream:
            yield chunk
    finally:
        await agent.drop_early()
