"""Tool calls and handoffs of an Agents SDK run, shown as a ChatKit workflow item.

The Agents SDK reports each local tool call (function tools, MCP tools) to the run's
hooks as it starts and ends; here each becomes a task of the answer's workflow item
(`AgentContext.add_workflow_task`), which both UIs draw: a spinner while it runs, then
done or failed. `stream_agent_response` closes the item, with its duration, once the
model starts writing again. A handoff is a finished task naming the new agent.

ChatKit's tasks have no "failed" state: a failed call is a finished task whose title says
so. A tool that raised is recognised by the output the SDK hands the model instead
(`default_tool_error_function`, the Agents SDK's public default for function and MCP
tools); a tool with its own `failure_error_function` reports its failures in its own words.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from agents import Agent, RunContextWrapper, RunHooks, Tool, TResponseInputItem
from agents.tool import default_tool_error_function
from chatkit.agents import AgentContext
from chatkit.types import CustomTask, ProgressUpdateEvent

from chatkit_app.core.context import RequestContext
from chatkit_app.workflows.mcp_progress import McpProgress

_FAILED_OUTPUT = default_tool_error_function(RunContextWrapper(context=None), RuntimeError())
_MAX_DETAIL = 200  # characters of a call's arguments (or a tool server's progress line) shown


class ToolContext(AgentContext[RequestContext]):
    """ChatKit's agent context, which also shows an MCP tool's progress reports as they come:
    as the running task's detail line (kept with the task) and as a progress update."""

    async def on_mcp_progress(self, update: McpProgress) -> None:
        text = update.text if len(update.text) <= _MAX_DETAIL else update.text[: _MAX_DETAIL - 1] + "…"
        item = self.workflow_item
        running = f"Using {_label(update.tool)}…"
        if item is not None:
            for index in range(len(item.workflow.tasks) - 1, -1, -1):
                task = item.workflow.tasks[index]
                if isinstance(task, CustomTask) and task.status_indicator == "loading" and task.title == running:
                    await self.update_workflow_task(task.model_copy(update={"content": text}), index)
                    break
        await self.stream(ProgressUpdateEvent(icon="bolt", text=text))


class ToolProgress(RunHooks[AgentContext[RequestContext]]):
    """Run hooks that stream one workflow task per tool call, per run; and before each
    model call after the first, ask `check_tokens` (with the run's tokens so far) whether
    the user's daily token quota allows it (an answer may make several)."""

    def __init__(self, check_tokens: Callable[[int], Awaitable[None]] | None = None) -> None:
        self._check_tokens = check_tokens
        self._model_calls = 0
        # Where the tasks still running are, by tool call id (or tool name, without one).
        self._running: dict[str, int] = {}

    async def on_llm_start(
        self,
        context: RunContextWrapper[AgentContext[RequestContext]],
        agent: Agent[Any],
        system_prompt: str | None,
        input_items: list[TResponseInputItem],
    ) -> None:
        self._model_calls += 1
        if self._model_calls > 1 and self._check_tokens is not None:
            await self._check_tokens(context.usage.total_tokens)

    async def on_tool_start(
        self, context: RunContextWrapper[AgentContext[RequestContext]], agent: Agent[Any], tool: Tool
    ) -> None:
        chat = context.context
        task = CustomTask(
            title=f"Using {_label(tool.name)}…", icon="bolt", content=_arguments(context), status_indicator="loading"
        )
        await chat.add_workflow_task(task)
        assert chat.workflow_item is not None  # add_workflow_task made it
        self._running[_call_key(context, tool)] = len(chat.workflow_item.workflow.tasks) - 1

    async def on_tool_end(
        self, context: RunContextWrapper[AgentContext[RequestContext]], agent: Agent[Any], tool: Tool, result: object
    ) -> None:
        chat = context.context
        index = self._running.pop(_call_key(context, tool), None)
        tasks = chat.workflow_item.workflow.tasks if chat.workflow_item is not None else []
        if index is None or index >= len(tasks) or not isinstance(task := tasks[index], CustomTask):
            return
        if task.status_indicator != "loading" or task.title != f"Using {_label(tool.name)}…":
            return  # not ours any more (the item was closed and another begun)
        failed = isinstance(result, str) and result == _FAILED_OUTPUT
        done = task.model_copy(
            update={
                "title": f"{_label(tool.name)} failed" if failed else f"Used {_label(tool.name)}",
                "icon": "lucide:circle-x" if failed else "check-circle",
                "status_indicator": "complete",
            }
        )
        await chat.update_workflow_task(done, index)

    async def on_handoff(
        self, context: RunContextWrapper[AgentContext[RequestContext]], from_agent: Agent[Any], to_agent: Agent[Any]
    ) -> None:
        await context.context.add_workflow_task(
            CustomTask(title=f"Handed over to {to_agent.name}", icon="agent", status_indicator="complete")
        )


def _call_key(context: RunContextWrapper[Any], tool: Tool) -> str:
    return str(getattr(context, "tool_call_id", None) or tool.name)


def _arguments(context: RunContextWrapper[Any]) -> str | None:
    """The call's arguments, compact, for the task's detail line."""
    raw = getattr(context, "tool_arguments", None)
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        text = str(raw)
    else:
        if not parsed:
            return None
        text = ", ".join(f"{key}: {value}" for key, value in parsed.items()) if isinstance(parsed, dict) else raw
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _label(name: str) -> str:
    return name.replace("_", " ")
