"""Edit and resend the last user message.

The ChatKit protocol has no "edit" request, so an edit is two steps on the user's own
thread: the stored user message gets the new text (the store is scoped to the user, so
only their own thread's item can change), then `threads.retry_after_item` removes what
came after it and answers again, exactly as ChatKit's retry does. Only the thread's
newest user message can be edited, so earlier turns never change under an answer that
read them; ChatKit's UI, which reads the same store, shows the same thread.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

import reflex as rx
from chatkit.types import UserMessageItem, UserMessageTextContent

from chatkit_app.core.context import RequestContext
from chatkit_app.services import Services
from chatkit_app.ui.native.chat_base import ChatBase
from chatkit_app.ui.native.message_model import ChatMessage
from chatkit_app.ui.native.protocol import call, stream
from chatkit_app.ui.native.turn_failures import TurnFailure
from chatkit_app.ui.native.turn_rules import editable_id, edited, last_user_index, newest_user_item

COMPOSER_ID = "native-composer-input"
NEWEST_ITEMS = 50  # the newest user message is searched among this many items
NOT_EDITED = TurnFailure("Not edited", "Only the last message of this thread can be edited.", False)


class EditState(ChatBase, mixin=True):
    editing_id: str = ""  # the user message the composer's text will replace

    if TYPE_CHECKING:  # MessageWindow's and TurnState's, mixed into NativeChatState
        messages: list[ChatMessage]
        streaming: bool
        failure: TurnFailure

    @rx.var
    def edit_target(self) -> str:
        """The message the pencil edits: the last user message, once saved and shown whole."""
        return "" if self.streaming else editable_id(self.messages)

    @rx.event
    def edit_last(self) -> Any:
        """The pencil: the last user message's text back in the composer, to edit."""
        item_id = self.edit_target
        index = last_user_index(self.messages)
        if not item_id or index is None:
            return None
        self.editing_id = item_id
        return [rx.set_value(COMPOSER_ID, self.messages[index].text), rx.set_focus(COMPOSER_ID)]

    @rx.event
    def cancel_edit(self) -> Any:
        self.editing_id = ""
        return rx.set_value(COMPOSER_ID, "")

    async def _edit_events(
        self, services: Services, context: RequestContext, thread_id: str, item_id: str, text: str
    ) -> AsyncGenerator[dict[str, Any], None] | None:
        """Under the lock, with the turn taken: the stored message says `text` and the
        stream of its new answer; None (the card says why) when it cannot be edited."""
        if not thread_id or not text:
            self.failure = NOT_EDITED
            return None
        page = await call(services, context, "items.list", thread_id=thread_id, limit=NEWEST_ITEMS, order="desc")
        if newest_user_item(page.get("data", [])) != item_id:
            self.failure = NOT_EDITED
            return None
        item = await services.store.load_item(thread_id, item_id, context)
        if not isinstance(item, UserMessageItem):
            self.failure = NOT_EDITED
            return None
        content = [UserMessageTextContent(text=text)]
        await services.store.save_item(thread_id, item.model_copy(update={"content": content}), context)
        self.messages = edited(self.messages, item_id, text)
        return stream(services, context, "threads.retry_after_item", thread_id=thread_id, item_id=item_id)
