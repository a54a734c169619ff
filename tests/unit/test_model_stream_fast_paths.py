"""The model client's fast paths mean exactly what the SDK's slow ones mean: the SSE decoder
yields the SDK decoder's events (text deltas waiting together merged into one, with the same
text), paced reading waits between reads only while many streams are open and loses
nothing, a streamed Responses call sends the same JSON body without the SDK's parameter
walk, and text delta frames to the client are the SDK's JSON."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from chatkit_app.fast_paths import FastModelClient, close_shared_clients, shared_client
from chatkit_app.fast_paths.internals import SSEDecoder
from chatkit_app.fast_paths.pacing import PACER, PacedAioHttpClient, PacedAiohttpTransport, ReadPacer
from chatkit_app.fast_paths.sse import FastSSEDecoder
from chatkit_app.settings import Settings
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, running_fake

# --- SSE decoding ------------------------------------------------------------------------

LINES = ["data: x", "data:y", "data", "event: a", "event:b", "id: 7", "id:", "retry: 10", ": c", "", "", ""]
LINES += ["foo: bar", "data: é😀", "data:  two", "event"]


async def _chunks(data: bytes, rng: random.Random) -> AsyncIterator[bytes]:
    position = 0
    while position < len(data):
        size = rng.randint(1, 12)
        yield data[position : position + size]
        position += size


async def _decode(decoder: SSEDecoder, data: bytes, seed: int) -> list[tuple[Any, ...]]:
    return [(e.event, e.data, e.id, e.retry) async for e in decoder.aiter_bytes(_chunks(data, random.Random(seed)))]


async def test_sse_decoder_yields_the_sdk_decoders_events() -> None:
    rng = random.Random(7)
    for trial in range(3000):
        ends = rng.choice([["\n"], ["\r\n"], ["\n", "\r\n"], ["\n", "\r\n", "\r"]])
        text = "".join(rng.choice(LINES) + rng.choice(ends) for _ in range(rng.randint(0, 14)))
        data = text.encode()
        assert await _decode(FastSSEDecoder(), data, trial) == await _decode(SSEDecoder(), data, trial), text


def _delta(item: str, text: str, seq: int, content_index: int = 0) -> str:
    data = {"type": "response.output_text.delta", "item_id": item, "output_index": 0}
    data |= {"content_index": content_index, "delta": text, "logprobs": [], "sequence_number": seq}
    return f"event: response.output_text.delta\ndata: {json.dumps(data)}\n\n"


async def test_waiting_text_deltas_are_merged_in_order() -> None:
    texts = ['a"', "\\b\n", "é😀", "</d>", "e", "f"]
    stream = "event: response.created\ndata: {}\n\n"
    stream += "".join(_delta("m1", text, n) for n, text in enumerate(texts[:4]))
    stream += _delta("m1", texts[4], 4, content_index=1)  # another content part: not merged
    stream += "event: other\ndata: {}\n\n" + _delta("m1", texts[5], 6)
    data = stream.encode()

    async def at_once() -> AsyncIterator[bytes]:  # all waiting by the time they are read
        yield data

    events = [(e.event, e.json()) async for e in FastSSEDecoder().aiter_bytes(at_once())]
    deltas = [(body["delta"], body["content_index"], body["sequence_number"]) for _, body in events if "delta" in body]
    assert deltas == [("".join(texts[:4]), 0, 3), (texts[4], 1, 4), (texts[5], 0, 6)]
    assert [kind for kind, _ in events] == ["response.created"] + ["response.output_text.delta"] * 2 + ["other"] + [
        "response.output_text.delta"
    ]
    merged = [e async for e in FastSSEDecoder().aiter_bytes(at_once())][1]
    assert json.loads(merged.data) == merged.json()  # the event's text says what it holds


async def test_a_delta_that_arrives_alone_is_passed_on_at_once() -> None:
    gate = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield _delta("m1", "first", 0).encode()
        await gate.wait()
        yield _delta("m1", "second", 1).encode()

    events = aiter(FastSSEDecoder().aiter_bytes(slow()))
    first = await asyncio.wait_for(anext(events), 1)
    assert first.json()["delta"] == "first"
    gate.set()
    assert (await anext(events)).json()["delta"] == "second"


# --- paced reading ----------------------------------------------------------------------

TOKENS = [f"w{n}{'é😀'[n % 2]} " for n in range(30)]


async def _read_deltas(base_url: str, pacer: ReadPacer) -> list[tuple[float, str]]:
    """(arrival time, text) of each text delta event of one streamed answer."""
    http = PacedAioHttpClient(transport=PacedAiohttpTransport(pacer=pacer))
    loop = asyncio.get_running_loop()
    async with FastModelClient(api_key="k", base_url=base_url, http_client=http, max_retries=0) as client:
        stream = await client.responses.create(model="m", input="hi", stream=True)
        return [(loop.time(), e.delta) async for e in stream if e.type == "response.output_text.delta"]


@pytest.fixture
def steady() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior(text="".join(TOKENS), tokens=len(TOKENS), delay=0.01))


async def test_while_many_streams_are_open_a_stream_is_read_at_intervals(steady: FakeOpenAI) -> None:
    pacer = ReadPacer(rate=80, max_interval=0.05)
    with pacer.stream(), pacer.stream(), pacer.stream():  # three others: 4 open -> 50 ms
        deltas = await _read_deltas(steady.base_url, pacer)
    assert "".join(text for _, text in deltas) == "".join(TOKENS)  # every character, in order
    assert len(deltas) <= 10, len(deltas)  # 30 tokens 10 ms apart, read every 50 ms
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(deltas)]
    assert all(gap >= 0.04 for gap in gaps), gaps
    assert pacer.open_streams == 0


async def test_a_stream_alone_is_read_as_its_tokens_come(steady: FakeOpenAI) -> None:
    deltas = await _read_deltas(steady.base_url, ReadPacer(rate=80, max_interval=0.05))
    assert "".join(text for _, text in deltas) == "".join(TOKENS)
    assert len(deltas) >= len(TOKENS) // 2, len(deltas)


async def test_the_assistants_client_reads_paced(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        chatkit_data_dir=tmp_path,
        openai_api_key="k",
        openai_base_url="http://x/v1",
        chatkit_fast_paths=True,
    )
    client = shared_client(settings).with_options(timeout=5)  # as `AgentRunner` uses it
    try:
        assert isinstance(client._client, PacedAioHttpClient)
        assert isinstance(client._client._transport, PacedAiohttpTransport)
        assert client._client._transport.pacer is PACER
    finally:
        await close_shared_clients()
    # Through a proxy (HTTPS_PROXY and the like) too.
    proxied = PacedAioHttpClient(proxy="http://127.0.0.1:9")
    (transport,) = proxied._mounts.values()
    assert isinstance(transport, PacedAiohttpTransport) and str(transport.proxy.url) == "http://127.0.0.1:9"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior(text="ok"))


async def test_a_streamed_responses_call_sends_the_sdks_body(fake: FakeOpenAI) -> None:
    from openai.types.shared import Reasoning

    params: dict[str, Any] = {
        "model": "m",
        "input": [
            {"role": "user", "type": "message", "content": [{"type": "input_text", "text": "hi é"}]},
            {"role": "assistant", "type": "message", "content": "hello"},
        ],
        "instructions": "Be brief.",
        "tools": [],
        "include": [],
        "reasoning": Reasoning(effort="low"),  # a pydantic model: dumped, unset fields left out
        "metadata": {"k": "v"},
        "temperature": openai.omit,
        "store": False,
        "stream": True,
        "extra_headers": {"X-Extra": "1"},
        "extra_body": {"custom": 1},
    }
    async with openai.AsyncOpenAI(api_key="k", base_url=fake.base_url) as sdk:
        async for _ in await sdk.responses.create(**params):
            pass
    async with FastModelClient(api_key="k", base_url=fake.base_url) as ours:
        async for _ in await ours.responses.create(**params):
            pass
    sdk_request, our_request = fake.requests
    assert our_request.body == sdk_request.body
    assert our_request.headers["x-extra"] == "1" and our_request.headers["authorization"] == "Bearer k"


# --- SSE frames to the client ------------------------------------------------------------


def test_text_delta_frames_are_the_sdks_json() -> None:
    from chatkit.server import ChatKitServer
    from chatkit.types import (
        AssistantMessageContent,
        AssistantMessageContentPartDone,
        AssistantMessageContentPartTextDelta,
        ThreadItemUpdatedEvent,
    )

    from chatkit_app.chatkit_server.server import AppChatKitServer
    from chatkit_app.fast_paths import write_text_deltas_directly

    server = AppChatKitServer.__new__(AppChatKitServer)  # _serialize needs no state
    write_text_deltas_directly(server)
    for delta in ["plain", 'a"\\\n\t\r', "é😀日本</script>", "\u2028\u2029\x00", ""]:
        for item_id in ["msg_1", 'msg_"odd\\']:
            update = AssistantMessageContentPartTextDelta(content_index=3, delta=delta)
            event = ThreadItemUpdatedEvent(item_id=item_id, update=update)
            assert json.loads(server._serialize(event)) == json.loads(ChatKitServer._serialize(server, event))
    done = ThreadItemUpdatedEvent(
        item_id="m", update=AssistantMessageContentPartDone(content_index=0, content=AssistantMessageContent(text="x"))
    )
    assert server._serialize(done) == ChatKitServer._serialize(server, done)  # other events: the SDK's own bytes
