"""Coalescing of streamed text: text deltas that are already waiting are merged into one
(and so into one SSE frame), but no character is ever lost, duplicated or reordered, deltas
of different content parts are never merged, and nothing is held back to wait for more.

`coalesce()` is tested directly, then the whole path: the OpenAI agent behind
`POST /api/chatkit`, against the loopback fake model, many streams at once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Hashable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatkit_app import fast_paths
from chatkit_app.api.app import create_api
from chatkit_app.core.coalesce import coalesce
from chatkit_app.services import Services, build_services
from tests.api.chatkit_client import ChatKitClient, decode_sse, done_items, reply_text, user_input
from tests.conftest import bearer, create_session, make_settings
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, running_fake, split_tokens
from tests.live_server import serve

Item = tuple[str, str]  # (group, text)


def key(item: Item) -> Hashable | None:
    return item[0] if item[0] != "other" else None


def join(items: list[Item]) -> Item:
    return (items[0][0], "".join(text for _, text in items))


# --- coalesce() ------------------------------------------------------------------------


async def test_only_adjacent_items_of_one_group_already_waiting_are_merged() -> None:
    first = [("a", "1")]
    later = [  # two bursts, both waiting by the time the consumer asks again
        [("a", "2"), ("a", "3"), ("a", "4")],
        [("a", "5"), ("b", "6"), ("b", "7"), ("other", "8"), ("other", "9"), ("a", "A")],
    ]
    flat = [item for burst in [first, *later] for item in burst]
    group_of = {text: group for group, text in flat}
    go, all_in = asyncio.Event(), asyncio.Event()

    async def source() -> AsyncIterator[Item]:
        for item in first:
            yield item
        await go.wait()  # the consumer has the first item alone
        for burst in later:
            for item in burst:
                yield item
            await asyncio.sleep(0)  # a border between the bursts
        all_in.set()

    out: list[Item] = []
    async for item in coalesce(source(), key, join):
        out.append(item)
        if not go.is_set():
            go.set()
            await all_in.wait()  # a slow consumer: everything else is waiting when it asks
    assert "".join(text for _, text in out) == "123456789A"  # nothing lost, nothing reordered
    for group, text in out:  # a merged item holds neighbours of one group only
        assert {group_of[char] for char in text} == {group}
    assert out[0] == ("a", "1")
    assert ("a", "2345") in out  # waiting together, so merged (across the bursts' border too)
    assert ("b", "67") in out
    assert ("other", "8") in out and ("other", "9") in out  # no key: never merged
    assert out[-1] == ("a", "A")  # same group as "5", but not adjacent to it


async def test_many_concurrent_streams_keep_every_character_in_order() -> None:
    async def source(stream: int) -> AsyncIterator[Item]:
        for index in range(400):
            yield (f"part{index // 100}", f"<{stream}:{index}>")
            if index % 7 == 0:
                await asyncio.sleep(0)  # sometimes one at a time, sometimes in bursts

    async def consume(stream: int) -> tuple[list[Item], int]:
        out = []
        async for item in coalesce(source(stream), key, join):
            out.append(item)
            if len(out) % 3 == 0:
                await asyncio.sleep(0.001)
        return out, stream

    results = await asyncio.gather(*(consume(stream) for stream in range(30)))
    merged_somewhere = False
    for out, stream in results:
        expected = [(f"part{i // 100}", f"<{stream}:{i}>") for i in range(400)]
        assert "".join(text for _, text in out) == "".join(text for _, text in expected)
        for group, text in out:  # every merged item holds only its own part's pieces
            assert all(piece.startswith(f"<{stream}:") for piece in text.split(">")[:-1])
            assert all(int(piece.split(":")[1]) // 100 == int(group[4:]) for piece in text.split(">")[:-1])
        merged_somewhere |= len(out) < 400
    assert merged_somewhere


async def test_the_first_item_is_passed_on_at_once() -> None:
    release = asyncio.Event()

    async def source() -> AsyncIterator[Item]:
        yield ("a", "first")
        await release.wait()  # the second comes only after the first was received
        yield ("a", "second")

    items = coalesce(source(), key, join)
    first = await asyncio.wait_for(anext(items), 5)  # not held back waiting for more
    assert first == ("a", "first")
    release.set()
    assert await asyncio.wait_for(anext(items), 5) == ("a", "second")
    await items.aclose()


async def test_an_error_comes_after_every_item_read_before_it() -> None:
    async def source() -> AsyncIterator[Item]:
        yield ("a", "1")
        yield ("a", "2")
        raise ValueError("upstream broke")

    out: list[Item] = []
    with pytest.raises(ValueError, match="upstream broke"):
        async for item in coalesce(source(), key, join):
            out.append(item)
            await asyncio.sleep(0.01)
    assert "".join(text for _, text in out) == "12"


async def test_closing_the_consumer_closes_the_source() -> None:
    closed = asyncio.Event()

    async def source() -> AsyncIterator[Item]:
        try:
            while True:
                yield ("a", "x")
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    items = coalesce(source(), key, join)
    await anext(items)
    await items.aclose()
    await asyncio.wait_for(closed.wait(), 1)


# --- end to end ------------------------------------------------------------------------

# Quotes, backslashes, newlines, non-ASCII and astral characters: JSON and SSE must carry
# them intact through the merge.
TEXT = "".join(f"w{i}{['', ' ', chr(34), chr(92), chr(10), 'é', '😀', '日本', '</b>'][i % 9]} " for i in range(300))


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior(text=TEXT, tokens=300))


def _services(tmp_path: Path, fake: FakeOpenAI, api: str) -> Services:
    settings = make_settings(
        tmp_path,
        openai_api_key="sk-test-" + "x" * 20,
        openai_base_url=fake.base_url,
        chatkit_openai_api=api,
        chatkit_upstream_timeout_seconds=10,
    )
    return build_services(settings, production=False)


def _deltas(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["update"]["delta"]
        for e in events
        if e["type"] == "thread.item.updated" and e["update"]["type"] == "assistant_message.content_part.text_delta"
    ]


@pytest.mark.parametrize("api", ["responses", "chat_completions"])
async def test_concurrent_answers_arrive_whole_and_in_order(api: str, fake: FakeOpenAI, tmp_path: Path) -> None:
    services = _services(tmp_path, fake, api)
    try:
        transport = httpx.ASGITransport(app=create_api(lambda: services))
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=30) as http:
            clients = [await ChatKitClient.for_user(http, f"user-{n}") for n in range(12)]
            answers = await asyncio.gather(*(c.new_thread(f"question {n}") for n, c in enumerate(clients)))
    finally:
        services.close()
    frames = []
    for _, events in answers:
        assert not [e for e in events if e["type"] == "error"]
        assert reply_text(events) == TEXT  # every character, once, in order
        [done] = done_items(events, "assistant_message")
        assert done["content"][0]["text"] == TEXT
        [item_id] = {e["item_id"] for e in events if e["type"] == "thread.item.updated"}
        assert item_id == done["id"]
        frames.append(len(_deltas(events)))
    sent = len(split_tokens(TEXT, 300))
    if api == "responses" and not fast_paths.enabled(services.settings):
        # The plain SDK path (CHATKIT_FAST_PATHS=off) merges nothing: a frame per delta.
        assert frames == [sent] * len(clients)
    else:
        # The fake sends 300 deltas as fast as it can: twelve answers at once are merged.
        assert min(frames) < sent


async def test_the_first_delta_is_not_held_back(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.behavior = FakeBehavior(text="first second third", tokens=3, delay=1.0)
    services = _services(tmp_path, fake, "responses")
    try:
        with serve(create_api(lambda: services)) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
                session = await create_session(http, user_id="alice")
                request = {"type": "threads.create", "params": {"input": user_input("go")}}
                arrivals: list[tuple[float, str]] = []
                started = time.perf_counter()
                async with http.stream(
                    "POST", "/api/chatkit", json=request, headers=bearer(session["token"])
                ) as response:
                    async for line in response.aiter_lines():
                        if line.startswith("data: "):
                            for delta in _deltas(decode_sse(line + "\n\n")):
                                arrivals.append((time.perf_counter() - started, delta))
    finally:
        services.close()
    assert [delta for _, delta in arrivals] == split_tokens("first second third", 3)
    # The first token is sent 1 s in, the second 2 s in: the first one came alone, before
    # the next existed, not merged with (or waiting for) it. (Wide margins: a loaded
    # machine delays both alike.)
    assert arrivals[0][0] < 1.9
    assert arrivals[1][0] - arrivals[0][0] > 0.5
    assert json.dumps(arrivals)  # (for the failure message)
