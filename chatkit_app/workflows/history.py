"""The thread's history as the model's input, read from the database once per answer."""

from __future__ import annotations

import json

from agents import TResponseInputItem
from chatkit.agents import ThreadItemConverter
from chatkit.store import Store, StoreItemType
from chatkit.types import (
    AssistantMessageItem,
    Attachment,
    Page,
    ThreadItem,
    ThreadMetadata,
    UserMessageTagContent,
)
from openai.types.responses import EasyInputMessageParam, ResponseInputContentParam, ResponseInputTextParam

from chatkit_app.core.context import RequestContext


class Converter(ThreadItemConverter):
    """History to model input, the conversions every model takes: assistant turns as plain
    strings (which both APIs and compatible servers accept), tags as text, attachments
    described by name. `model_inputs.ModelInputConverter` sends attachments' content."""

    async def assistant_message_to_input(self, item: AssistantMessageItem) -> TResponseInputItem | None:
        text = "".join(part.text for part in item.content)
        return EasyInputMessageParam(type="message", role="assistant", content=text) if text else None

    async def attachment_to_message_content(self, attachment: Attachment) -> ResponseInputContentParam:
        return describe(attachment)

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> ResponseInputContentParam:
        return ResponseInputTextParam(type="input_text", text=f"@{tag.text}: {json.dumps(tag.data)}")


def describe(attachment: Attachment, note: str = "") -> ResponseInputTextParam:
    """An attachment by name and type only, with `note` telling the model why."""
    tail = f". {note}" if note else ""
    return ResponseInputTextParam(
        type="input_text", text=f"[The user attached a file: {attachment.name} ({attachment.mime_type}){tail}]"
    )


class ReadOnce(Store[RequestContext]):
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
