"""Answers saved while they stream, so a process that dies mid-answer (a killed worker, a
lost host) loses at most the last second of text and the thread reads as it was.

ChatKit's server stores an assistant message once, when its `thread.item.done` arrives
(or, for a client that hangs up, in `handle_stream_cancelled`). `checkpointed()` sits
between a workflow's events and the server: it follows each open assistant message's text
and, at most every `interval` seconds, upserts what it has so far under the message's own
id. The final save (of its done or replaced event) then overwrites it; a removal deletes
it. Per event the cost is an `isinstance` and a list append; the writes happen between
events, awaited, so a checkpoint can never land after (and overwrite) the message's final
save.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
)

from chatkit_app.chatkit_server.store import SQLModelStore
from chatkit_app.core.context import RequestContext

SAVE_EVERY_SECONDS = 1.0


@dataclass
class _Open:
    """An assistant message being streamed: its added item and its parts' texts."""

    item: AssistantMessageItem
    parts: dict[int, list[str]] = field(default_factory=dict)
    heads: dict[int, AssistantMessageContent] = field(default_factory=dict)  # part -> its added content
    changed: bool = False

    def apply(self, update: object) -> None:
        if isinstance(update, AssistantMessageContentPartTextDelta):
            self.parts.setdefault(update.content_index, []).append(update.delta)
        elif isinstance(update, (AssistantMessageContentPartAdded, AssistantMessageContentPartDone)):
            self.heads[update.content_index] = update.content
            self.parts[update.content_index] = [update.content.text]
        else:
            return
        self.changed = True

    def snapshot(self) -> AssistantMessageItem:
        content = list(self.item.content)
        for index in sorted(self.parts):
            known = content[index] if index < len(content) else AssistantMessageContent(text="")
            head = self.heads.get(index) or known
            part = head.model_copy(update={"text": "".join(self.parts[index])})
            if index < len(content):
                content[index] = part
            else:
                content.append(part)
        self.changed = False
        return self.item.model_copy(update={"content": content})


async def checkpointed(
    events: AsyncIterator[ThreadStreamEvent],
    store: SQLModelStore,
    thread: ThreadMetadata,
    context: RequestContext,
    *,
    interval: float = SAVE_EVERY_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[ThreadStreamEvent]:
    """`events`, unchanged; meanwhile each open assistant message is saved with the text
    it has so far at most every `interval` seconds (only if it changed since)."""
    open_items: dict[str, _Open] = {}
    due = clock() + interval
    async for event in events:
        if isinstance(event, ThreadItemUpdatedEvent):
            entry = open_items.get(event.item_id)
            if entry is not None:
                entry.apply(event.update)
        elif isinstance(event, ThreadItemAddedEvent):
            if isinstance(event.item, AssistantMessageItem):
                open_items[event.item.id] = _Open(event.item)
        elif isinstance(event, ThreadItemDoneEvent | ThreadItemReplacedEvent):  # the server saves both
            open_items.pop(event.item.id, None)
        elif isinstance(event, ThreadItemRemovedEvent):
            open_items.pop(event.item_id, None)
        yield event
        if open_items and clock() >= due:
            due = clock() + interval
            for entry in list(open_items.values()):
                if entry.changed:
                    await store.save_item(thread.id, entry.snapshot(), context)
