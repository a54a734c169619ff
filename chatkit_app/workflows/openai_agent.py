"""The built-in `assistant` workflow: a plain Agents SDK agent when a model is configured.

With `OPENAI_API_KEY` or `OPENAI_BASE_URL` set, it is `Agent(instructions=
CHATKIT_INSTRUCTIONS, model=CHATKIT_MODEL)` plus the MCP servers of `CHATKIT_MCP_SERVERS`,
run like any other agent workflow (`agent_runner`); with neither, the offline demo agent.
"""

from __future__ import annotations

from typing import Any

from agents import Agent

from chatkit_app.settings import Settings
from chatkit_app.workflows.offline import OfflineAgent
from chatkit_app.workflows.registry import Workflow


def assistant_agent(settings: Settings) -> Agent[Any]:
    return Agent(name="assistant", instructions=settings.chatkit_instructions, model=settings.chatkit_model)


def assistant_workflow(settings: Settings, *, name: str = "Assistant", ui: dict[str, Any] | None = None) -> Workflow:
    """Workflow `assistant`: the model agent when a key or a base URL is configured, else
    the offline demo agent."""
    if runs_a_model(settings):
        servers = [server.name for server in settings.chatkit_mcp_servers]
        return Workflow(id="assistant", name=name, ui=ui or {}, agent=assistant_agent(settings), mcp_servers=servers)
    return Workflow(id="assistant", name=name, ui=ui or {}, chat_agent=OfflineAgent)


def runs_a_model(settings: Settings) -> bool:
    """Whether workflow `assistant` runs a language model (a key or a base URL is set)."""
    return settings.openai_api_key is not None or bool(settings.openai_base_url)


def describe_assistant(settings: Settings) -> str:
    """What workflow `assistant` runs, in words a visitor understands (no secrets)."""
    if runs_a_model(settings):
        where = "an OpenAI-compatible server" if settings.openai_base_url else "OpenAI"
        return f"AI assistant ({settings.chatkit_model} via {where})"
    return "Offline demo agent: canned answers, no language model"
