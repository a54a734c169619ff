"""The composer's "/" menu: the workflow's `commands` (public UI options, checked by
`ui_options.Commands`) in a small React component (`command_menu.jsx`) that lives inside
the composer's form. It needs no Reflex state: the commands come from the session's
workflow options, and the tags it adds travel with the form as the `tags` field, which
`command_tags.message_tags` turns into ChatKit's `input_tag` content of the message."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.ui.native.command_tags import TAGS_FIELD
from chatkit_app.ui.native.look import ui_option

MENU_STYLE = {
    "position": "relative",
    "width": "100%",
    "& .native-command-list": {
        "position": "absolute",
        "bottom": "calc(100% + 6px)",
        "left": "0",
        "right": "0",
        "max_height": "min(320px, 50vh)",
        "overflow_y": "auto",
        "margin": "0",
        "padding": "4px",
        "list_style": "none",
        "background": "var(--color-panel-solid)",
        "border": "1px solid var(--gray-a6)",
        "border_radius": "max(var(--radius-3), 10px)",
        "box_shadow": "var(--shadow-4)",
        "z_index": "20",
    },
    "& .native-command-option": {
        "display": "flex",
        "flex_wrap": "wrap",
        "align_items": "baseline",
        "gap": "2px 10px",
        "padding": "8px 10px",
        "min_height": "40px",
        "border_radius": "var(--radius-2)",
        "cursor": "pointer",
        "color": "var(--gray-12)",
        "font_size": "var(--font-size-2)",
    },
    "& .native-command-option[aria-selected=true]": {"background": "var(--accent-a4)"},
    "& .native-command-label": {"font_weight": "500"},
    "& .native-command-description": {"color": "var(--gray-11)", "font_size": "var(--font-size-1)"},
    "& .native-command-more": {"margin_left": "auto", "color": "var(--gray-10)"},
    "& .native-command-crumb": {"padding": "4px 10px", "color": "var(--gray-10)", "font_size": "var(--font-size-1)"},
    "& .native-command-tags": {"display": "flex", "flex_wrap": "wrap", "gap": "6px", "padding_bottom": "6px"},
    "& .native-command-tag": {
        "display": "inline-flex",
        "align_items": "center",
        "gap": "4px",
        "padding": "2px 4px 2px 10px",
        "border_radius": "999px",
        "background": "var(--accent-a3)",
        "color": "var(--accent-11)",
        "font_size": "var(--font-size-2)",
    },
    "& .native-command-tag button": {
        "border": "none",
        "background": "transparent",
        "color": "inherit",
        "cursor": "pointer",
        "font_size": "16px",
        "line_height": "1",
        "min_width": "24px",
        "min_height": "24px",
    },
}


class CommandMenu(rx.NoSSRComponent):
    library = rx.asset("command_menu.jsx", shared=True).importable_path
    tag = "CommandMenu"

    commands: rx.Var[list[dict[str, Any]]]
    input_name: rx.Var[str]
    tags_name: rx.Var[str]


def command_menu(input_name: str = "message") -> rx.Component:
    """The "/" menu for the composer form whose message box is named `input_name`; it
    shows nothing until a "/" starts the message (or a tag was picked)."""
    commands = rx.cond(ui_option("commands", "enabled").to(bool), ui_option("commands", "items"), [])
    return rx.box(
        CommandMenu.create(commands=commands, input_name=input_name, tags_name=TAGS_FIELD),
        style=MENU_STYLE,
    )
