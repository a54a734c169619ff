"""ChatKit widgets drawn with Reflex components (the blocks `widgets.py` flattens)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.ui.native.markdown import safe_markdown
from chatkit_app.ui.native.state import NativeChatState


def widget_element(element: Any, item_id: Any) -> rx.Component:
    """One widget element; an unknown component shows as a readable line."""
    return rx.match(
        element["kind"],
        ("text", rx.text(element["value"])),
        ("title", rx.heading(element["value"], size="3")),
        ("markdown", safe_markdown(element["value"])),
        (
            "button",
            rx.button(
                element["label"],
                on_click=NativeChatState.widget_action(item_id, element["action"]),  # type: ignore[misc]
                variant=rx.cond(element["variant"] == "solid", "solid", "outline"),
                disabled=NativeChatState.streaming | (element["action"] == ""),
                size="2",
            ),
        ),
        ("badge", rx.badge(element["value"], variant="soft")),
        ("image", rx.image(src=element["src"], alt=element["value"], max_width="100%", border_radius="8px")),
        ("divider", rx.separator(size="4")),
        rx.text(element["value"], color_scheme="gray", size="2", data_testid="widget-fallback"),
    )


def widget(msg: Any) -> rx.Component:
    """A ChatKit widget (Card, ListView, ...), flattened into rows and columns of elements;
    its buttons send their actions to the server."""
    blocks = msg["blocks"].to(list[dict[str, Any]])
    return rx.card(
        rx.vstack(
            rx.foreach(
                blocks,
                lambda block: rx.flex(
                    rx.foreach(
                        block["items"].to(list[dict[str, Any]]), lambda element: widget_element(element, msg["id"])
                    ),
                    direction=rx.cond(block["direction"] == "row", "row", "column"),
                    gap="8px",
                    wrap="wrap",
                    align=rx.cond(block["direction"] == "row", "center", "stretch"),
                ),
            ),
            spacing="3",
        ),
        align_self="flex-start",
        max_width="min(100%, 520px)",
        width="100%",
        data_testid="widget",
    )
