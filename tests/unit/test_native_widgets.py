"""ChatKit widget trees flattened for the native UI (chatkit_app/ui/native/widgets.py)."""

from __future__ import annotations

import json

from chatkit_app.ui.native.widgets import widget_blocks
from chatkit_app.workflows.offline import COUNTER


def test_the_demo_counter_keeps_its_layout_and_actions() -> None:
    widget = COUNTER.build({"count": 2}).model_dump(mode="json", exclude_none=True)
    blocks = widget_blocks(widget)
    assert [b["direction"] for b in blocks] == ["column", "column", "row"]
    assert blocks[0]["items"][0] == {**blocks[0]["items"][0], "kind": "title", "value": "Counter"}
    assert blocks[1]["items"][0]["value"].startswith("Clicked 2 times.")
    add, reset = blocks[2]["items"]
    assert (add["kind"], add["label"], add["variant"]) == ("button", "Add one", "solid")
    assert json.loads(add["action"]) == {"type": "counter.increment", "payload": {"count": 2}}
    assert (reset["label"], reset["variant"], json.loads(reset["action"])["type"]) == (
        "Reset",
        "outline",
        "counter.reset",
    )


def test_every_named_component_and_an_unknown_one() -> None:
    widget = {
        "type": "Card",
        "children": [
            {"type": "Markdown", "value": "**bold**"},
            {"type": "Badge", "label": "new"},
            {"type": "Image", "src": "https://example.test/cat.png", "alt": "a cat"},
            {"type": "Divider"},
            {"type": "Spacer"},
            {"type": "Col", "children": [{"type": "Text", "value": "in a column"}]},
            {
                "type": "Row",
                "children": [
                    {"type": "Col", "children": [{"type": "Text", "value": "a"}]},
                    {"type": "Badge", "label": "b"},
                ],
            },
            {"type": "Chart", "title": "Sales"},
            {"type": "Sparkle"},
            {"type": "Card", "children": [{"type": "Title", "value": "Nested"}]},
            {
                "type": "ListView",
                "children": [
                    {"type": "ListViewItem", "children": [{"type": "Text", "value": "Plain"}]},
                    {
                        "type": "ListViewItem",
                        "onClickAction": {"type": "open", "payload": {"id": 7}},
                        "children": [{"type": "Text", "value": "Clickable"}, {"type": "Caption", "value": "more"}],
                    },
                ],
            },
            {"type": "Button", "label": "No action"},
        ],
    }
    items = [
        (b["direction"], [(e["kind"], e["value"] or e["label"]) for e in b["items"]]) for b in widget_blocks(widget)
    ]
    assert items == [
        ("column", [("markdown", "**bold**")]),
        ("column", [("badge", "new")]),
        ("column", [("image", "a cat")]),
        ("column", [("divider", "")]),
        ("column", [("text", "in a column")]),
        ("row", [("text", "a"), ("badge", "b")]),
        ("column", [("unknown", "Chart: Sales")]),
        ("column", [("unknown", "Sparkle (not shown here)")]),
        ("column", [("title", "Nested")]),
        ("column", [("divider", "")]),
        ("column", [("text", "Plain")]),
        ("column", [("button", "Clickable — more")]),
        ("column", [("button", "No action")]),
    ]
    clickable = widget_blocks(widget)[11]["items"][0]
    assert json.loads(clickable["action"]) == {"type": "open", "payload": {"id": 7}}
    assert widget_blocks(widget)[12]["items"][0]["action"] == ""  # shown, but nothing to send


def test_huge_widgets_are_bounded() -> None:
    widget = {"type": "Card", "children": [{"type": "Text", "value": str(n)} for n in range(1000)]}
    assert len(widget_blocks(widget)) == 200


def _cell(*children: dict[str, object], **extra: object) -> dict[str, object]:
    return {"type": "Table.Cell", "children": list(children), **extra}


