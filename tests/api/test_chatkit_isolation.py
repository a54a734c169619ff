"""Two users, every ChatKit request type: the second user can see or change nothing of
the first user's threads and items; each attempt is a plain 404 (docs/api.md, The ChatKit
protocol: every query is scoped to the token's user)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.chatkit_client import ChatKitClient, done_items, user_input


@pytest.fixture
async def pair(client: httpx.AsyncClient) -> tuple[ChatKitClient, ChatKitClient, str, dict[str, Any]]:
    alice = await ChatKitClient.for_user(client, "alice")
    mallory = await ChatKitClient.for_user(client, "mallory")
    thread_id, events = await alice.new_thread("show a widget")
    return alice, mallory, thread_id, {e["item"]["type"]: e["item"] for e in events if e["type"] == "thread.item.done"}


def _requests(thread_id: str, items: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    widget = items["widget"]
    action = widget["widget"]["children"][2]["children"][0]["onClickAction"]
    return [
        ("threads.get_by_id", {"thread_id": thread_id}),
        ("threads.update", {"thread_id": thread_id, "title": "owned"}),
        ("items.list", {"thread_id": thread_id}),
        (
            "items.feedback",
            {"thread_id": thread_id, "item_ids": [items["assistant_message"]["id"]], "kind": "negative"},
        ),
        ("threads.add_user_message", {"thread_id": thread_id, "input": user_input("let me in")}),
        ("threads.retry_after_item", {"thread_id": thread_id, "item_id": items["user_message"]["id"]}),
        (
            "threads.custom_action",
            {
                "thread_id": thread_id,
                "item_id": widget["id"],
                "action": {"type": action["type"], "payload": action["payload"]},
            },
        ),
        ("threads.add_client_tool_output", {"thread_id": thread_id, "result": {}}),
        ("threads.delete", {"thread_id": thread_id}),
    ]


@pytest.mark.parametrize("index", range(9))
async def test_another_user_gets_404_for_every_request_type(
    pair: tuple[ChatKitClient, ChatKitClient, str, dict[str, Any]], index: int
) -> None:
    alice, mallory, thread_id, items = pair
    before = await alice.call("items.list", thread_id=thread_id, limit=50, order="asc")
    type_, params = _requests(thread_id, items)[index]

    response = await mallory.raw({"type": type_, "params": params})

    assert response.status_code == 404, (type_, response.status_code, response.text[:300])
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    after = await alice.call("items.list", thread_id=thread_id, limit=50, order="asc")
    assert after == before, f"{type_} by another user changed the thread"
    thread = await alice.call("threads.get_by_id", thread_id=thread_id)
    assert thread["title"] == "show a widget"


async def test_thread_lists_are_per_user(pair: tuple[ChatKitClient, ChatKitClient, str, dict[str, Any]]) -> None:
    alice, mallory, thread_id, _ = pair
    own, _ = await mallory.new_thread("mine")
    assert [t["id"] for t in (await mallory.call("threads.list", limit=50))["data"]] == [own]
    assert [t["id"] for t in (await alice.call("threads.list", limit=50))["data"]] == [thread_id]
    cursor = await mallory.raw({"type": "threads.list", "params": {"limit": 5, "after": thread_id}})
    assert cursor.status_code == 404


async def test_feedback_cannot_reach_into_another_thread(
    pair: tuple[ChatKitClient, ChatKitClient, str, dict[str, Any]],
) -> None:
    _alice, mallory, _thread_id, items = pair
    own, events = await mallory.new_thread("mine")
    mine = done_items(events, "assistant_message")[0]["id"]
    mixed = [mine, items["assistant_message"]["id"]]
    response = await mallory.raw(
        {"type": "items.feedback", "params": {"thread_id": own, "item_ids": mixed, "kind": "negative"}}
    )
    assert response.status_code == 404
