"""The pure parts of the ChatKit parity features: a structured question as a message and
its form as the submission ChatKit's UI sends, the "/" menu's tags, the `commands`
option's checks, and the entity handlers' answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from chatkit_app.core.context import RequestContext
from chatkit_app.core.entity_handlers import EntityRef, handlers, preview, register, search
from chatkit_app.ui.native.command_tags import MAX_TAGS, message_tags
from chatkit_app.ui.native.item_events import PENDING, apply_event
from chatkit_app.ui.native.message_model import ChatMessage
from chatkit_app.ui.native.protocol import input_message, item_text
from chatkit_app.ui.native.questions import questions_message, skip_all, submission
from chatkit_app.ui.native.window import message_of
from chatkit_app.workflows.ui_options import ChatKitUI

ITEM: dict[str, Any] = {
    "id": "msg_q",
    "type": "structured_input",
    "status": "pending",
    "inputs": [
        {"id": "one", "type": "multiple_choice", "question": "Pick one", "options": [{"value": "A"}, {"value": "B"}]},
        {
            "id": "many",
            "type": "multiple_choice",
            "question": "Pick some",
            "multiple": True,
            "options": [{"value": "X"}, {"value": "Y"}, {"value": "Z"}],
        },
        {"id": "free", "type": "freeform", "question": "Say", "description": "Briefly"},
    ],
}


def test_a_pending_question_is_one_message_of_form_fields() -> None:
    message = questions_message(ITEM)
    assert message.role == "questions" and message.status == "pending" and message.id == "msg_q"
    one, many, free = message.questions
    assert (one.kind, many.kind, free.kind) == ("single", "multiple", "freeform")
    assert [o.value for o in many.options] == ["X", "Y", "Z"]
    assert len({one.field, many.field, free.field, *(o.field for o in many.options)}) == 6
    assert free.description == "Briefly" and not one.answered
    assert message_of(ITEM) == message  # from history, the same


def test_the_form_becomes_chatkits_submission() -> None:
    message = questions_message(ITEM)
    one, many, free = message.questions
    form = {
        one.field: "B",
        many.options[0].field: "X",
        many.options[2].field: "Z",
        many.other_field: "  mine ",
        free.field: "   ",
    }
    assert submission(message, form) == {
        "status": "answered",
        "answers": {
            "one": {"values": ["B"]},
            "many": {"values": ["X", "Z", "mine"]},
            "free": {"values": [], "skipped": True},
        },
    }
    # A single choice's own typed answer is the answer; nothing at all is a skip.
    typed = submission(message, {one.field: "A", one.other_field: "C"})
    assert typed["answers"]["one"] == {"values": ["C"]} and typed["answers"]["many"]["skipped"] is True
    assert skip_all() == {"status": "skipped", "answers": {}}


def test_answered_questions_show_their_answers() -> None:
    answered = {
        **ITEM,
        "status": "answered",
        "inputs": [
            {**ITEM["inputs"][0], "answer": {"values": ["A"], "skipped": False}},
            {**ITEM["inputs"][1], "answer": {"values": ["X", "Y"], "skipped": False}},
            {**ITEM["inputs"][2], "answer": {"values": [], "skipped": True}},
        ],
    }
    rows = questions_message(answered).questions
    assert [(r.answer, r.skipped) for r in rows] == [("A", False), ("X, Y", False), ("", True)]


def test_the_stream_puts_the_question_in_place_and_replaces_it_when_answered() -> None:
    messages = [ChatMessage(id="u1", role="user", text="ask me"), ChatMessage(id=PENDING, role="assistant")]
    asked = apply_event(messages, {"type": "thread.item.done", "item": ITEM})
    assert asked is not None and [m.id for m in asked] == ["u1", "msg_q", PENDING]
    replaced = apply_event(asked, {"type": "thread.item.replaced", "item": {**ITEM, "status": "skipped"}})
    assert replaced is not None and replaced[1].status == "skipped" and len(replaced) == 3


def test_menu_tags_become_input_tags_and_junk_is_dropped() -> None:
    picked = [
        {"id": "t1", "title": "Support", "group": "Topics", "data": {"topic": "support"}, "interactive": True},
        {"id": "", "title": "no id"},
        "not an entity",
    ]
    tags = message_tags(json.dumps(picked))
    assert tags == [
        {
            "type": "input_tag",
            "id": "t1",
            "text": "Support",
            "data": {"topic": "support"},
            "interactive": True,
            "group": "Topics",
        }
    ]
    assert message_tags("") == [] and message_tags("{nope") == [] and message_tags(None) == []
    many = [{"id": str(i), "title": str(i)} for i in range(MAX_TAGS + 5)]
    assert len(message_tags(json.dumps(many))) == MAX_TAGS
    sent = input_message("hello", [], "", tags)
    assert [part["type"] for part in sent["content"]] == ["input_tag", "input_text"]
    assert item_text({"content": sent["content"]}) == "Support hello"


def test_commands_need_one_outcome_and_unique_ids() -> None:
    ok = ChatKitUI.model_validate(
        {
            "commands": {
                "items": [
                    {"id": "a", "label": "A", "prompt": "hi"},
                    {
                        "id": "m",
                        "label": "M",
                        "commands": [{"id": "b", "label": "B", "entity": {"id": "e", "title": "E"}}],
                    },
                ]
            }
        }
    ).to_js()
    assert ok["commands"]["enabled"] is True and ok["commands"]["items"][1]["commands"][0]["entity"]["title"] == "E"
    for bad in (
        [{"id": "a", "label": "A"}],  # no outcome
        [{"id": "a", "label": "A", "prompt": "x", "entity": {"id": "e", "title": "E"}}],  # two
        [
            {"id": "a", "label": "A", "prompt": "x"},
            {"id": "m", "label": "M", "commands": [{"id": "a", "label": "again", "prompt": "y"}]},
        ],  # an id twice
        [{"id": "a", "label": "A", "prompt": "x", "onSelect": "alert(1)"}],  # unknown field
    ):
        with pytest.raises(ValidationError):
            ChatKitUI.model_validate({"commands": {"items": bad}})


def _search(query: str, context: RequestContext) -> list[Any]:
    return [{"id": "a", "title": f"{query} for {context.user_id}"}, {"title": "no id"}, EntityRef(id="b", title="B")]


async def _preview(entity: EntityRef, context: RequestContext) -> dict[str, Any] | None:
    return {"type": "Basic", "children": [{"type": "Text", "value": entity.title}]} if entity.id == "a" else None


async def test_entity_handlers_answer_for_the_caller() -> None:
    key = register(_preview, _search)
    found = handlers(key)
    assert found is not None and found.ops == ["preview", "search"]
    context = RequestContext("ann", "s1", "assistant")
    assert await search(found, "q", context) == [{"id": "a", "title": "q for ann"}, {"id": "b", "title": "B"}]
    widget = await preview(found, EntityRef(id="a", title="Hello"), context)
    assert widget == {"type": "Basic", "children": [{"type": "Text", "value": "Hello"}]}
    assert await preview(found, EntityRef(id="z", title="Z"), context) is None
    assert handlers("nope") is None
    with pytest.raises(ValueError):
        register()
