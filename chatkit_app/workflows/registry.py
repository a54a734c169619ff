"""The workflow registry: which chats exist, how they run, what the browser may see.

Python first: app authors call `registry.register(Workflow(...))`, in their own code or in
a module named by `CHATKIT_WORKFLOW_MODULES` (`modules`); the public config file
contributes names and UI options for ids it lists. A workflow runs one of:

- `agent`: an OpenAI Agents SDK `Agent` (tools, handoffs, guardrails, MCP servers), the
  same for every user;
- `agent_factory(context) -> Agent` (or an awaitable of one): an agent per request, e.g.
  per user (`context.user_id`);
- `chat_agent() -> ChatAgent`: our small `respond()` protocol (`agent.ChatAgent`), for
  answers that need no model.

`models` lists the models a user may pick in the composer (the first, or the one marked
`default`, unless the user picks another); no list, no choice.

Hosted (Agent Builder) workflows ran at OpenAI under their own `wf_...` id; Agent Builder
was retired on 2026-11-30. They still come from `CHATKIT_WORKFLOW_ID=wf_...` (then also the
default) or from config entries with `"mode": "hosted"`.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from chatkit_app.core.attachment_limits import attachment_limits
from chatkit_app.core.byte_budget import ByteBudget
from chatkit_app.core.context import RequestContext
from chatkit_app.errors import NotFound
from chatkit_app.settings import Settings, get_settings
from chatkit_app.workflows.config import PublicConfig, WorkflowConfigError, load_public_config

WorkflowMode = Literal["agent", "hosted"]
WORKFLOW_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
HOSTED_PREFIX = "wf_"

if TYPE_CHECKING:
    from agents import Agent

    from chatkit_app.workflows.agent import ChatAgent
    from chatkit_app.workflows.mcp_connections import McpConnections
    from chatkit_app.workflows.widget_actions import ActionHandler


@dataclass(frozen=True)
class ModelChoice:
    """A model the user may pick for a workflow (ChatKit's composer model option)."""

    id: str
    label: str = ""
    description: str | None = None
    default: bool = False
    disabled: bool = False  # shown, greyed out, never run

    def public(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"id": self.id, "label": self.label or self.id}
        if self.description:
            shown["description"] = self.description
        if self.default:
            shown["default"] = True
        if self.disabled:
            shown["disabled"] = True
        return shown


@dataclass(frozen=True)
class Workflow:
    id: str
    name: str
    mode: WorkflowMode = "agent"
    ui: dict[str, Any] = field(default_factory=dict)
    agent: Agent[Any] | None = None
    agent_factory: Callable[[RequestContext], Agent[Any] | Awaitable[Agent[Any]]] | None = None
    chat_agent: Callable[[], ChatAgent] | None = None
    models: Sequence[ModelChoice | str] = ()
    # MCP servers for the agent: names from CHATKIT_MCP_SERVERS, `McpServerConfig`s, or your
    # own `agents.mcp.MCPServer` objects; connected once per process and shared (`McpConnections`).
    mcp_servers: Sequence[Any] = ()
    # Widget actions of an agent workflow (`widget_actions.py`): a handler per action type;
    # any other type goes to the agent as hidden context, unless `actions_to_agent` is off.
    actions: Mapping[str, ActionHandler] = field(default_factory=dict)
    actions_to_agent: bool = True

    def __post_init__(self) -> None:
        if not WORKFLOW_ID_PATTERN.match(self.id):
            raise ValueError(f"invalid workflow id {self.id!r}")
        if sum(x is not None for x in (self.agent, self.agent_factory, self.chat_agent)) > 1:
            raise ValueError(f"workflow {self.id!r}: give one of agent, agent_factory and chat_agent")
        choices = tuple(ModelChoice(id=m) if isinstance(m, str) else m for m in self.models)
        object.__setattr__(self, "models", choices)
        if len({choice.id for choice in choices}) != len(choices):
            raise ValueError(f"workflow {self.id!r}: a model is listed twice")

    @property
    def model_ids(self) -> frozenset[str]:
        """The models a user may pick (a disabled one is only shown)."""
        return frozenset(choice.id for choice in self.model_choices() if not choice.disabled)

    def model_choices(self) -> tuple[ModelChoice, ...]:
        return tuple(m for m in self.models if isinstance(m, ModelChoice))

    def public(self) -> dict[str, Any]:
        """What any client may read: never instructions, models or keys."""
        return {"id": self.id, "name": self.name, "mode": self.mode, "ui": self.ui}


class WorkflowRegistry:
    def __init__(
        self, default_id: str = "assistant", *, settings: Settings | None = None, mcp: McpConnections | None = None
    ) -> None:
        from chatkit_app.workflows.mcp_connections import McpConnections

        self._workflows: dict[str, Workflow] = {}
        self._lock = threading.Lock()
        self.default_id = default_id
        self.settings = settings  # for the runner of Agents SDK workflows
        self.mcp = mcp if mcp is not None else McpConnections()  # their MCP connections
        # The file bytes all their answers hold for model calls at once (core/byte_budget.py).
        in_flight_mb = (settings or get_settings()).chatkit_model_files_in_flight_mb
        self.file_bytes = ByteBudget(round(in_flight_mb * 1024 * 1024))

    def chat_agent(self, workflow_id: str) -> ChatAgent:
        """What answers a turn of the workflow; made per call (it may keep per-answer state)."""
        workflow = self.get(workflow_id)
        if workflow.chat_agent is not None:
            return workflow.chat_agent()
        if workflow.agent is None and workflow.agent_factory is None:
            raise RuntimeError(f"workflow {workflow.id!r} has no agent")
        from chatkit_app.workflows.agent_runner import AgentRunner

        return AgentRunner(self.settings or get_settings(), workflow, mcp=self.mcp, file_bytes=self.file_bytes)

    def register(self, workflow: Workflow) -> Workflow:
        with self._lock:
            self._workflows[workflow.id] = workflow
        return workflow

    def find(self, workflow_id: str) -> Workflow | None:
        return self._workflows.get(workflow_id)

    def get(self, workflow_id: str) -> Workflow:
        workflow = self._workflows.get(workflow_id)
        if workflow is None:
            raise NotFound("No workflow with that id.", code="workflow_not_found")
        return workflow

    def __contains__(self, workflow_id: object) -> bool:
        return workflow_id in self._workflows

    def ids(self) -> list[str]:
        return sorted(self._workflows)

    def hosted_ids(self) -> list[str]:
        return sorted(wid for wid, workflow in self._workflows.items() if workflow.mode == "hosted")


def build_registry(
    settings: Settings, config: PublicConfig | None = None, *, mcp: McpConnections | None = None
) -> WorkflowRegistry:
    """The built-in `assistant` (offline demo agent, or a model agent when a key or base
    URL is configured), the hosted workflows, those registered in Python and those named by
    `CHATKIT_WORKFLOW_MODULES`; each agent workflow bound to its runner."""
    from chatkit_app.workflows.modules import load_workflow_modules
    from chatkit_app.workflows.openai_agent import assistant_workflow, runs_a_model

    config = config or load_public_config()
    registry = WorkflowRegistry(settings.chatkit_workflow_id or config.default_workflow, settings=settings, mcp=mcp)
    entry = config.workflows.get("assistant")
    ui = entry.ui if entry else {}
    if entry and runs_a_model(settings):
        ui = {**ui, **entry.model_ui}
    registry.register(bind(assistant_workflow(settings, name=entry.name if entry else "Assistant", ui=ui), settings))
    for workflow in _hosted_workflows(settings, config):
        registry.register(workflow)
    named = load_workflow_modules(settings)  # first: the modules it imports register theirs
    for workflow in [*_registered, *named]:
        ui = config.workflows[workflow.id].ui if workflow.id in config.workflows and not workflow.ui else workflow.ui
        registry.register(bind(dataclasses.replace(workflow, ui=ui), settings))
    return registry


def bind(workflow: Workflow, settings: Settings | None = None) -> Workflow:
    """`workflow` with the models it offers in its public UI options (`composer.models`),
    or taken from there when only the config file lists them; and (an agent's) with the
    attachments our server takes (`composer.attachments`, per type, for ChatKit's UI)."""
    ui = workflow.ui
    composer = dict(ui.get("composer") or {})
    if workflow.mode == "agent":
        settings = settings or get_settings()
        limits = attachment_limits(ui, settings.chatkit_max_upload_bytes, settings.upload_size_limits)
        composer["attachments"] = limits.chatkit_option()
        ui = {**ui, "composer": composer}
    models = workflow.model_choices()
    if models and "models" not in composer:
        ui = {**ui, "composer": {**composer, "models": [choice.public() for choice in models]}}
    elif not models and composer.get("models"):
        models = tuple(
            ModelChoice(
                m["id"], m.get("label", ""), m.get("description"), bool(m.get("default")), bool(m.get("disabled"))
            )
            for m in composer["models"]
        )
    return dataclasses.replace(workflow, ui=ui, models=models)


def _hosted_workflows(settings: Settings, config: PublicConfig) -> list[Workflow]:
    ids = [wid for wid, entry in config.workflows.items() if entry.mode == "hosted"]
    for wid in ids:
        if not wid.startswith(HOSTED_PREFIX):
            raise WorkflowConfigError(
                f"chatkit-config.json: field 'workflows.{wid}.mode': a hosted workflow is keyed by its "
                f"Agent Builder id ({HOSTED_PREFIX}...)"
            )
    if settings.chatkit_workflow_id.startswith(HOSTED_PREFIX) and settings.chatkit_workflow_id not in ids:
        ids.append(settings.chatkit_workflow_id)
    hosted = []
    for wid in ids:
        entry = config.workflows.get(wid)
        name = entry.name if entry else "Hosted workflow"
        hosted.append(Workflow(id=wid, name=name, mode="hosted", ui=entry.ui if entry else {}))
    return hosted


_registered: list[Workflow] = []


def register(workflow: Workflow) -> Workflow:
    """App authors add their own workflows here, in Python, before the app starts:

    register(Workflow(id="support", name="Support", agent_factory=MyAgent))
    """
    _registered.append(workflow)
    return workflow
