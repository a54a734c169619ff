"""What a workflow's agent is: something that turns a user's turn into ChatKit events.

Agents get a `Turn` (thread, the new message, the user's context, the store) and yield
`ThreadStreamEvent`s; the ChatKit server persists and streams them. App authors write
their own by implementing `ChatAgent` and registering a `Workflow` with a factory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from chatkit.actions import Action
from chatkit.store import Store, StoreItemType
from chatkit.types import (
    NoticeEvent,
    Page,
    ThreadItem,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    WidgetItem,
)

from chatkit_app.core.context import RequestContext
from chatkit_app.core.files import AttachmentReader


@dataclass
class Turn:
    thread: ThreadMetadata
    message: UserMessageItem | None  # None: continue after a client tool's output
    context: RequestContext
    store: Store[RequestContext]
    # Where an agent reports the model tokens an answer cost (item id, tokens), for the
    # daily token quota; None when nothing counts them.
    record_usage: Callable[[str | None, int], Awaitable[None]] | None = None
    # Raises the app's `QuotaExceeded` when the day's model tokens plus `spent` (this
    # answer's so far) reach the quota: checked before each further model call of an answer.
    check_tokens: Callable[[int], Awaitable[None]] | None = None
    # The attachment storage, to hand attachments' bytes to a model; None when there is none.
    files: AttachmentReader | None = None
    # What the user is told before the answer's next event (e.g. that a file of the message
    # was too large for the model); the ChatKit server sends them.
    notices: list[NoticeEvent] = field(default_factory=list)

    def new_id(self, kind: StoreItemType) -> str:
        return self.store.generate_item_id(kind, self.thread, self.context)

    async def newest(self, limit: int = 50) -> Page[ThreadItem]:
        """The thread's latest items, newest first; for a thread this request creates,
        the new message, without a database read."""
        if self.context.creates_thread and self.message is not None:
            return Page(data=[self.message])
        return await self.store.load_thread_items(self.thread.id, None, limit, "desc", self.context)

    async def history(self, limit: int = 50) -> list[ThreadItem]:
        """The thread's latest items, oldest first."""
        return list(reversed((await self.newest(limit)).data))


class ChatAgent(Protocol):
    def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]: ...

    def action(
        self, turn: Turn, action: Action[str, Any], sender: WidgetItem | None
    ) -> AsyncIterator[ThreadStreamEvent]: ...


@runtime_checkable
class EarlyStarting(Protocol):
    """An agent that can start on a new thread's first answer before ChatKit has saved the
    thread and the message (`start_early`), within the same request; `drop_early` ends
    whatever it started that no answer took over."""

    async def start_early(self, message: UserMessageItem) -> None: ...

    async def drop_early(self) -> None: ...


def message_text(message: UserMessageItem | None) -> str:
    if message is None:
        return ""
    return "".join(getattr(part, "text", "") for part in message.content).strip()
