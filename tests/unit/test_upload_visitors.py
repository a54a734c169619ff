"""The visitor of an upload, held by its tab's token while the upload runs
(chatkit_app/auth/upload_visitors.py): only while it runs, and none when two different
visitors upload with the same token at once (a client token is no secret)."""

from __future__ import annotations

from chatkit_app.auth.upload_visitors import holding, visitor_of_upload
from chatkit_app.auth.visitor import Visitor

ALICE, BOB = Visitor("alice", "anonymous"), Visitor("bob", "anonymous")


def test_held_while_the_upload_runs_only() -> None:
    assert visitor_of_upload("t1") is None
    with holding("t1", ALICE):
        assert visitor_of_upload("t1") == ALICE
        assert visitor_of_upload("t2") is None
    assert visitor_of_upload("t1") is None


def test_two_uploads_of_one_visitor_at_once() -> None:
    with holding("t1", ALICE):
        with holding("t1", ALICE):
            assert visitor_of_upload("t1") == ALICE
        assert visitor_of_upload("t1") == ALICE  # the other still runs
    assert visitor_of_upload("t1") is None


def test_two_visitors_with_one_token_get_neither() -> None:
    with holding("t1", ALICE):
        with holding("t1", BOB):
            assert visitor_of_upload("t1") is None
        assert visitor_of_upload("t1") is None  # not Alice's again while Bob's might still matter
    assert visitor_of_upload("t1") is None
    with holding("t1", BOB):
        assert visitor_of_upload("t1") == BOB  # a new start


def test_no_token_holds_nothing() -> None:
    with holding("", ALICE):
        assert visitor_of_upload("") is None


def test_released_when_the_upload_fails() -> None:
    try:
        with holding("t1", ALICE):
            raise RuntimeError("the upload broke")
    except RuntimeError:
        pass
    assert visitor_of_upload("t1") is None
