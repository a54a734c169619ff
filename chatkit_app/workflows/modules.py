"""Workflows from modules named in `CHATKIT_WORKFLOW_MODULES`, imported at startup.

Each comma-separated entry is either

- `package.module`: imported; the module registers its workflows itself
  (`registry.register(Workflow(...))`), or
- `package.module:attribute` (optionally `id=package.module:attribute`): the attribute is
  an Agents SDK `Agent` (e.g. the agent of an exported Agent Builder workflow) or a
  `Workflow`; an agent becomes a workflow with id `id` (default: the attribute's name) and
  the agent's name as its title.

A module that cannot be imported, an attribute that is missing or of another kind, or a
workflow that is not valid stops the start with one line naming the entry.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys

from agents import Agent

from chatkit_app.settings import REPO_ROOT, Settings
from chatkit_app.workflows.config import WorkflowConfigError
from chatkit_app.workflows.registry import Workflow, _registered

_ENTRY = re.compile(r"^(?:(?P<id>[A-Za-z0-9_.\-]+)=)?(?P<module>[A-Za-z_][\w.]*)(?::(?P<attribute>[A-Za-z_]\w*))?$")


def load_workflow_modules(settings: Settings) -> list[Workflow]:
    """The workflows named by `module:attribute` entries; `module` entries register theirs
    on import (once per process). Raises `WorkflowConfigError` naming a bad entry."""
    return list(_load(settings.chatkit_workflow_modules))


@functools.cache
def _load(entries: str) -> tuple[Workflow, ...]:
    if str(REPO_ROOT) not in sys.path:  # `examples.…` and the app's own packages, as `reflex run` sees them
        sys.path.append(str(REPO_ROOT))
    workflows: list[Workflow] = []
    for raw in (entry.strip() for entry in entries.split(",")):
        if raw:
            workflows.extend(_entry_workflows(raw))
    return tuple(workflows)


def _entry_workflows(raw: str) -> list[Workflow]:
    match = _ENTRY.match(raw)
    if match is None:
        raise _bad(raw, "expected module, module:attribute or id=module:attribute")
    module_name, attribute, workflow_id = match["module"], match["attribute"], match["id"]
    if workflow_id and not attribute:
        raise _bad(raw, "an id needs a module:attribute")
    before = len(_registered)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the author's code: any error stops the start, named
        del _registered[before:]
        raise _bad(raw, f"could not import {module_name!r}: {type(exc).__name__}: {exc}") from None
    if attribute is None:
        if len(_registered) == before:
            raise _bad(raw, f"{module_name!r} registered no workflow (call registry.register, or name an agent)")
        return []
    if not hasattr(module, attribute):
        raise _bad(raw, f"{module_name!r} has no attribute {attribute!r}")
    value = getattr(module, attribute)
    if isinstance(value, Workflow):
        return [value]
    if isinstance(value, Agent):
        try:
            return [Workflow(id=workflow_id or attribute, name=value.name, agent=value)]
        except ValueError as exc:
            raise _bad(raw, str(exc)) from None
    raise _bad(raw, f"{attribute!r} is a {type(value).__name__}, not an agents.Agent or a Workflow")


def _bad(entry: str, why: str) -> WorkflowConfigError:
    return WorkflowConfigError(f"CHATKIT_WORKFLOW_MODULES entry {entry!r}: {why}")
