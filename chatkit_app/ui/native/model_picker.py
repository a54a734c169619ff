"""The composer's model picker: the workflow's `composer.models` (as in ChatKit's own
picker), shown only when it lists some. The chosen id rides with each message as its
`inference_options.model`; a model's description is its option's tooltip."""

from __future__ import annotations

from typing import Any, cast

import reflex as rx
from reflex.vars.sequence import ArrayVar

from chatkit_app.ui.native.state import NativeChatState


def _option(model: Any) -> rx.Component:
    return rx.select.item(model.label, value=model.id, custom_attrs={"title": model.description})


def model_picker(*, portal_class: Any = "", portal_style: Any = None) -> rx.Component:
    """A small select; its list is drawn in a portal, so it is given the chat's theme
    class and style (`portal_class`, `portal_style`) to look like the rest."""
    return rx.cond(
        cast(ArrayVar[list[Any]], NativeChatState.models).length() > 0,
        rx.box(
            rx.select.root(
                rx.select.trigger(
                    variant="ghost",
                    color_scheme="gray",
                    aria_label="Model",
                    max_width="220px",
                    data_testid="model-picker",
                ),
                rx.select.content(
                    rx.foreach(NativeChatState.models, _option),
                    position="popper",
                    class_name=portal_class,
                    style=portal_style if portal_style is not None else {},
                ),
                value=NativeChatState.model,
                on_change=NativeChatState.choose_model,
                size="1",
            ),
            padding="0 4px 6px",
        ),
    )
