"""Our `ChatKitServer`: the SDK speaks the protocol; we pick the workflow's agent,
store feedback, and keep partial answers when a stream is cut."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
from chatkit.actions import Action
from chatkit.server import ChatKitServer
from chatkit.store import AttachmentStore
from chatkit.types import FeedbackKind, ThreadItem, ThreadMetadata, ThreadStreamEvent, UserMessageItem, WidgetItem

from chatkit_app.chatkit_server.context import RequestContext
from chatkit_app.chatkit_server.store import SQLModelStore
from chatkit_app.workflows.agent import ChatAgent, Turn
from chatkit_app.workflows.registry import WorkflowRegistry


class AppChatKitServer(ChatKitServer[RequestContext]):
    def __init__(
        self,
        store: SQLModelStore,
        registry: WorkflowRegistry,
        attachment_store: AttachmentStore[RequestContext] | None = None,
    ) -> None:
        super().__init__(store, attachment_store)
        self.store: SQLModelStore = store
        self.registry = registry

    def _agent(self, context: RequestContext) -> ChatAgent:
        workflow = self.registry.get(context.workflow_id)
        if workflow.agent_factory is None:
            raise RuntimeError(f"workflow {workflow.id!r} has no agent")
        agent: ChatAgent = workflow.agent_factory()
        return agent

    def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        turn = Turn(thread=thread, message=input_user_message, context=context, store=self.store)
        return self._agent(context).respond(turn)

    def action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        turn = Turn(thread=thread, message=None, context=context, store=self.store)
        return self._agent(context).action(turn, action, sender)

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: RequestContext
    ) -> None:
        """The client hung up: save the partial answer. Shielded, because the request's
        task is being cancelled and any unshielded await would be cancelled too."""
        with anyio.CancelScope(shield=True):
            await super().handle_stream_cancelled(thread, pending_items, context)

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: RequestContext
    ) -> None:
        await self.store.save_feedback(thread_id, item_ids, feedback, context)
