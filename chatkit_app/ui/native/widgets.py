"""ChatKit widgets for the native UI: a widget tree becomes a short list of blocks (a row
or a column of plain elements, or a table), which Reflex renders with fixed loops — a
recursive tree cannot be compiled into a static page. Layout survives where it matters (a
Row of buttons stays a row, nested cards become sections, a Table keeps its rows and
cells); anything unknown becomes a readable line instead of disappearing."""

from __future__ import annotations

import json
from typing import Any, Literal, TypedDict

CONTAINERS = {"Card", "Col", "Box", "ListView", "ListViewItem", "Form", "Basic", "Transition"}
ROWS = {"Row"}
TABLE = "Table"  # ChatKit 1.7+: Table > Table.Row (header?) > Table.Cell > components
MAX_BLOCKS = 200
MAX_TABLE_ROWS = 200
MAX_TABLE_COLUMNS = 30
CELL_ALIGN = ("start", "center", "end")
Direction = Literal["row", "column", "table"]


class WidgetElement(TypedDict):
    kind: str  # text, title, markdown, button, badge, image, divider, unknown
    value: str
    label: str
    action: str  # a button's action as JSON ("" when none)
    src: str
    variant: str


class TableCell(TypedDict):
    text: str
    align: str  # start, center, end
    span: int  # columns it spans


class TableRow(TypedDict):
    header: bool
    cells: list[TableCell]


class WidgetBlock(TypedDict):
    direction: Direction
    items: list[WidgetElement]  # a row's or column's elements
    rows: list[TableRow]  # a table's rows


def widget_blocks(widget: dict[str, Any]) -> list[WidgetBlock]:
    """The widget's blocks in reading order."""
    blocks: list[WidgetBlock] = []
    _walk(widget, blocks, depth=0)
    return blocks[:MAX_BLOCKS]


def _block(direction: Direction, items: list[WidgetElement], rows: list[TableRow] | None = None) -> WidgetBlock:
    return {"direction": direction, "items": items, "rows": rows or []}


def _walk(node: dict[str, Any], blocks: list[WidgetBlock], depth: int) -> None:
    kind = str(node.get("type", ""))
    if depth > 0 and _is_row(node):
        items = [element for child in _children(node) for element in _inline(child)]
        if items:
            blocks.append(_block("row", items))
        return
    if kind == TABLE:
        blocks.append(table_block(node))
        return
    if kind in CONTAINERS or (depth == 0 and "children" in node):
        if kind == "ListViewItem" and node.get("onClickAction"):
            blocks.append(_block("column", [_list_item_button(node)]))
            return
        for child in _children(node):
            _walk(child, blocks, depth + 1)
        if kind == "Card" and depth > 0:
            blocks.append(_block("column", [_element("divider")]))
        return
    element = _leaf(node)
    if element is not None:
        blocks.append(_block("column", [element]))


def table_block(node: dict[str, Any]) -> WidgetBlock:
    """A Table's rows of cells; a cell's components as one line of text (a Badge's label,
    a Button's label, ...), its alignment and column span kept."""
    rows: list[TableRow] = []
    for row in _children(node)[:MAX_TABLE_ROWS]:
        cells = [_table_cell(cell) for cell in _children(row)[:MAX_TABLE_COLUMNS]]
        if cells:
            rows.append({"header": bool(row.get("header")), "cells": cells})
    return _block("table", [], rows)


def _table_cell(cell: dict[str, Any]) -> TableCell:
    elements = [element for child in _children(cell) for element in _inline(child)]
    text = " ".join(part for element in elements if (part := element["value"] or element["label"]))
    align = str(cell.get("align", "start"))
    span = cell.get("colSpan")
    return {
        "text": text,
        "align": align if align in CELL_ALIGN else "start",
        "span": min(span, MAX_TABLE_COLUMNS) if isinstance(span, int) and span > 1 else 1,
    }


def _is_row(node: dict[str, Any]) -> bool:
    return node.get("type") in ROWS or (node.get("type") == "Box" and node.get("direction") == "row")


def _children(node: dict[str, Any]) -> list[dict[str, Any]]:
    children = node.get("children")
    return [child for child in children if isinstance(child, dict)] if isinstance(children, list) else []


def _inline(node: dict[str, Any]) -> list[WidgetElement]:
    """A row's child as inline elements (a container in a row gives its leaves)."""
    if node.get("type") in CONTAINERS or _is_row(node):
        return [element for child in _children(node) for element in _inline(child)]
    element = _leaf(node)
    return [element] if element is not None else []


def _element(
    kind: str, value: str = "", *, label: str = "", action: str = "", src: str = "", variant: str = ""
) -> WidgetElement:
    return {"kind": kind, "value": value, "label": label, "action": action, "src": src, "variant": variant}


def _leaf(node: dict[str, Any]) -> WidgetElement | None:
    kind = str(node.get("type", ""))
    if kind in ("Text", "Caption", "Label"):
        return _element("text", str(node.get("value", "")))
    if kind == "Title":
        return _element("title", str(node.get("value", "")))
    if kind == "Markdown":
        return _element("markdown", str(node.get("value", "")))
    if kind == "Button":
        action = node.get("onClickAction")
        variant = "solid" if node.get("style") == "primary" else "outline"
        return _element("button", label=str(node.get("label") or "Button"), action=_action(action), variant=variant)
    if kind == "Badge":
        return _element("badge", str(node.get("label", "")))
    if kind == "Image":
        return _element("image", str(node.get("alt") or ""), src=str(node.get("src", "")))
    if kind == "Divider":
        return _element("divider")
    if kind in ("Spacer", "Icon"):
        return None
    text = next((str(node[key]) for key in ("value", "label", "text", "title") if node.get(key)), "")
    return _element("unknown", f"{kind or 'Widget'}: {text}" if text else f"{kind or 'Widget'} (not shown here)")


def _list_item_button(node: dict[str, Any]) -> WidgetElement:
    texts = [element["value"] for child in _children(node) for element in _inline(child) if element["value"]]
    return _element("button", label=" — ".join(texts) or "Open", action=_action(node.get("onClickAction")))


def _action(action: object) -> str:
    """The action as JSON (sent back verbatim when clicked); "" when there is none."""
    if not isinstance(action, dict) or not action.get("type"):
        return ""
    return json.dumps({"type": action["type"], "payload": action.get("payload") or {}})
