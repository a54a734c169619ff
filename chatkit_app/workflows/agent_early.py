"""The early model call of agent workflows (fast paths only).

For a workflow whose agent is the same for every user and asks the site's Responses model,
the model call goes out before the Agents SDK sets the run up, for a new thread even before
ChatKit saves it; the SDK's own call takes it over only if its parameters are the same
(`fast_paths.client.FastResponses`), so an agent whose calls cannot be predicted simply
gets no head start. A part of `AgentRunner`.
"""

from __future__ import annotations

import asyncio

from chatkit.server import agents_sdk_user_agent_override
from chatkit.types import UserMessageItem

from chatkit_app.fast_paths import ModelClient, shared_client
from chatkit_app.settings import Settings
from chatkit_app.workflows.mcp_connections import McpConnections
from chatkit_app.workflows.model_inputs import converter_for
from chatkit_app.workflows.registry import Workflow
from chatkit_app.workflows.run_config import picked_model

EARLY_SEND_WAIT = 0.05  # seconds an answer waits for its early call's request to go out


class EarlyStart:
    settings: Settings
    workflow: Workflow
    mcp: McpConnections
    budget: float
    # The client whose model call `start_early` sent, until the answer takes it over.
    _started: ModelClient | None

    def _early_key(self, chosen: str | None) -> tuple[str, str, str | None] | None:
        """What identifies this workflow's model calls for an early call, or None when they
        cannot be predicted from the user's message alone (an agent per request, dynamic
        instructions or tools, a `Model` object of its own, Chat Completions), or must not be
        sent before the run starts: an input guardrail decides first whether the message
        may reach a model at all."""
        agent = self.workflow.agent
        if agent is None or self.settings.chatkit_openai_api != "responses" or agent.prompt is not None:
            return None
        if agent.input_guardrails:
            return None
        if not isinstance(agent.instructions, str | None) or not isinstance(agent.model, str | None):
            return None
        if any(not isinstance(getattr(tool, "is_enabled", True), bool) for tool in agent.tools):
            return None
        return (self.workflow.id, chosen or agent.model or self.settings.chatkit_model, agent.instructions)

    async def start_early(self, message: UserMessageItem) -> None:
        """For a thread this request creates, whose history is `message` alone: the model
        call goes out now, before ChatKit saves the thread and the message, and is taken
        over by this request's answer (`drop_early` closes it if there is none)."""
        picked = picked_model(message)
        key = self._early_key(picked)
        if key is None or (picked is not None and picked not in self.workflow.model_ids):
            return
        if self.workflow.mcp_servers:
            try:  # no model call for a turn that cannot run: `respond` says why
                await self.mcp.ready(self.workflow.mcp_servers)
            except Exception:
                return
        model_input = await converter_for(None, self.settings).to_agent_input([message])
        client = shared_client(self.settings).with_options(timeout=self.budget)
        with agents_sdk_user_agent_override():  # as when ChatKit runs the agent
            client.responses.start_early(key, model_input)
        self._started = client
        # Its request goes out before this answer's setup: when many arrive at once, the
        # server then sends their model calls first (`HeadStart`), not behind their setups.
        try:
            await client.responses.early_call_sent(EARLY_SEND_WAIT)
        except asyncio.CancelledError:  # the request is gone: its model call goes too
            await self.drop_early()
            raise

    async def drop_early(self) -> None:
        client, self._started = self._started, None
        if client is not None:
            await client.responses.close_early()
