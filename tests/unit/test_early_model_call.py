"""Early model calls: the streamed Responses call an answer needs goes out before the Agents
SDK asks for it, with the parameters the SDK used last time (learned, never guessed), and
the SDK's own call takes it over only when its parameters are equal; and the bytes that
arrived before a connection was cut are read, not dropped."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import openai
import pytest
from chatkit.server import agents_sdk_user_agent_override
from chatkit.types import InferenceOptions, UserMessageItem, UserMessageTextContent
from sqlalchemy import Engine

from chatkit_app.chatkit_server.server import AppChatKitServer
from chatkit_app.chatkit_server.store import SQLModelStore
from chatkit_app.core.context import RequestContext
from chatkit_app.fast_paths import FastModelClient, close_shared_clients, shared_client
from chatkit_app.fast_paths.pacing import PacedAioHttpClient
from chatkit_app.settings import Settings
from chatkit_app.workflows.agent_runner import AgentRunner
from chatkit_app.workflows.model_inputs import converter_for
from chatkit_app.workflows.openai_agent import assistant_workflow
from chatkit_app.workflows.registry import Workflow, WorkflowRegistry
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, running_fake

CTX = RequestContext(user_id="user-1", session_id="cks_1", workflow_id="assistant")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior(text="Ahoy there, matey."))


def _input(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "type": "message", "content": [{"type": "input_text", "text": text}]}]


def _params(text: str, instructions: str) -> dict[str, Any]:
    return {"model": "m", "input": _input(text), "instructions": instructions, "stream": True}


async def _text(stream: Any) -> str:
    return "".join([event.delta async for event in stream if event.type == "response.output_text.delta"])


async def _settle() -> None:
    await asyncio.sleep(0.2)  # long enough for a request to reach the fake, if one was sent


async def _teach(client: FastModelClient, key: tuple[str, str]) -> None:
    """One answer for `key` the usual way: its call's parameters become the template."""
    client.responses.start_early(key, _input("a"))
    await _text(await client.responses.create(**_params("a", key[1])))


async def test_the_sdks_call_takes_over_the_early_one(fake: FakeOpenAI) -> None:
    key = ("m", secrets.token_hex(4))  # a configuration no other test has taught
    async with FastModelClient(api_key="k", base_url=fake.base_url, max_retries=0) as client:
        client.responses.start_early(key, _input("first"))  # nothing learned yet: nothing sent
        await _settle()
        assert fake.requests == []
        assert await _text(await client.responses.create(**_params("first", key[1]))) == "Ahoy there, matey."
        assert len(fake.requests) == 1

        client.responses.start_early(key, _input("second"))
        await _settle()
        assert len(fake.requests) == 2  # sent before the SDK asks
        assert fake.requests[1].body == {**fake.requests[0].body, "input": _input("second")}
        assert await _text(await client.responses.create(**_params("second", key[1]))) == "Ahoy there, matey."
        assert len(fake.requests) == 2  # taken over: not sent twice


async def test_an_early_call_unlike_the_sdks_is_dropped_for_good(fake: FakeOpenAI) -> None:
    key = ("m", secrets.token_hex(4))
    async with FastModelClient(api_key="k", base_url=fake.base_url, max_retries=0) as client:
        await _teach(client, key)
        client.responses.start_early(key, _input("b"))
        await _settle()
        other = {**_params("b", key[1]), "temperature": 0.5}  # the SDK asks for something else
        assert await _text(await client.responses.create(**other)) == "Ahoy there, matey."
        assert [r.body.get("temperature") for r in fake.requests] == [None, None, 0.5]  # the SDK's own call
        client.responses.start_early(key, _input("c"))  # this configuration gets no more early calls
        await _settle()
        assert len(fake.requests) == 3
        await client.responses.create(**_params("c", key[1]))


async def test_an_early_call_nobody_takes_over_is_closed(fake: FakeOpenAI) -> None:
    key = ("m", secrets.token_hex(4))
    async with FastModelClient(api_key="k", base_url=fake.base_url, max_retries=0) as client:
        await _teach(client, key)
        client.responses.start_early(key, _input("b"))
        await _settle()
        await client.responses.close_early()  # e.g. the run failed before calling the model
        await client.responses.close_early()  # idempotent
        assert len(fake.requests) == 2


async def test_headers_the_sdk_is_told_to_add_are_part_of_the_configuration(fake: FakeOpenAI) -> None:
    key = ("m", secrets.token_hex(4))
    async with FastModelClient(api_key="k", base_url=fake.base_url, max_retries=0) as client:
        with agents_sdk_user_agent_override():
            client.responses.start_early(key, _input("a"))
            await _text(await client.responses.create(**_params("a", key[1])))
        client.responses.start_early(key, _input("b"))  # outside ChatKit: learned separately
        await _settle()
        assert len(fake.requests) == 1
        await client.responses.create(**_params("b", key[1]))


