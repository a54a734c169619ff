"""Small shared pieces of the native chat's look: the workflow's public UI options, the
quiet icon buttons, the colour-scheme class for parts drawn in portals."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.ui.native.state import NativeChatState
from chatkit_app.ui.state import ChatSessionState

UI = ChatSessionState.workflow_ui


def ui_option(*path: str) -> Any:
    """A nested public UI option of the session's workflow (undefined when unset)."""
    var: Any = UI
    for key in path:
        var = var.to(dict[str, Any])[key]
    return var


def small_icon_button(icon: str, label: str, *, icon_size: int = 14, **props: Any) -> rx.Component:
    """The quiet icon buttons of the chat (rename, delete, retry, remove): the label is
    what a screen reader says."""
    return rx.icon_button(
        rx.icon(icon, size=icon_size), variant="ghost", color_scheme="gray", size="1", aria_label=label, **props
    )


def scheme_class() -> rx.Var[str]:
    """The workflow's colour scheme as Radix's theme class ("" follows the system)."""
    return rx.match(NativeChatState.color_scheme, ("dark", "dark-theme"), ("light", "light-theme"), "")
