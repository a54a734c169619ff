"""Reads `assets/chatkit-config.json`: public UI options per workflow, nothing secret.

The file is served to browsers as-is, so it is validated to hold only display data; an
error names the offending field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatkit_app.settings import REPO_ROOT
from chatkit_app.workflows.ui_options import ChatKitUI

CONFIG_PATH = REPO_ROOT / "assets" / "chatkit-config.json"
_FORBIDDEN_KEYS = {"instructions", "model", "apikey", "api_key", "secret", "clientsecret", "token"}


class WorkflowConfigError(ValueError):
    """The public config file is unusable; the message names the field."""


class WorkflowEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(min_length=1, max_length=120)
    mode: str = Field(default="agent", pattern="^(agent|hosted)$")
    ui: dict[str, Any] = Field(default_factory=dict)
    # For the built-in `assistant`: options that replace those of `ui` (key by key) when it
    # runs a language model, so its texts need not say "offline demo agent" then.
    model_ui: dict[str, Any] = Field(default_factory=dict, alias="modelUi")


class PublicConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    default_workflow: str = Field(default="assistant", alias="defaultWorkflow")
    workflows: dict[str, WorkflowEntry] = Field(default_factory=dict)


def load_public_config(path: Path = CONFIG_PATH) -> PublicConfig:
    if not path.exists():
        return PublicConfig()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WorkflowConfigError(f"{path.name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    try:
        config = PublicConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise WorkflowConfigError(f"{path.name}: field '{field}': {first['msg']}") from None
    for workflow_id, entry in config.workflows.items():
        for name, options in (("ui", entry.ui), ("modelUi", entry.model_ui)):
            bad = _find_forbidden(options, f"workflows.{workflow_id}.{name}")
            if bad:
                raise WorkflowConfigError(
                    f"{path.name}: field '{bad}' must not be in the public config (keep it on the server)"
                )
        entry.ui = checked_ui(entry.ui, f"{path.name}: field 'workflows.{workflow_id}.ui")
        entry.model_ui = checked_ui(entry.model_ui, f"{path.name}: field 'workflows.{workflow_id}.modelUi")
    return config


def checked_ui(ui: dict[str, Any], where: str) -> dict[str, Any]:
    """`ui` validated against ChatKit's options and normalised to camelCase; an error
    names the first bad field (`where` + its path)."""
    try:
        return ChatKitUI.model_validate(ui).to_js()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "".join(_path_part(part) for part in first["loc"])
        raise WorkflowConfigError(f"{where}{field}': {first['msg']}") from None


def _find_forbidden(value: Any, where: str) -> str | None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if str(key).lower().replace("-", "_") in _FORBIDDEN_KEYS or str(key).lower() in _FORBIDDEN_KEYS:
                return f"{where}.{key}"
            found = _find_forbidden(inner, f"{where}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found = _find_forbidden(inner, f"{where}[{index}]")
            if found:
                return found
    return None


def _path_part(part: int | str) -> str:
    if isinstance(part, int):
        return f"[{part}]"
    # pydantic names union branches in the location (`Theme`, `literal[...]`): not input keys.
    return "" if part[:1].isupper() or "[" in part else f".{part}"
