"""With OPENAI_API_KEY / OPENAI_BASE_URL set, workflow `assistant` runs the Agents SDK
agent: over HTTP, against a loopback fake of OpenAI (both APIs), nothing else changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from chatkit_app.api.app import create_api
from chatkit_app.services import build_services
from tests.api.chatkit_client import ChatKitClient, done_items, reply_text, user_input
from tests.conftest import model_settings
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, running_fake


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior(text="Paris is the capital of France."))


@pytest.fixture(params=["responses", "chat_completions"])
async def alice(request: pytest.FixtureRequest, fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[ChatKitClient]:
    settings = model_settings(
        tmp_path,
        fake.base_url,
        request.param,
        chatkit_upstream_timeout_seconds=3,
    )
    services = build_services(settings, production=False)
    transport = httpx.ASGITransport(app=create_api(lambda: services))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield await ChatKitClient.for_user(http, "alice")
    services.close()


async def test_assistant_streams_the_model_answer(alice: ChatKitClient, fake: FakeOpenAI) -> None:
    thread_id, events = await alice.new_thread("What is the capital of France?")
    assert reply_text(events) == "Paris is the capital of France."
    assert done_items(events, "assistant_message")[0]["content"][0]["text"] == "Paris is the capital of France."
    assert fake.requests[-1].headers["authorization"] == "Bearer sk-test-" + "x" * 20

    fake.behavior = FakeBehavior(text="About 2.1 million people.")
    second = await alice.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("How many live there?")
    )
    assert reply_text(second) == "About 2.1 million people."
    assert "capital of France" in str(fake.requests[-1].body), "the history goes to the model"


async def test_upstream_failure_is_an_error_event_and_the_message_is_kept(
    alice: ChatKitClient, fake: FakeOpenAI
) -> None:
    fake.behavior = FakeBehavior(status=500)
    thread_id, events = await alice.new_thread("hello?")
    errors = [e for e in events if e["type"] == "error"]
    assert errors and "HTTP 500" in errors[0]["message"] and errors[0]["allow_retry"] is True
    items = await alice.call("items.list", thread_id=thread_id, limit=10, order="asc")
    assert [i["type"] for i in items["data"]] == ["user_message"]


async def test_a_server_that_lingers_after_done_still_ends_the_answer(alice: ChatKitClient, fake: FakeOpenAI) -> None:
    """Chat Completions ends at `data: [DONE]`; some servers keep the connection open after
    it. The answer must end there, without a read still waiting on the socket."""
    fake.behavior = FakeBehavior(text="Done means done.", linger_after_done=True)
    _, events = await asyncio.wait_for(alice.new_thread("hi"), timeout=10)
    assert reply_text(events) == "Done means done."
    assert not [e for e in events if e["type"] == "error"]


async def test_a_new_threads_title_is_saved_while_the_answer_streams(alice: ChatKitClient, fake: FakeOpenAI) -> None:
    """The title goes out after the first text, not with the work every answer does at its end."""
    fake.behavior = FakeBehavior(text="One two three four.", tokens=4, delay=0.05)
    thread_id, events = await alice.new_thread("Count to four, please")
    kinds = [
        "delta" if e["type"] == "thread.item.updated" else e["type"] for e in events if e["type"] != "stream_options"
    ]
    updated = kinds.index("thread.updated")
    assert 0 < kinds.index("delta") < updated < len(kinds) - 1 - kinds[::-1].index("delta"), kinds
    assert events[[i for i, e in enumerate(events) if e["type"] != "stream_options"][updated]]["thread"]["title"] == (
        "Count to four, please"
    )
    assert kinds.count("thread.updated") == 1
    assert (await alice.call("threads.get_by_id", thread_id=thread_id))["title"] == "Count to four, please"


async def test_a_new_thread_is_titled_when_its_answer_fails(alice: ChatKitClient, fake: FakeOpenAI) -> None:
    fake.behavior = FakeBehavior(status=500)
    thread_id, events = await alice.new_thread("Will this work?")
    assert [e for e in events if e["type"] == "error"]
    assert (await alice.call("threads.get_by_id", thread_id=thread_id))["title"] == "Will this work?"
