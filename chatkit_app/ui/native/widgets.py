"""ChatKit widgets for the native UI: a widget tree becomes a short list of blocks (a row
or a column of plain elements), which Reflex renders with two fixed loops — a recursive
tree cannot be compiled into a static page. Layout survives where it matters (a Row of
buttons stays a row, nested cards become sections); anything unknown becomes a readable
line instead of disappearing."""

from __future__ import annotations

import json
from typing import Any

CONTAINERS = {"Card", "Col", "Box", "ListView", "ListViewItem", "Form", "Basic", "Transition"}
ROWS = {"Row"}
MAX_BLOCKS = 200


def widget_blocks(widget: dict[str, Any]) -> list[dict[str, Any]]:
    """Blocks `{"direction": "row" | "column", "items": [element, ...]}` in reading order."""
    blocks: list[dict[str, Any]] = []
    _walk(widget, blocks, depth=0)
    return blocks[:MAX_BLOCKS]


def _walk(node: dict[str, Any], blocks: list[dict[str, Any]], depth: int) -> None:
    kind = str(node.get("type", ""))
    if depth > 0 and _is_row(node):
        items = [element for child in _children(node) for element in _inline(child)]
        if items:
            blocks.append({"direction": "row", "items": items})
        return
    if kind in CONTAINERS or (depth == 0 and "children" in node):
        if kind == "ListViewItem" and node.get("onClickAction"):
            blocks.append({"direction": "column", "items": [_list_item_button(node)]})
            return
        for child in _children(node):
            _walk(child, blocks, depth + 1)
        if kind == "Card" and depth > 0:
            blocks.append({"direction": "column", "items": [_element("divider")]})
        return
    element = _leaf(node)
    if element is not None:
        blocks.append({"direction": "column", "items": [element]})


def _is_row(node: dict[str, Any]) -> bool:
    return node.get("type") in ROWS or (node.get("type") == "Box" and node.get("direction") == "row")


def _children(node: dict[str, Any]) -> list[dict[str, Any]]:
    children = node.get("children")
    return [child for child in children if isinstance(child, dict)] if isinstance(children, list) else []


def _inline(node: dict[str, Any]) -> list[dict[str, Any]]:
    """A row's child as inline elements (a container in a row gives its leaves)."""
    if node.get("type") in CONTAINERS or _is_row(node):
        return [element for child in _children(node) for element in _inline(child)]
    element = _leaf(node)
    return [element] if element is not None else []


def _element(kind: str, value: str = "", **extra: str) -> dict[str, Any]:
    return {"kind": kind, "value": value, "label": "", "action": "", "src": "", "variant": "", **extra}


def _leaf(node: dict[str, Any]) -> dict[str, Any] | None:
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


def _list_item_button(node: dict[str, Any]) -> dict[str, Any]:
    texts = [element["value"] for child in _children(node) for element in _inline(child) if element["value"]]
    return _element("button", label=" — ".join(texts) or "Open", action=_action(node.get("onClickAction")))


def _action(action: object) -> str:
    """The action as JSON (sent back verbatim when clicked); "" when there is none."""
    if not isinstance(action, dict) or not action.get("type"):
        return ""
    return json.dumps({"type": action["type"], "payload": action.get("payload") or {}})
