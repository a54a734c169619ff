"""What the model sent so far, recorded where its stream is read, so that an answer cut off
mid-way can still be finished and saved."""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from datetime import datetime
from typing import Any

from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel
from agents.items import TResponseStreamEvent
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)
from openai.types.responses import ResponseOutputItemAddedEvent, ResponseTextDeltaEvent

from chatkit_app.core.coalesce import coalesce
from chatkit_app.workflows.agent import Turn


class PartialAnswer:
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
        self.saved: dict[str, str] = {}  # model item id -> store item id, of finished messages

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
            self.saved[event.item.id] = new_id
            return ThreadItemDoneEvent(item=event.item.model_copy(update={"id": new_id}))
        if isinstance(event, ThreadItemRemovedEvent):
            # An answer withdrawn (an output guardrail tripped): under the id it was stored with.
            stored = self.ids.get(event.item_id) or self.saved.get(event.item_id)
            if stored is not None:
                return ThreadItemRemovedEvent(item_id=stored)
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


class RecordingResponsesModel(OpenAIResponsesModel):
    """Records each event as it is read. Its client (with the fast paths on:
    `fast_paths.FastModelClient`) already merges waiting text deltas, below the SDK's parsing."""

    partial: PartialAnswer

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        async for event in super().stream_response(*args, **kwargs):
            self.partial.record(event)
            yield event


class RecordingChatCompletionsModel(OpenAIChatCompletionsModel):
    """Records each event as it is read; text deltas of one content part that are already
    waiting when the run loop asks for more come as one (the SDK builds these events from
    Chat Completions chunks, so they are merged here rather than in the client)."""

    partial: PartialAnswer

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        return coalesce(
            _recorded(super().stream_response(*args, **kwargs), self.partial), _text_delta_key, _join_text_deltas
        )


async def _recorded(
    events: AsyncIterator[TResponseStreamEvent], partial: PartialAnswer
) -> AsyncIterator[TResponseStreamEvent]:
    async for event in events:
        partial.record(event)
        yield event


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
