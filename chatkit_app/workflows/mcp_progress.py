"""Progress of an MCP tool call, brought back to the turn that made the call.

One MCP connection serves every user's turns, so a server's progress notification must be
matched to the call it belongs to. Before each call the Agents SDK asks the server's
`tool_meta_resolver` for the request's `_meta`: we put a fresh `progressToken` there, filed
under the turn's run context. The server echoes the token in each `notifications/progress`,
which the connection's `message_handler` looks up and hands to that context. The token is
forgotten when the call ends (`ProgressRouter.done`, called by the pooled server classes).

A run context takes part by having `on_mcp_progress` (`ReportsMcpProgress`); the lead's
tool context turns an update into a ChatKit progress event. Other contexts send no token,
and the server then sends no progress.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from agents.mcp import MCPToolMetaContext
from mcp.client.session import MessageHandlerFnT
from mcp.types import ProgressNotification, ToolListChangedNotification

logger = logging.getLogger("chatkit_app.workflows.mcp_progress")

MAX_OPEN_CALLS = 10_000  # a bound on tokens whose call never reported its end
TOKEN_PREFIX = "chatkit-"  # noqa: S105 (a label, not a secret)


@dataclass(frozen=True, slots=True)
class McpProgress:
    """One progress report of a running MCP tool call."""

    server: str  # the server's configured name, e.g. "files"
    tool: str
    progress: float
    total: float | None
    message: str | None

    @property
    def text(self) -> str:
        """A line for a progress indicator, e.g. "Asking the carrier (2/3)"."""
        count = f"{self.progress:g}/{self.total:g}" if self.total else f"{self.progress:g}"
        return f"{self.message} ({count})" if self.message else f"{self.tool}: {count}"


@runtime_checkable
class ReportsMcpProgress(Protocol):
    async def on_mcp_progress(self, update: McpProgress) -> None:
        """Show `update` to the user of this turn; called on the connection's task, so keep it short."""
        ...


class ProgressRouter:
    """Which running tool call each progress token belongs to (one per connection pool)."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[ReportsMcpProgress, str, str]] = {}

    def meta_for(self, label: str) -> Callable[[MCPToolMetaContext], dict[str, Any] | None]:
        """The `tool_meta_resolver` of server `label`."""

        def resolve(call: MCPToolMetaContext) -> dict[str, Any] | None:
            sink = call.run_context.context
            if not isinstance(sink, ReportsMcpProgress):
                return None
            if len(self._open) >= MAX_OPEN_CALLS:
                self._open.pop(next(iter(self._open)))
            token = TOKEN_PREFIX + uuid.uuid4().hex
            self._open[token] = (sink, label, call.tool_name)
            return {"progressToken": token}

        return resolve

    def done(self, meta: Mapping[str, Any] | None) -> None:
        """The call that carried `meta` has ended: its token means nothing any more."""
        token = meta.get("progressToken") if meta else None
        if isinstance(token, str):
            self._open.pop(token, None)

    def open_calls(self) -> int:
        return len(self._open)

    def handler_for(self, on_tools_changed: Callable[[], None]) -> MessageHandlerFnT:
        """The `message_handler` of one connection: progress to its turn; a changed tool
        list empties the server's tool cache (`cache_tools_list` is on for our servers)."""

        async def handle(message: Any) -> None:
            if isinstance(message, ProgressNotification):
                await self._deliver(message)
            elif isinstance(message, ToolListChangedNotification):
                on_tools_changed()

        return handle

    async def _deliver(self, message: ProgressNotification) -> None:
        params = message.params
        found = self._open.get(str(params.progress_token))
        if found is None:
            return
        sink, label, tool = found
        update = McpProgress(label, tool, float(params.progress), _number(params.total), params.message)
        try:
            await sink.on_mcp_progress(update)
        except Exception:
            logger.exception("showing the progress of MCP tool %s on %r failed", tool, label)


def _number(value: float | None) -> float | None:
    return None if value is None else float(value)