async def _silent_model(closed: asyncio.Event | None = None) -> tuple[asyncio.Server, str, asyncio.Event]:
    """A model server that reads a request and never answers; `closed` is set when a
    client hangs up."""
    received = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await read(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if closed is not None:
                closed.set()
            writer.close()

    async def read(reader: asyncio.StreamReader) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        received.set()
        await reader.read()  # until the client hangs up

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1", received


async def test_an_answer_waits_for_its_early_call_to_be_sent_not_answered(fake: FakeOpenAI) -> None:
    """`early_call_sent` returns once the request is on the socket (the server has all of
    it), long before any answer; at once without an early call; and when a call fails.
    Copies of a client (`with_options`) share what it learned."""
    key = ("m", secrets.token_hex(4))
    async with FastModelClient(
        api_key="k", base_url=fake.base_url, max_retries=0, http_client=PacedAioHttpClient()
    ) as c:
        await c.responses.early_call_sent(at_most=5)  # no early call: returns at once
        await _teach(c, key)
        server, silent_url, received = await _silent_model()
        loop = asyncio.get_running_loop()
        client = c.with_options(base_url=silent_url)
        assert client.responses.start_early(key, _input("b"))
        began = loop.time()
        await client.responses.early_call_sent(at_most=5)
        assert loop.time() - began < 2
        await asyncio.wait_for(received.wait(), 2)  # all of it: the server read the whole body
        await client.responses.close_early()
        server.close()
        await server.wait_closed()

        gone = c.with_options(base_url=silent_url)
        assert gone.responses.start_early(key, _input("c"))  # nobody listens there any more
        began = loop.time()
        await gone.responses.early_call_sent(at_most=5)
        assert loop.time() - began < 2
        await gone.responses.close_early()


async def test_a_request_that_goes_away_while_its_early_call_is_sent_closes_it(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    closed = asyncio.Event()
    server, silent_url, _ = await _silent_model(closed)
    settings = Settings(
        _env_file=None,
        chatkit_fast_paths=True,
        chatkit_data_dir=tmp_path,
        openai_api_key="k",
        openai_base_url=silent_url,
        chatkit_model="m",
        chatkit_instructions=f"Answer briefly {secrets.token_hex(4)}.",
    )
    agent = AgentRunner(settings, assistant_workflow(settings))
    message = UserMessageItem(
        id="msg_1",
        thread_id="thr_1",
        created_at=datetime.now(),
        content=[UserMessageTextContent(text="hello")],
        inference_options=InferenceOptions(),
    )
    model_input = await converter_for(None, settings).to_agent_input([message])
    # The agent's shared client learns the call's parameters from one answer by the fake.
    teacher = shared_client(settings).with_options(base_url=fake.base_url)
    with agents_sdk_user_agent_override():  # as the agent's early calls are made
        teacher.responses.start_early(agent._early_key(None), model_input)
        params = {"model": "m", "input": model_input, "instructions": settings.chatkit_instructions}
        await _text(await teacher.responses.create(**params, stream=True))
    try:
        starting = asyncio.ensure_future(agent.start_early(message))
        await asyncio.sleep(0)  # it has made its early call and waits for it to be sent
        starting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await starting
        # The call is closed, not left open on an unread connection.
        await asyncio.wait_for(closed.wait(), 2)
    finally:
        await close_shared_clients()
        server.close()
        await server.wait_closed()


def _server(store: SQLModelStore, fake: FakeOpenAI, tmp_path: Path) -> AppChatKitServer:
    """Our ChatKit server with the OpenAI agent, its instructions new to this process."""
    settings = Settings(
        _env_file=None,
        chatkit_fast_paths=True,
        chatkit_data_dir=tmp_path / "data",
        openai_api_key="sk-test",
        openai_base_url=fake.base_url,
        chatkit_model="fake-model-1",
        chatkit_instructions=f"Answer like a pirate {secrets.token_hex(4)}.",
    )
    agent = AgentRunner(settings, assistant_workflow(settings))
    registry = WorkflowRegistry()
    registry.register(Workflow(id="assistant", name="Assistant", chat_agent=lambda: agent))
    return AppChatKitServer(store, registry)


async def _new_thread(server: AppChatKitServer, text: str) -> bytes:
    """The streamed body of a `threads.create` with `text`."""
    content = [{"type": "input_text", "text": text}]
    params = {"input": {"content": content, "attachments": [], "inference_options": {}}}
    result = await server.process(json.dumps({"type": "threads.create", "params": params}), CTX)
    return b"".join([chunk async for chunk in result])  # type: ignore[union-attr]


async def test_answers_through_chatkit_each_cost_one_model_call(
    fake: FakeOpenAI, engine: Engine, tmp_path: Path
) -> None:
    server = _server(SQLModelStore(engine), fake, tmp_path)
    for text in ("One?", "Two?", "Three?"):
        body = await _new_thread(server, text)
        assert b"Ahoy there, matey." in body and b'"type":"error"' not in body
    assert [r.body["input"][0]["content"][0]["text"] for r in fake.requests] == ["One?", "Two?", "Three?"]
    first = fake.requests[0]
    assert all({**r.body, "input": first.body["input"]} == first.body for r in fake.requests)
    assert all(r.headers["user-agent"] == first.headers["user-agent"] for r in fake.requests)


async def test_bytes_that_arrived_before_a_cut_are_read(tmp_path: Path) -> None:
    """The whole answer and the cut are in before the first read: every delta sent is read,
    then the failure."""
    tokens = [f"t{n} " for n in range(8)]
    for fake in running_fake(FakeBehavior(text="".join(tokens), tokens=8, cut_after=5)):
        http = PacedAioHttpClient()  # the assistant's transport
        async with FastModelClient(api_key="k", base_url=fake.base_url, max_retries=0, http_client=http) as client:
            stream = await client.responses.create(**_params("hi", "x"))
            await _settle()
            seen: list[str] = []
            with pytest.raises(openai.APIConnectionError):
                async for event in stream:
                    if event.type == "response.output_text.delta":
                        seen.append(event.delta)
            assert "".join(seen) == "".join(tokens[:5])


class _SeeingStore(SQLModelStore):
    """A real store that notes how many model calls the fake had received (a moment after)
    each time a thread is saved."""

    fake: FakeOpenAI
    calls_seen_at_save: list[int]

    async def save_thread(self, thread: Any, context: RequestContext) -> None:
        await asyncio.sleep(0.2)
        self.calls_seen_at_save.append(len(self.fake.requests))
        await super().save_thread(thread, context)


async def test_a_new_threads_model_call_goes_out_before_the_thread_is_saved(
    fake: FakeOpenAI, engine: Engine, tmp_path: Path
) -> None:
    store = _SeeingStore(engine)
    store.fake, store.calls_seen_at_save = fake, []
    server = _server(store, fake, tmp_path)
    for text in ("One?", "Two?"):
        assert b"Ahoy there, matey." in await _new_thread(server, text)
    # The first answer teaches the call's parameters; the second's call is out before its
    # thread is saved (the thread's save comes first, then the title at the end).
    assert store.calls_seen_at_save[0] == 0 and store.calls_seen_at_save[2] == 2, store.calls_seen_at_save
    assert len(fake.requests) == 2


async def test_a_call_tied_to_a_conversation_is_never_a_template(fake: FakeOpenAI) -> None:
    """A call naming a stored conversation (or one user's data) at the model server must not
    be repeated for the next answer, which may be another user's."""
    key = ("m", secrets.token_hex(4))
    async with FastModelClient(api_key="k", base_url=fake.base_url, max_retries=0) as client:
        client.responses.start_early(key, _input("a"))
        await _text(await client.responses.create(**_params("a", key[1]), previous_response_id="resp_of_alice"))
        client.responses.start_early(key, _input("b"))
        await _settle()
        assert len(fake.requests) == 1  # nothing was learned, nothing sent early
        await client.responses.create(**_params("b", key[1]))
        assert "previous_response_id" not in fake.requests[1].body


async def test_an_agent_with_tools_and_handoffs_has_its_early_call_taken_over(fake: FakeOpenAI) -> None:
    """The Agents SDK's call for an agent with a function tool and a handoff (the model
    calls neither) is learned from the first run, sent early for the second and taken
    over: one request per run, the tools in both."""
    from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool

    @function_tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"Sunny in {city}."

    specialist = Agent(name="specialist", instructions="Answer questions about billing.")
    key = ("m", secrets.token_hex(4))
    sent_early = []
    async with FastModelClient(api_key="k", base_url=fake.base_url, max_retries=0) as shared:
        for text in ("first", "second"):
            client = shared.with_options(timeout=5)  # one copy per answer, as the agent does
            model_input = _input(text)
            sent_early.append(client.responses.start_early(key, model_input))
            model = OpenAIResponsesModel(model="m", openai_client=client)
            agent = Agent(name="triage", instructions=key[1], model=model, tools=[weather], handoffs=[specialist])
            result = Runner.run_streamed(agent, model_input, run_config=RunConfig(tracing_disabled=True))
            async for _ in result.stream_events():
                pass
            await client.responses.close_early()
            assert result.final_output == "Ahoy there, matey."
    assert sent_early == [False, True]
    assert len(fake.requests) == 2
    first, second = (request.body for request in fake.requests)
    assert {tool["name"] for tool in first["tools"]} == {"weather", "transfer_to_specialist"}
    assert {**second, "input": first["input"]} == first
