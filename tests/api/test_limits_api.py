"""Quotas and rate limits over HTTP, on the real app: 429 with the error envelope and
`Retry-After` before anything is streamed or stored, nothing already stored is lost, and
every limit at 0 is off. The model-token quota runs against the loopback fake model,
which reports usage like OpenAI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chatkit_app.api.app import create_api
from chatkit_app.core.context import RequestContext
from chatkit_app.errors import RateLimited
from chatkit_app.models import ModelUsage
from chatkit_app.services import Services, build_services
from chatkit_app.ui.native import protocol
from chatkit_app.ui.native.protocol import input_message
from tests.api.chatkit_client import ChatKitClient, done_items, reply_text, user_input
from tests.api.conftest import asgi_client
from tests.conftest import LIMITS_OFF, api_key_headers, bearer, model_settings
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, running_fake, split_tokens


@pytest.fixture
async def open_app(services_with: Callable[..., Services]) -> AsyncIterator[Callable[..., Any]]:
    """`await open_app(**settings)` → (services, http client) of an app with those settings."""
    clients: list[Any] = []

    async def open_(**overrides: Any) -> tuple[Services, httpx.AsyncClient]:
        services = services_with(**overrides)
        context = asgi_client(create_api(lambda: services))
        clients.append(context)
        return services, await context.__aenter__()

    yield open_
    for context in clients:
        await context.__aexit__(None, None, None)


def assert_429(response: httpx.Response, code: str, *, max_wait: int | None) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    if max_wait is None:
        assert "retry-after" not in response.headers
    else:
        assert 1 <= int(response.headers["retry-after"]) <= max_wait
    return error


async def test_the_21st_message_in_a_minute_is_refused_and_nothing_stored_is_lost(
    client: httpx.AsyncClient,
) -> None:
    alice = await ChatKitClient.for_user(client, "alice")
    thread_id, _ = await alice.new_thread("message 1")
    for n in range(2, 21):
        events = await alice.stream("threads.add_user_message", thread_id=thread_id, input=user_input(f"message {n}"))
        assert done_items(events, "assistant_message")
    refused = await alice.raw(
        {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_input("message 21")}}
    )
    error = assert_429(refused, "rate_limited", max_wait=60)
    wait = refused.headers["retry-after"]
    assert error["message"] == f"You can send 20 messages a minute; try again in {wait} s."
    new_thread = await alice.raw({"type": "threads.create", "params": {"input": user_input("another")}})
    assert_429(new_thread, "rate_limited", max_wait=60)

    items = await alice.call("items.list", thread_id=thread_id, limit=100, order="asc")
    users = [i for i in items["data"] if i["type"] == "user_message"]
    assert [u["content"][0]["text"] for u in users] == [f"message {n}" for n in range(1, 21)]
    assert len([i for i in items["data"] if i["type"] == "assistant_message"]) == 20
    assert [t["id"] for t in (await alice.call("threads.list", limit=10))["data"]] == [thread_id]
    bob = await ChatKitClient.for_user(client, "bob")  # per user
    await bob.new_thread("hello")


async def test_the_thread_quota(open_app: Callable[..., Any]) -> None:
    _, http = await open_app(chatkit_limit_threads_per_day=2)
    alice = await ChatKitClient.for_user(http, "alice")
    first, _ = await alice.new_thread("one")
    second, _ = await alice.new_thread("two")
    refused = await alice.raw({"type": "threads.create", "params": {"input": user_input("three")}})
    error = assert_429(refused, "quota_exceeded", max_wait=86_400)
    assert error["message"].startswith("You can start 2 chats a day; try again in ")
    threads = await alice.call("threads.list", limit=10)
    assert sorted(t["id"] for t in threads["data"]) == sorted([first, second])
    events = await alice.stream("threads.add_user_message", thread_id=first, input=user_input("still here"))
    assert done_items(events, "assistant_message")  # messages in existing threads go on


async def test_session_creation_rate_per_user(client: httpx.AsyncClient) -> None:
    def create(user: str) -> Any:
        return client.post("/api/chatkit/session", json={"userId": user}, headers=api_key_headers())

    for _ in range(20):
        assert (await create("alice")).status_code == 201
    refused = await create("alice")
    error = assert_429(refused, "rate_limited", max_wait=60)
    assert error["message"].startswith("You can open 20 chat sessions a minute; try again in ")
    assert (await create("bob")).status_code == 201


async def _create(user: ChatKitClient, size: int, name: str = "a.txt") -> httpx.Response:
    return await user.raw(
        {"type": "attachments.create", "params": {"name": name, "size": size, "mime_type": "text/plain"}}
    )


async def _upload(user: ChatKitClient, attachment: dict[str, Any], chunks: list[bytes]) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    url = attachment["upload_descriptor"]["url"]
    return await user.http.post(url, content=body(), headers={**bearer(user.token), "Content-Type": "text/plain"})


def _disk(services: Services) -> dict[str, int]:
    return {path.name: path.stat().st_size for path in services.settings.uploads_dir.iterdir()}


async def test_uploads_stop_at_the_daily_byte_quota(open_app: Callable[..., Any]) -> None:
    services, http = await open_app(chatkit_limit_upload_bytes_per_day=2500)
    alice = await ChatKitClient.for_user(http, "alice")
    kept = []
    for _ in range(2):
        attachment = (await _create(alice, 1000)).json()
        assert (await _upload(alice, attachment, [b"x" * 1000])).status_code == 200
        kept.append(attachment["id"])
    assert sum(_disk(services).values()) == 2000

    # Declared too big for what is left today: refused before any byte.
    error = assert_429(await _create(alice, 1000), "quota_exceeded", max_wait=86_400)
    assert error["message"].startswith("You can upload 2.4 KB a day and have 500 bytes left; try again in ")

    # A client that declares less than it sends is stopped at the quota, mid-stream.
    liar = (await _create(alice, 100)).json()
    refused = await _upload(alice, liar, [b"y" * 100] * 10)
    assert_429(refused, "quota_exceeded", max_wait=86_400)
    assert sum(_disk(services).values()) == 2000 and len(_disk(services)) == 2  # no partial file
    for attachment_id in kept:  # nothing stored is lost
        download = await http.get(f"/api/chatkit/attachments/{attachment_id}", headers=bearer(alice.token))
        assert download.status_code == 200 and download.content == b"x" * 1000
    bob = await ChatKitClient.for_user(http, "bob")
    assert (await _create(bob, 1000)).status_code == 200  # per user


async def test_pending_uploads_cap(open_app: Callable[..., Any]) -> None:
    _, http = await open_app(chatkit_limit_pending_uploads=3)
    alice = await ChatKitClient.for_user(http, "alice")
    created = [(await _create(alice, 5)).json() for _ in range(3)]
    error = assert_429(await _create(alice, 5), "quota_exceeded", max_wait=None)
    assert error["message"] == "You can have 3 files waiting to be sent; send or remove some first."

    # Sending one in a message frees its place; so does removing one.
    assert (await _upload(alice, created[0], [b"hello"])).status_code == 200
    events = await alice.stream("threads.create", input=user_input("see the file", [created[0]["id"]]))
    assert done_items(events, "assistant_message")
    assert (await _create(alice, 5)).status_code == 200
    assert_429(await _create(alice, 5), "quota_exceeded", max_wait=None)
    await alice.call("attachments.delete", attachment_id=created[1]["id"])
    assert (await _create(alice, 5)).status_code == 200


async def test_uploads_streaming_at_once_are_capped_per_user(open_app: Callable[..., Any]) -> None:
    """A client that trickles its bytes holds a connection (and, with S3, up to a part in
    memory): past CHATKIT_LIMIT_UPLOADS_AT_ONCE of one user's uploads streaming, the next
    is refused before any byte is kept; another user, or the same once one finished, goes on."""
    services, http = await open_app(chatkit_limit_uploads_at_once=1)
    alice, bob = await ChatKitClient.for_user(http, "alice"), await ChatKitClient.for_user(http, "bob")
    first, second = (await _create(alice, 10)).json(), (await _create(alice, 10)).json()
    started, go_on = asyncio.Event(), asyncio.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield b"12345"
        started.set()
        await go_on.wait()
        yield b"67890"

    headers = {**bearer(alice.token), "Content-Type": "application/octet-stream"}
    slow = asyncio.ensure_future(alice.http.post(first["upload_descriptor"]["url"], content=trickle(), headers=headers))
    await asyncio.wait_for(started.wait(), 10)
    refused = await _upload(alice, second, [b"x" * 10])
    error = assert_429(refused, "too_many_uploads", max_wait=5)
    assert error["message"] == "You can send 1 file at once; try this one again when one has finished."
    other = (await _create(bob, 10)).json()
    assert (await _upload(bob, other, [b"b" * 10])).status_code == 200  # per user
    go_on.set()
    assert (await slow).status_code == 200
    assert (await _upload(alice, second, [b"x" * 10])).status_code == 200  # her turn again
    assert sorted(_disk(services).values()) == [10, 10, 10]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior(text="one two three four five"))


@pytest.fixture(params=["responses", "chat_completions"])
async def model_app(
    request: pytest.FixtureRequest, fake: FakeOpenAI, tmp_path: Path
) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    settings = model_settings(
        tmp_path,
        fake.base_url,
        request.param,
        chatkit_upstream_timeout_seconds=5,
        chatkit_limit_model_tokens_per_day=25,
    )
    services = build_services(settings, production=False)
    async with asgi_client(create_api(lambda: services)) as http:
        yield services, http
    services.close()


async def test_the_model_token_quota_counts_what_the_model_reports(
    model_app: tuple[Services, httpx.AsyncClient],
) -> None:
    services, http = model_app
    per_answer = 10 + len(split_tokens("one two three four five", None))  # the fake's usage: 10 in + 5 out
    alice = await ChatKitClient.for_user(http, "alice")
    thread_id, events = await alice.new_thread("count to five")
    assert reply_text(events) == "one two three four five"
    [answer] = done_items(events, "assistant_message")

    with services.engine.connect() as conn:
        rows = conn.execute(select(ModelUsage.__table__)).mappings().all()  # type: ignore[attr-defined]
    assert [(r["user_id"], r["thread_id"], r["item_id"], r["tokens"]) for r in rows] == [
        ("alice", thread_id, answer["id"], per_answer)
    ]
    await alice.stream("threads.add_user_message", thread_id=thread_id, input=user_input("again"))  # 30 ≥ 25 now
    refused = await alice.raw(
        {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_input("more")}}
    )
    error = assert_429(refused, "quota_exceeded", max_wait=86_400)
    assert int(refused.headers["retry-after"]) > 86_400 - 60  # the first answer leaves the window in a day
    assert error["message"].startswith("You can use 25 model tokens a day; try again in ")
    items = await alice.call("items.list", thread_id=thread_id, limit=20, order="asc")
    assert [i["type"] for i in items["data"]] == ["user_message", "assistant_message"] * 2
    bob = await ChatKitClient.for_user(http, "bob")
    await bob.new_thread("hi")  # per user


async def test_every_limit_at_zero_is_off(open_app: Callable[..., Any]) -> None:
    services, http = await open_app(**LIMITS_OFF)
    for _ in range(25):
        response = await http.post("/api/chatkit/session", json={"userId": "alice"}, headers=api_key_headers())
        assert response.status_code == 201
    alice = ChatKitClient(http, response.json()["token"])
    thread_id, _ = await alice.new_thread("first")
    for n in range(24):
        await alice.stream("threads.add_user_message", thread_id=thread_id, input=user_input(f"m{n}"))
    for _ in range(25):
        attachment = (await _create(alice, 2000)).json()
        assert (await _upload(alice, attachment, [b"z" * 2000])).status_code == 200
    assert sum(_disk(services).values()) == 50_000


async def test_the_native_uis_in_process_path_raises_the_same_error(open_app: Callable[..., Any]) -> None:
    """The native UI calls our ChatKit server in-process: the limit is the same, and the
    error (whose message the UI shows) comes before any event."""
    services, _ = await open_app(chatkit_limit_messages_per_minute=2)
    issued = await services.issuer.create("alice", "assistant")
    context = RequestContext(issued.user_id, issued.session_id, issued.workflow_id, "http://testserver")
    events = [e async for e in protocol.stream(services, context, "threads.create", input=input_message("one"))]
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    [
        _
        async for _ in protocol.stream(
            services, context, "threads.add_user_message", thread_id=thread_id, input=input_message("two")
        )
    ]
    refused = protocol.stream(
        services, context, "threads.add_user_message", thread_id=thread_id, input=input_message("3")
    )
    with pytest.raises(RateLimited) as error:
        await anext(refused)
    assert error.value.retry_after is not None and 1 <= error.value.retry_after <= 60
    assert error.value.message == f"You can send 2 messages a minute; try again in {error.value.retry_after} s."
    page = await protocol.call(services, context, "items.list", thread_id=thread_id, limit=10, order="asc")
    assert [protocol.item_text(i) for i in page["data"] if i["type"] == "user_message"] == ["one", "two"]
