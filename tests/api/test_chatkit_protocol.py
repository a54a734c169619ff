"""Every ChatKit request type over HTTP against the ASGI app, with the offline agent
(no key, no network): docs/api.md, The ChatKit protocol."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from chatkit_app.api.app import create_api
from chatkit_app.services import Services, build_services
from chatkit_app.settings import Settings
from tests.api.chatkit_client import ChatKitClient, decode_sse, done_items, reply_text, user_input
from tests.conftest import bearer, create_session


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> ChatKitClient:
    return await ChatKitClient.for_user(client, "alice")


async def test_new_thread_streams_the_reply_and_titles_the_thread(alice: ChatKitClient) -> None:
    started = time.perf_counter()
    thread_id, events = await alice.new_thread("help")
    elapsed = time.perf_counter() - started
    types = [e["type"] for e in events]
    assert types[0] == "thread.created"
    assert "progress_update" in types
    deltas = [e for e in events if e["type"] == "thread.item.updated"]
    assert len(deltas) > 10, "the reply must arrive as many deltas, not one block"
    text = reply_text(events)
    assert "offline demo agent" in text
    assert done_items(events, "assistant_message")[0]["content"][0]["text"] == text
    assert elapsed < 2.0
    thread = await alice.call("threads.get_by_id", thread_id=thread_id)
    assert thread["title"] == "help"


async def test_list_threads_items_and_a_second_turn(alice: ChatKitClient) -> None:
    first, _ = await alice.new_thread("hello there")
    second, _ = await alice.new_thread("another one")
    listed = await alice.call("threads.list", limit=10, order="desc")
    assert [t["id"] for t in listed["data"]] == [second, first]

    events = await alice.stream("threads.add_user_message", thread_id=first, input=user_input("ping"))
    assert "ping" in reply_text(events)
    items = await alice.call("items.list", thread_id=first, limit=50, order="asc")
    kinds = [item["type"] for item in items["data"]]
    assert kinds == ["user_message", "assistant_message", "user_message", "assistant_message"]

    page1 = await alice.call("items.list", thread_id=first, limit=3, order="asc")
    assert page1["has_more"] is True and len(page1["data"]) == 3
    page2 = await alice.call("items.list", thread_id=first, limit=3, order="asc", after=page1["after"])
    assert page2["has_more"] is False and [i["id"] for i in page2["data"]] == [items["data"][3]["id"]]


async def test_rename_and_delete_thread(alice: ChatKitClient) -> None:
    thread_id, _ = await alice.new_thread("rename me")
    renamed = await alice.call("threads.update", thread_id=thread_id, title="Renamed")
    assert renamed["title"] == "Renamed"
    assert (await alice.call("threads.get_by_id", thread_id=thread_id))["title"] == "Renamed"
    await alice.call("threads.delete", thread_id=thread_id)
    gone = await alice.raw({"type": "threads.get_by_id", "params": {"thread_id": thread_id}})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


async def test_feedback_is_stored(alice: ChatKitClient, services: Services) -> None:
    thread_id, events = await alice.new_thread("rate this")
    answer = done_items(events, "assistant_message")[0]["id"]
    assert await alice.call("items.feedback", thread_id=thread_id, item_ids=[answer], kind="positive") == {}
    from chatkit_app.core.context import RequestContext

    context = RequestContext(user_id="alice", session_id="-", workflow_id="assistant")
    assert await services.store.load_feedback(thread_id, answer, context) == "positive"


async def test_retry_after_item_replaces_the_answer(alice: ChatKitClient) -> None:
    thread_id, events = await alice.new_thread("say it again")
    user_item = done_items(events, "user_message")[0]["id"]
    old_answer = done_items(events, "assistant_message")[0]["id"]
    retried = await alice.stream("threads.retry_after_item", thread_id=thread_id, item_id=user_item)
    assert "say it again" in reply_text(retried)
    items = await alice.call("items.list", thread_id=thread_id, limit=20, order="asc")
    ids = [i["id"] for i in items["data"]]
    assert old_answer not in ids and len(ids) == 2


async def test_widget_action_is_handled_on_the_server(alice: ChatKitClient) -> None:
    thread_id, events = await alice.new_thread("show a widget")
    widget = done_items(events, "widget")[0]
    assert widget["widget"]["type"] == "Card"
    button = widget["widget"]["children"][2]["children"][0]
    action = button["onClickAction"]
    updated = await alice.stream(
        "threads.custom_action",
        thread_id=thread_id,
        item_id=widget["id"],
        action={"type": action["type"], "payload": action["payload"]},
    )
    replaced = [e["item"] for e in updated if e["type"] == "thread.item.replaced"]
    assert replaced and "Clicked 1 time." in str(replaced[0]["widget"])
    stored = await alice.call("items.list", thread_id=thread_id, limit=20, order="asc")
    assert "Clicked 1 time." in str(next(i for i in stored["data"] if i["id"] == widget["id"]))


async def test_client_tool_call_round_trip(alice: ChatKitClient) -> None:
    thread_id, events = await alice.new_thread("dark mode please")
    call = done_items(events, "client_tool_call")[0]
    assert call["name"] == "switch_theme" and call["arguments"] == {"theme": "dark"}
    follow_up = await alice.stream("threads.add_client_tool_output", thread_id=thread_id, result={"ok": True})
    assert "dark colour scheme" in reply_text(follow_up)


async def test_a_notice_is_sent_before_the_answer(alice: ChatKitClient) -> None:
    _, events = await alice.new_thread("send me a notice")
    notices = [e for e in events if e["type"] == "notice"]
    assert notices == [{"type": "notice", "level": "info", "title": "Notice", "message": notices[0]["message"]}]
    assert "notice from the server" in notices[0]["message"]
    assert "stays until your next message" in reply_text(events)
    _, events = await alice.new_thread("I noticed nothing")  # the word, not a part of one
    assert not [e for e in events if e["type"] == "notice"]


async def test_requests_need_a_live_session_token(client: httpx.AsyncClient) -> None:
    request = {"type": "threads.list", "params": {}}
    missing = await client.post("/api/chatkit", json=request)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_credentials"
    garbage = await client.post("/api/chatkit", json=request, headers=bearer("not-a-token"))
    assert garbage.status_code == 401 and garbage.json()["error"]["code"] == "invalid_token"
    session = await create_session(client, user_id="carol")
    await client.delete(f"/api/chatkit/session/{session['sessionId']}", headers=bearer(session["token"]))
    revoked = await client.post("/api/chatkit", json=request, headers=bearer(session["token"]))
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "session_revoked"


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'{"type": "threads.explode", "params": {}}', b'{"type": "threads.get_by_id", "params": {}}'],
)
async def test_malformed_requests_get_a_4xx_envelope(alice: ChatKitClient, body: bytes) -> None:
    response = await alice.http.post("/api/chatkit", content=body, headers=bearer(alice.token))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert "Traceback" not in response.text


async def test_oversized_request_is_413(alice: ChatKitClient) -> None:
    huge = user_input("x" * (1024 * 1024 + 10))
    response = await alice.raw({"type": "threads.create", "params": {"input": huge}})
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


async def test_stream_headers_stop_proxy_buffering(alice: ChatKitClient) -> None:
    response = await alice.raw({"type": "threads.create", "params": {"input": user_input("hi")}})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-accel-buffering"] == "no"
    assert "no-cache" in response.headers["cache-control"]
    assert decode_sse(response.text)[0]["type"] == "thread.created"


async def test_threads_survive_a_backend_restart(settings: Settings, tmp_path: Path) -> None:
    first = build_services(settings, production=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(lambda: first)), base_url="http://t"
    ) as http:
        alice = await ChatKitClient.for_user(http, "alice")
        thread_id, _ = await alice.new_thread("remember me")
    first.close()

    second = build_services(settings, production=False)
    try:
        transport = httpx.ASGITransport(app=create_api(lambda: second))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            alice = ChatKitClient(http, alice.token)  # the same token still works after restart
            thread = await alice.call("threads.get_by_id", thread_id=thread_id)
            assert thread["title"] == "remember me"
            items = await alice.call("items.list", thread_id=thread_id, limit=10, order="asc")
            assert [i["type"] for i in items["data"]] == ["user_message", "assistant_message"]
    finally:
        second.close()


async def test_no_request_is_left_arriving(client: httpx.AsyncClient, services: Services) -> None:
    """Answers wait while other requests arrive (`HeadStart`): every request, served or
    refused, must stop counting as arriving."""
    alice = await ChatKitClient.for_user(client, "alice")
    await alice.new_thread("hello")
    await alice.call("threads.list", limit=5, order="desc")
    bad = [
        await client.post("/api/chatkit", content=b"{}", headers={"Authorization": "Bearer nope"}),
        await client.post("/api/chatkit", content=b"not json", headers=bearer(alice.token)),
        await client.post(
            "/api/chatkit",
            json={"type": "threads.get_by_id", "params": {"thread_id": "thr_x"}},
            headers=bearer(alice.token),
        ),
    ]
    assert [r.status_code for r in bad] == [401, 400, 404]
    assert services.chatkit.head_start.arriving == 0
