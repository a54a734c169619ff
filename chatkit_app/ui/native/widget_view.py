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


TABLE_STYLE = {
    "& table": {
        "border-collapse": "collapse",
        "width": "max-content",  # columns as wide as their content, up to a cell's max-width
        "min-width": "100%",
        "font-size": "var(--font-size-2)",
    },
    "& th, & td": {
        "padding": "6px 10px",
        "border-bottom": "1px solid var(--gray-a4)",
        "vertical-align": "top",
        "overflow-wrap": "normal",  # columns keep words whole; the table scrolls instead
    },
    "& tr:last-child td": {"border-bottom": "none"},
    "& th": {"font-weight": "600", "color": "var(--gray-11)", "white-space": "nowrap", "background": "var(--gray-a2)"},
    "&:focus-visible": {"outline": "2px solid var(--focus-8)", "outline-offset": "1px"},
}


def _table_cell(row: Any, cell: Any) -> rx.Component:
    align = rx.match(cell["align"], ("center", "center"), ("end", "right"), "left")
    return rx.cond(
        row["header"].to(bool),
        rx.el.th(cell["text"], col_span=cell["span"].to(int), scope="col", text_align=align),
        rx.el.td(rx.el.div(cell["text"], max_width="16em"), col_span=cell["span"].to(int), text_align=align),
    )


def widget_table(block: Any) -> rx.Component:
    """A ChatKit `Table`: its rows and cells; on a narrow screen it scrolls sideways
    inside the card (focusable, so keys scroll it too)."""
    return rx.box(
        rx.el.table(
            rx.el.tbody(
                rx.foreach(
                    block["rows"].to(list[dict[str, Any]]),
                    lambda row: rx.el.tr(
                        rx.foreach(row["cells"].to(list[dict[str, Any]]), lambda cell: _table_cell(row, cell))
                    ),
                )
            )
        ),
        style=TABLE_STYLE,
        overflow_x="auto",
        max_width="100%",
        border="1px solid var(--gray-a5)",
        border_radius="max(var(--radius-2), 6px)",
        tab_index=0,
        role="region",
        aria_label="Table",
        data_testid="widget-table",
    )


def _block(block: Any, item_id: Any) -> rx.Component:
    row = block["direction"] == "row"
    return rx.cond(
        block["direction"] == "table",
        widget_table(block),
        rx.flex(
            rx.foreach(block["items"].to(list[dict[str, Any]]), lambda element: widget_element(element, item_id)),
            direction=rx.cond(row, "row", "column"),
            gap="8px",
            wrap="wrap",
            align=rx.cond(row, "center", "stretch"),
            min_width="0",
        ),
    )


def widget(msg: Any) -> rx.Component:
    """A ChatKit widget (Card, ListView, ...), flattened into rows and columns of elements
    and tables; its buttons send their actions to the server. It keeps its natural height
    wherever it is in a thread (it never shrinks to fit the scroller)."""
    blocks = msg.blocks
    return rx.card(
        rx.vstack(rx.foreach(blocks, lambda block: _block(block, msg.id)), spacing="3", min_width="0"),
        align_self="flex-start",
        max_width="min(100%, 520px)",
        width="100%",
        min_width="0",
        flex_shrink="0",
        overflow_wrap="anywhere",
        data_testid="widget",
    )
