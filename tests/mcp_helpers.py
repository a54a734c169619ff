"""Calling MCP tools the way an agent run does: the servers on an `agents.Agent`, its tools
listed by the SDK (allowlists applied there), each tool invoked as the SDK's `FunctionTool`
(failures turned into the text the model reads)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from agents import Agent, FunctionTool, RunContextWrapper
from agents.mcp import MCPServer
from agents.tool_context import ToolContext

from chatkit_app.workflows.mcp_progress import McpProgress


class TurnContext:
    """A turn's run context that shows MCP progress (what the lead's tool context does)."""

    def __init__(self) -> None:
        self.updates: list[McpProgress] = []

    async def on_mcp_progress(self, update: McpProgress) -> None:
        self.updates.append(update)


async def agent_tools(servers: list[MCPServer], context: Any = None) -> dict[str, FunctionTool]:
    agent = Agent(name="tester", instructions="", mcp_servers=servers)
    tools = await agent.get_all_tools(RunContextWrapper(context))
    return {tool.name: tool for tool in tools if isinstance(tool, FunctionTool)}


async def call(tool: FunctionTool, context: Any, arguments: dict[str, Any]) -> str:
    """Invoke `tool` as a model's tool call would; the model's view of the output as text."""
    raw = json.dumps(arguments)
    output = await tool.on_invoke_tool(
        ToolContext(context=context, tool_name=tool.name, tool_call_id="call-1", tool_arguments=raw), raw
    )
    if isinstance(output, dict) and output.get("type") == "text":
        return str(output["text"])
    return str(output)


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for `condition`, checking often; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
