"""The models a workflow offers in the composer (`composer.models` of its UI options,
ChatKit's model picker): which are offered, which is chosen first, and which id a message
may carry. The server still decides whether a model is allowed; this only keeps the
native UI from sending an id the workflow did not offer."""

from __future__ import annotations

from typing import Any

from chatkit_app.ui.native.message_model import ModelOption


def offered_models(ui: dict[str, Any]) -> list[ModelOption]:
    """The enabled models of the workflow's UI options, as the picker lists them."""
    composer = ui.get("composer")
    models = composer.get("models") if isinstance(composer, dict) else None
    offered = []
    for model in models if isinstance(models, list) else []:
        if not isinstance(model, dict) or not model.get("id") or model.get("disabled"):
            continue
        offered.append(
            ModelOption(
                id=str(model["id"]),
                label=str(model.get("label") or model["id"]),
                description=str(model.get("description") or ""),
                default=bool(model.get("default")),
            )
        )
    return offered


def default_model(models: list[ModelOption]) -> str:
    """The model marked default, else the first; "" when none is offered."""
    marked = [m.id for m in models if m.default]
    return marked[0] if marked else models[0].id if models else ""


def allowed_model(models: list[ModelOption], chosen: str) -> str:
    """`chosen` when the workflow offers it, else its default ("" when it offers none)."""
    return chosen if any(m.id == chosen for m in models) else default_model(models)
