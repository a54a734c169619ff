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
