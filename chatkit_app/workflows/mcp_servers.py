"""The Agents SDK server objects for configured MCP servers (`CHATKIT_MCP_SERVERS` entries).

They are the SDK's own `MCPServerStreamableHttp` / `MCPServerStdio`, with what sharing one
connection among every user's turns needs: the tool allowlist as the SDK's static tool
filter; the tool list cached (emptied on reconnect and when the server says it changed);
a per-call timeout (`timeout` in the entry); progress routed to the calling turn
(`mcp_progress`); and a `Watch` that sees each call succeed or fail, so that a connection
that died during a call is replaced before the next turn rather than found dead by it.
A failed call reaches the model as a short sentence naming the server, not a stack trace.

The SDK sends one request at a time on a streamable-HTTP connection (so that one failed
request cannot cancel its neighbours in the `mcp` client), which would make every user wait
for one user's slow tool. The object an agent holds for a url server therefore hands each
call to a connection that is free at that moment (`Lanes`, kept by the pool): itself, or one
of up to `connections - 1` more, opened when all are busy.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from agents import RunContextWrapper
from agents.agent import AgentBase
from agents.mcp import (
    MCPServer,
    MCPServerStdio,
    MCPServerStdioParams,
    MCPServerStreamableHttp,
    create_static_tool_filter,
)
from agents.tool import ToolErrorFunction
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED, INVALID_PARAMS, METHOD_NOT_FOUND, REQUEST_TIMEOUT, CallToolResult
from mcp.types import Tool as MCPTool

from chatkit_app.core.mcp_config import McpServerConfig
from chatkit_app.workflows.mcp_progress import ProgressRouter

HTTP_CONNECT_TIMEOUT_SECONDS = 5.0  # connecting and sending; reading waits up to the entry's timeout
# Errors that say the request was wrong, not that the connection is in doubt.
_REQUEST_ERRORS = {INVALID_PARAMS, METHOD_NOT_FOUND}


class Watch:
    """What the calls on one connection have shown since it was (re)confirmed."""

    def __init__(self) -> None:
        self.confirmed_at = 0.0
        self.suspect = False  # a call failed in a way a dead connection would: check first
        self.closed = False  # the client saw the connection close: reconnect, no check needed

    def confirmed(self) -> None:
        self.confirmed_at = time.monotonic()
        self.suspect = self.closed = False

    def fresh(self, recheck_after: float) -> bool:
        return not self.suspect and time.monotonic() - self.confirmed_at < recheck_after

    def saw(self, error: BaseException) -> None:
        if isinstance(error, MCPError):
            if error.code in _REQUEST_ERRORS:
                return
            if error.code == CONNECTION_CLOSED:
                self.closed = True
        self.suspect = True


class Lanes(Protocol):
    """The connections a url server's calls may use (see the module docstring)."""

    async def acquire(self) -> MCPServer: ...

    def release(self, server: MCPServer) -> None: ...


class _Watched:
    """The part both pooled classes share: report each call's outcome, end its progress."""

    watch: Watch
    router: ProgressRouter

    async def _watched_call(self, call: Any, meta: dict[str, Any] | None) -> CallToolResult:
        try:
            result: CallToolResult = await call
        except Exception as exc:
            self.watch.saw(exc)
            raise
        finally:
            self.router.done(meta)
        self.watch.confirmed()
        return result

    async def _watched_list(self, listing: Any) -> list[MCPTool]:
        try:
            tools: list[MCPTool] = await listing
        except Exception as exc:
            self.watch.saw(exc)
            raise
        return tools


class PooledStreamableHttp(_Watched, MCPServerStreamableHttp):
    lanes: Lanes | None = None

    async def call_tool(
        self, tool_name: str, arguments: dict[str, Any] | None, meta: dict[str, Any] | None = None
    ) -> CallToolResult:
        if self.lanes is None:
            return await self._watched_call(super().call_tool(tool_name, arguments, meta), meta)
        try:
            # Waiting for a free connection counts against the call's timeout too: other
            # users' slow calls must not hold this one up for longer.
            async with asyncio.timeout(self.client_session_timeout_seconds):
                lane = await self.lanes.acquire()
        except TimeoutError:
            self.router.done(meta)
            raise MCPError(REQUEST_TIMEOUT, "no connection to the server came free in time") from None
        try:
            if lane is self:
                return await self._watched_call(super().call_tool(tool_name, arguments, meta), meta)
            return await lane.call_tool(tool_name, arguments, meta)
        finally:
            self.lanes.release(lane)

    async def list_tools(
        self, run_context: RunContextWrapper[Any] | None = None, agent: AgentBase | None = None
    ) -> list[MCPTool]:
        return await self._watched_list(super().list_tools(run_context, agent))


class PooledStdio(_Watched, MCPServerStdio):
    async def call_tool(
        self, tool_name: str, arguments: dict[str, Any] | None, meta: dict[str, Any] | None = None
    ) -> CallToolResult:
        return await self._watched_call(super().call_tool(tool_name, arguments, meta), meta)

    async def list_tools(
        self, run_context: RunContextWrapper[Any] | None = None, agent: AgentBase | None = None
    ) -> list[MCPTool]:
        return await self._watched_list(super().list_tools(run_context, agent))


def build_server(config: McpServerConfig, watch: Watch, router: ProgressRouter) -> MCPServer:
    """The SDK server object for `config` (not connected yet)."""
    server: PooledStreamableHttp | PooledStdio
    options: dict[str, Any] = {
        "name": config.name,
        "cache_tools_list": True,
        "client_session_timeout_seconds": config.timeout,
        "tool_filter": create_static_tool_filter(allowed_tool_names=list(config.tools)) if config.tools else None,
        "failure_error_function": tool_failure_message(config.name, config.timeout),
        "tool_meta_resolver": router.meta_for(config.name),
    }
    if config.url is not None:
        headers = {key: value.get_secret_value() for key, value in config.headers.items()}
        server = PooledStreamableHttp(
            {"url": config.url, "headers": headers, "timeout": HTTP_CONNECT_TIMEOUT_SECONDS}, **options
        )
    else:
        assert config.command is not None
        params: MCPServerStdioParams = {"command": config.command, "args": list(config.args)}
        if config.env is not None:
            params["env"] = {key: value.get_secret_value() for key, value in config.env.items()}
        if config.cwd is not None:
            params["cwd"] = config.cwd
        server = PooledStdio(params, **options)
    server.watch, server.router = watch, router
    server.message_handler = router.handler_for(server.invalidate_tools_cache)
    return server


def tool_failure_message(label: str, timeout: float) -> ToolErrorFunction:
    """What the model reads when a call to one of `label`'s tools fails: enough to tell the
    user what happened, nothing of the server's internals."""

    def message(_context: RunContextWrapper[Any], error: Exception) -> str:
        if isinstance(error, MCPError) and error.code == REQUEST_TIMEOUT:
            return f"The tool server “{label}” took longer than {timeout:g} seconds to answer; the call was stopped."
        if isinstance(error, MCPError) and error.code in _REQUEST_ERRORS:
            return f"The tool server “{label}” refused the call: {error.message}"
        return f"The tool server “{label}” is not reachable right now (the call failed). Try again in a minute."

    return message
