"""The workflow registry: which chats exist, how they run, what the browser may see.

Python first: app authors call `registry.register(Workflow(...))`; the public config
file contributes names and UI options for ids it lists. Hosted (Agent Builder) workflows
run at OpenAI under their own `wf_...` id: they come from `CHATKIT_WORKFLOW_ID=wf_...`
(then also the default) or from config entries with `"mode": "hosted"`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from chatkit_app.errors import NotFound
from chatkit_app.settings import Settings
from chatkit_app.workflows.config import PublicConfig, WorkflowConfigError, load_public_config

WorkflowMode = Literal["agent", "hosted"]
WORKFLOW_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
HOSTED_PREFIX = "wf_"


@dataclass(frozen=True)
class Workflow:
    id: str
    name: str
    mode: WorkflowMode = "agent"
    ui: dict[str, Any] = field(default_factory=dict)
    agent_factory: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        if not WORKFLOW_ID_PATTERN.match(self.id):
            raise ValueError(f"invalid workflow id {self.id!r}")

    def public(self) -> dict[str, Any]:
        """What any client may read: never instructions, models or keys."""
        return {"id": self.id, "name": self.name, "mode": self.mode, "ui": self.ui}


class WorkflowRegistry:
    def __init__(self, default_id: str = "assistant") -> None:
        self._workflows: dict[str, Workflow] = {}
        self._lock = threading.Lock()
        self.default_id = default_id

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


def build_registry(settings: Settings, config: PublicConfig | None = None) -> WorkflowRegistry:
    """The built-in `assistant` (offline demo agent, or an OpenAI agent when a key or
    base URL is configured), the hosted workflows, and those registered in Python."""
    from chatkit_app.workflows.openai_agent import make_assistant_agent, runs_a_model

    config = config or load_public_config()
    registry = WorkflowRegistry(settings.chatkit_workflow_id or config.default_workflow)
    entry = config.workflows.get("assistant")
    ui = entry.ui if entry else {}
    if entry and runs_a_model(settings):
        ui = {**ui, **entry.model_ui}
    registry.register(
        Workflow(
            id="assistant",
            name=entry.name if entry else "Assistant",
            ui=ui,
            agent_factory=functools.partial(make_assistant_agent, settings),
        )
    )
    for workflow in _hosted_workflows(settings, config):
        registry.register(workflow)
    for workflow in _registered:
        ui = config.workflows[workflow.id].ui if workflow.id in config.workflows and not workflow.ui else workflow.ui
        registry.register(dataclasses.replace(workflow, ui=ui))
    return registry


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