def test_a_table_keeps_its_header_rows_cells_alignment_and_spans() -> None:
    """ChatKit 1.7+'s Table (Table.Row, header, Table.Cell) as a block of rows; an agent
    sends it as a plain dict (chatkit-python has no class for it)."""
    widget = {
        "type": "Card",
        "children": [
            {"type": "Title", "value": "Orders"},
            {
                "type": "Table",
                "children": [
                    {
                        "type": "Table.Row",
                        "header": True,
                        "children": [
                            _cell({"type": "Text", "value": "Order"}),
                            _cell({"type": "Text", "value": "Total"}),
                        ],
                    },
                    {
                        "type": "Table.Row",
                        "children": [
                            _cell({"type": "Text", "value": "A-1"}, {"type": "Badge", "label": "shipped"}),
                            _cell({"type": "Text", "value": "12 €"}, align="end"),
                        ],
                    },
                    {"type": "Table.Row", "children": [_cell({"type": "Caption", "value": "Sum"}, colSpan=2)]},
                    {"type": "Table.Row", "children": []},  # nothing to show: dropped
                ],
            },
            {"type": "Row", "children": [{"type": "Button", "label": "Export", "onClickAction": {"type": "export"}}]},
        ],
    }
    title, table, buttons = widget_blocks(widget)
    assert title["items"][0]["value"] == "Orders"
    assert (table["direction"], table["items"]) == ("table", [])
    assert table["rows"] == [
        {
            "header": True,
            "cells": [{"text": "Order", "align": "start", "span": 1}, {"text": "Total", "align": "start", "span": 1}],
        },
        {
            "header": False,
            "cells": [
                {"text": "A-1 shipped", "align": "start", "span": 1},
                {"text": "12 €", "align": "end", "span": 1},
            ],
        },
        {"header": False, "cells": [{"text": "Sum", "align": "start", "span": 2}]},
    ]
    assert buttons["direction"] == "row" and json.loads(buttons["items"][0]["action"])["type"] == "export"
    assert title["rows"] == [] and buttons["rows"] == []  # every block has the same keys (Reflex loops over them)


def test_a_table_is_bounded_and_odd_values_are_tamed() -> None:
    row = {"type": "Table.Row", "children": [_cell({"type": "Text", "value": str(n)}) for n in range(100)]}
    huge = {"type": "Table", "children": [row] * 1000}
    (block,) = widget_blocks({"type": "Card", "children": [huge]})
    assert len(block["rows"]) == 200 and len(block["rows"][0]["cells"]) == 30
    odd = {
        "type": "Table",
        "children": [{"type": "Table.Row", "children": [_cell(align="left", colSpan=10_000), "not a cell"]}],
    }
    (block,) = widget_blocks({"type": "Basic", "children": [odd]})
    assert block["rows"] == [{"header": False, "cells": [{"text": "", "align": "start", "span": 30}]}]


def test_a_table_item_survives_chatkit_pythons_types_and_the_store_round_trip() -> None:
    """chatkit-python keeps an unknown component (Table) as a dynamic one, with its fields."""
    from datetime import datetime

    from chatkit.types import WidgetItem

    table = {
        "type": "Table",
        "children": [
            {"type": "Table.Row", "header": True, "children": [_cell({"type": "Text", "value": "Status"})]},
            {"type": "Table.Row", "children": [_cell({"type": "Badge", "label": "shipped"}, align="end")]},
        ],
    }
    widget = {"type": "Card", "children": [table]}
    item = WidgetItem.model_validate({"id": "w", "thread_id": "t", "created_at": datetime.now(), "widget": widget})
    again = WidgetItem.model_validate_json(item.model_dump_json())
    (block,) = widget_blocks(again.model_dump(mode="json", exclude_none=True)["widget"])
    assert block["rows"] == [
        {"header": True, "cells": [{"text": "Status", "align": "start", "span": 1}]},
        {"header": False, "cells": [{"text": "shipped", "align": "end", "span": 1}]},
    ]
