"""A user's answers being written at once are capped (CHATKIT_LIMIT_ANSWERS_IN_FLIGHT): each
holds memory and a model stream, which the per-minute message limit does not bound."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from chatkit_app.api.app import create_api
from chatkit_app.fast_paths import close_shared_clients
from chatkit_app.limits.in_flight import AnswersInFlight
from chatkit_app.services import Services, build_services
from tests.api.chatkit_client import ChatKitClient, reply_text, user_input
from tests.conftest import model_settings
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, running_fake


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior(text="one two three four", delay=0.2))


@pytest.fixture
async def app(fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    settings = model_settings(tmp_path, fake.base_url, chatkit_limit_answers_in_flight=2)
    services = build_services(settings, production=False)
    transport = httpx.ASGITransport(app=create_api(lambda: services))
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=30) as http:
        yield services, http
    await close_shared_clients()
    services.close()


async def test_a_third_answer_at_once_is_refused_and_the_others_finish(
    app: tuple[Services, httpx.AsyncClient],
) -> None:
    services, http = app
    ann = await ChatKitClient.for_user(http, "ann")
    bob = await ChatKitClient.for_user(http, "bob")
    request = {"type": "threads.create", "params": {"input": user_input("hi")}}
    first, second = (asyncio.create_task(ann.raw(request)) for _ in range(2))

    async def both_writing() -> None:
        while services.chatkit.in_flight.running("ann") < 2:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(both_writing(), 10)
    third = await ann.raw(request)
    assert third.status_code == 429 and third.json()["error"]["code"] == "too_many_answers"
    assert "wait until one is finished" in third.json()["error"]["message"]
    _, others = await bob.new_thread("hi")  # another user is not held up
    assert reply_text(others) == "one two three four"
    for answer in await asyncio.gather(first, second):
        assert answer.status_code == 200 and "one two three four" in answer.text.replace('"delta":"', "")
    assert services.chatkit.in_flight.running("ann") == 0
    _, again = await ann.new_thread("hi")
    assert reply_text(again) == "one two three four"


def test_an_answer_never_read_still_frees_its_place() -> None:
    in_flight = AnswersInFlight(1)

    async def body() -> AsyncIterator[bytes]:
        yield b"never read"

    held = in_flight.holding(body(), in_flight.enter("ann"))
    assert in_flight.running("ann") == 1
    del held
    gc.collect()
    assert in_flight.running("ann") == 0
    in_flight.enter("ann")  # the place is free again
