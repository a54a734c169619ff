"""Which message a retry or an edit is about, whether the thread waits for an answer, and
a failure in plain words with its retry decision."""

from __future__ import annotations

from typing import Any

from chatkit_app.errors import NotFound, QuotaExceeded, RateLimited
from chatkit_app.ui.native.item_events import PENDING
from chatkit_app.ui.native.message_model import ChatMessage
from chatkit_app.ui.native.turn_failures import failure_of_error, failure_of_event
from chatkit_app.ui.native.turn_rules import (
    editable_id,
    edited,
    is_local,
    last_user_index,
    newest_user_item,
    unanswered,
    without_placeholder,
)


def _m(id_: str, role: Any, text: str = "t", **extra: Any) -> ChatMessage:
    return ChatMessage(id=id_, role=role, text=text, **extra)


def test_the_last_user_message_is_found_past_answers_and_widgets() -> None:
    messages = [_m("u1", "user"), _m("a1", "assistant"), _m("u2", "user"), _m("w", "widget"), _m("a2", "assistant")]
    assert last_user_index(messages) == 2
    assert last_user_index([_m("a", "assistant")]) is None


def test_only_a_saved_whole_last_user_message_is_editable() -> None:
    assert editable_id([_m("u1", "user"), _m("a1", "assistant")]) == "u1"
    assert editable_id([_m("u1", "user"), _m("local-user-1", "user")]) == ""  # not saved yet
    assert editable_id([_m("u1", "user", truncated=True)]) == ""  # shown cut: its text is not all here
    assert editable_id([]) == ""
    assert is_local("local-user-5") and not is_local("msg_1")


def test_a_thread_ending_with_the_user_waits_for_an_answer() -> None:
    assert unanswered([_m("a", "assistant"), _m("u", "user")])
    assert not unanswered([_m("u", "user"), _m("a", "assistant")])
    assert not unanswered([])


def test_the_newest_user_item_is_read_from_items_newest_first() -> None:
    items = [
        {"id": "a2", "type": "assistant_message"},
        {"id": "u2", "type": "user_message"},
        {"id": "u1", "type": "user_message"},
    ]
    assert newest_user_item(items) == "u2"
    assert newest_user_item([{"id": "w", "type": "widget"}]) == ""


def test_an_empty_placeholder_goes_and_a_partial_answer_stays() -> None:
    assert without_placeholder([_m("u", "user"), _m(PENDING, "assistant", "")]) == [_m("u", "user")]
    partial = [_m("u", "user"), _m(PENDING, "assistant", "half an ans")]
    assert without_placeholder(partial) == partial


def test_an_edit_replaces_the_text_and_drops_what_came_after() -> None:
    messages = [_m("u1", "user", "old"), _m("a1", "assistant"), _m("u2", "user", "before"), _m("a2", "assistant")]
    assert edited(messages, "u2", "after") == [*messages[:2], _m("u2", "user", "after")]
    assert edited(messages, "missing", "x") == messages


def test_failures_say_what_happened_and_whether_to_retry() -> None:
    server = failure_of_event(
        {
            "type": "error",
            "code": "custom",
            "message": "The model server returned an error (HTTP 500). Try again.",
            "allow_retry": True,
        }
    )
    assert (server.title, server.can_retry) == ("The model server failed", True)
    assert "HTTP 500" in server.message
    slow = failure_of_event({"type": "error", "message": "The model server did not answer within 3 s."})
    assert slow.title == "The model took too long"
    limited = failure_of_event({"message": "The model server is rate limiting requests; try again in 2 s."})
    assert limited.title == "Too many requests"
    refused = failure_of_event({"message": "A safety check refused your message.", "allow_retry": False})
    assert (refused.title, refused.can_retry) == ("The assistant could not answer", False)
    assert len(failure_of_event({"message": "x" * 5_000}).message) == 400


def test_refusals_before_a_turn_started_keep_their_words() -> None:
    rate = failure_of_error(RateLimited("Too many messages; wait 3 s.", retry_after=3))
    assert (rate.title, rate.message, rate.can_retry) == ("Too many requests", "Too many messages; wait 3 s.", True)
    quota = failure_of_error(QuotaExceeded("Today's allowance is used up.", retry_after=None))
    assert quota.title == "Limit reached"
    gone = failure_of_error(NotFound("That thread is gone."))
    assert (gone.title, gone.can_retry) == ("The assistant could not answer", False)
