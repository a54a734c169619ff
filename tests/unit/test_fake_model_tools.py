"""The loopback fake model answers with function calls (`FakeBehavior.tool_calls`) in the
shapes OpenAI streams, so a plain `agents.Runner.run_streamed` runs the tool or the
handoff and calls the model again. Both APIs; nothing of ours is mocked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest
from agents import Agent, Model, OpenAIChatCompletionsModel, OpenAIResponsesModel, RunConfig, Runner, function_tool
from agents.handoffs import Handoff
from agents.result import RunResultStreaming
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseFunctionToolCall, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.fakes.openai_server import TOOL_OUTPUT, FakeBehavior, FakeOpenAI, ToolRule, running_fake

APIS = ["responses", "chat_completions"]
NO_TRACING = RunConfig(tracing_disabled=True)
TIMEOUT = 10.0


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake()


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="x", max_retries=0) as client:
        yield client


def model_for(client: openai.AsyncOpenAI, api: str) -> Model:
    if api == "responses":
        return OpenAIResponsesModel("fake-model", client)
    return OpenAIChatCompletionsModel("fake-model", client)


class Ledger:
    """A real function tool that records its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

        @function_tool
        def lookup_order(order_id: str) -> str:
            """Look up an order by id."""
            self.calls.append(order_id)
            return f"order {order_id} shipped on {len(self.calls)}. December"

        self.tool = lookup_order


async def run(agent: Agent[Any], text: str | list[Any]) -> RunResultStreaming:
    result = Runner.run_streamed(agent, text, run_config=NO_TRACING)

    async def drain() -> None:
        async for _ in result.stream_events():
            pass

    await asyncio.wait_for(drain(), TIMEOUT)
    return result


def sent_calls(body: dict[str, Any]) -> list[str]:
    """Names of the function calls the request's input carries (either API)."""
    items = body.get("input") or body.get("messages") or []
    names = [i["name"] for i in items if i.get("type") == "function_call"]
    return names + [c["function"]["name"] for i in items for c in i.get("tool_calls") or []]


@pytest.mark.parametrize("api", APIS)
async def test_function_tool_runs_and_its_output_reaches_the_model(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, api: str
) -> None:
    ledger = Ledger()
    fake.behavior = FakeBehavior(
        text=f"Here it is: {TOOL_OUTPUT}", tool_calls=[ToolRule("lookup_order", {"order_id": "A-1001"})]
    )
    agent = Agent(name="clerk", instructions="Look orders up.", tools=[ledger.tool], model=model_for(client, api))

    result = await run(agent, "Where is order A-1001?")

    assert ledger.calls == ["A-1001"]
    assert result.final_output == "Here it is: order A-1001 shipped on 1. December"
    assert len(fake.requests) == 2
    assert sent_calls(fake.requests[0].body) == [] and sent_calls(fake.requests[1].body) == ["lookup_order"]


@pytest.mark.parametrize("api", APIS)
async def test_handoff_then_the_specialists_tool_then_text(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, api: str
) -> None:
    ledger = Ledger()
    model = model_for(client, api)
    billing = Agent(name="Billing", instructions="You handle invoices.", tools=[ledger.tool], model=model)
    tech = Agent(name="Tech", instructions="You fix devices.", model=model)
    triage = Agent(name="Triage", instructions="Route the user.", handoffs=[billing, tech], model=model)
    transfer = Handoff.default_tool_name(billing)
    fake.behavior = FakeBehavior(
        text=f"Billing says: {TOOL_OUTPUT}",
        tool_calls=[
            ToolRule(Handoff.default_tool_name(tech), when="router"),
            ToolRule(transfer, when="invoice"),
            ToolRule("lookup_order", {"order_id": "B-7"}),
        ],
    )

    result = await run(triage, "My invoice for order B-7 looks wrong.")

    assert result.last_agent is billing
    assert ledger.calls == ["B-7"]
    assert result.final_output == "Billing says: order B-7 shipped on 1. December"
    assert [sent_calls(r.body) for r in fake.requests] == [[], [transfer], [transfer, "lookup_order"]]
    seen = [json.dumps(r.body) for r in fake.requests]
    assert "Route the user." in seen[0] and all("You handle invoices." in s for s in seen[1:])


@pytest.mark.parametrize("api", APIS)
async def test_when_reads_only_the_latest_user_message_and_calls_reset_each_turn(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, api: str
) -> None:
    ledger = Ledger()
    agent = Agent(name="clerk", instructions="Look orders up.", tools=[ledger.tool], model=model_for(client, api))
    fake.behavior = FakeBehavior(text="Done.", tool_calls=[ToolRule("lookup_order", {"order_id": "C-3"}, when="ORDER")])

    first = await run(agent, "Where is my order?")
    assert ledger.calls == ["C-3"] and first.final_output == "Done."

    chat = await run(agent, [*first.to_input_list(), {"role": "user", "content": "Thanks, bye."}])
    assert ledger.calls == ["C-3"] and chat.final_output == "Done."  # the earlier message mentioned an order

    again = await run(agent, [*chat.to_input_list(), {"role": "user", "content": "And my other order?"}])
    assert ledger.calls == ["C-3", "C-3"] and again.final_output == "Done."  # new turn: may call again
    assert len(fake.requests) == 5


@pytest.mark.parametrize("api", APIS)
async def test_a_rule_for_a_tool_not_offered_never_fires(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, api: str
) -> None:
    fake.behavior = FakeBehavior(text="Plain answer.", tool_calls=[ToolRule("lookup_order", {"order_id": "X"})])
    agent = Agent(name="plain", instructions="Talk.", model=model_for(client, api))

    result = await run(agent, "Where is my order?")

    assert result.final_output == "Plain answer." and len(fake.requests) == 1


@pytest.mark.parametrize("api", APIS)
async def test_parallel_calls_come_in_one_answer(fake: FakeOpenAI, client: openai.AsyncOpenAI, api: str) -> None:
    ledger = Ledger()
    seen: list[str] = []

    @function_tool
    def check_stock(sku: str) -> str:
        """Stock for a product."""
        seen.append(sku)
        return "3 left"

    fake.behavior = FakeBehavior(
        text="Both checked.",
        parallel_tool_calls=True,
        tool_calls=[ToolRule("lookup_order", {"order_id": "D-4"}), ToolRule("check_stock", {"sku": "KB-1"})],
    )
    agent = Agent(name="clerk", instructions="Help.", tools=[ledger.tool, check_stock], model=model_for(client, api))

    result = await run(agent, "Order D-4 and keyboard stock?")

    assert (ledger.calls, seen, result.final_output) == (["D-4"], ["KB-1"], "Both checked.")
    assert len(fake.requests) == 2 and sent_calls(fake.requests[1].body) == ["lookup_order", "check_stock"]


@pytest.mark.parametrize("api", APIS)
async def test_not_streamed_runs_get_whole_answers(fake: FakeOpenAI, client: openai.AsyncOpenAI, api: str) -> None:
    ledger = Ledger()
    fake.behavior = FakeBehavior(text=f"Got {TOOL_OUTPUT}", tool_calls=[ToolRule("lookup_order", {"order_id": "F-6"})])
    agent = Agent(name="clerk", instructions="Look orders up.", tools=[ledger.tool], model=model_for(client, api))

    result = await asyncio.wait_for(Runner.run(agent, "Order F-6?", run_config=NO_TRACING), TIMEOUT)

    assert (ledger.calls, result.final_output) == (["F-6"], "Got order F-6 shipped on 1. December")
    assert len(fake.requests) == 2 and not any(r.body.get("stream") for r in fake.requests)


async def test_whole_answers_validate_as_openai_objects(fake: FakeOpenAI) -> None:
    fake.behavior = FakeBehavior(text="Plain.", tool_calls=[RULE])
    async with httpx.AsyncClient(base_url=fake.base_url, timeout=TIMEOUT) as http:
        called = (await http.post("/responses", json={"model": "m", "input": "hi", "tools": TOOLS})).json()
        plain = (await http.post("/responses", json={"model": "m", "input": "hi"})).json()
        tools = [{"type": "function", "function": {"name": "lookup_order", "parameters": {}}}]
        messages = [{"role": "user", "content": "hi"}]
        chat = (await http.post("/chat/completions", json={"model": "m", "messages": messages, "tools": tools})).json()

    (call,) = Response.model_validate(called).output
    assert isinstance(call, ResponseFunctionToolCall) and call.arguments == RULE.arguments_json()
    assert Response.model_validate(plain).output_text == "Plain."
    completion = ChatCompletion.model_validate(chat)
    assert completion.choices[0].finish_reason == "tool_calls"
    (tool_call,) = completion.choices[0].message.tool_calls or []
    assert tool_call.type == "function" and tool_call.function.name == "lookup_order"


async def raw_stream(fake: FakeOpenAI, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=fake.base_url, timeout=TIMEOUT) as http:
        response = await http.post(path, json=body)
    datas = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    return [json.loads(d) for d in datas if d != "[DONE]"]


TOOLS = [{"type": "function", "name": "lookup_order", "parameters": {"type": "object", "properties": {}}}]
RULE = ToolRule("lookup_order", {"order_id": "E-5", "note": "a longer argument to split"})


async def test_responses_stream_validates_as_openai_event_types(fake: FakeOpenAI) -> None:
    fake.behavior = FakeBehavior(tool_calls=[RULE])
    frames = await raw_stream(fake, "/responses", {"model": "m", "stream": True, "input": "hi", "tools": TOOLS})

    events = [TypeAdapter(ResponseStreamEvent).validate_python(f) for f in frames]

    kinds = [e.type for e in events]
    deltas = [f["delta"] for f in frames if f["type"] == "response.function_call_arguments.delta"]
    assert len(deltas) > 1 and kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        *["response.function_call_arguments.delta"] * len(deltas),
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [f["sequence_number"] for f in frames] == list(range(len(frames)))
    assert "".join(deltas) == RULE.arguments_json() == frames[-3]["arguments"]
    (item,) = frames[-1]["response"]["output"]
    assert item == frames[-2]["item"] and frames[2]["item"]["id"] == item["id"] == frames[3]["item_id"]
    assert (item["type"], item["name"], item["status"], item["arguments"]) == (
        "function_call",
        "lookup_order",
        "completed",
        RULE.arguments_json(),
    )
    assert item["call_id"].startswith("call_") and frames[2]["item"]["arguments"] == ""


async def test_chat_stream_validates_as_openai_chunks(fake: FakeOpenAI) -> None:
    fake.behavior = FakeBehavior(tool_calls=[RULE])
    tools = [{"type": "function", "function": {"name": "lookup_order", "parameters": {}}}]
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}], "tools": tools}
    body["stream_options"] = {"include_usage": True}
    frames = await raw_stream(fake, "/chat/completions", body)

    chunks = [ChatCompletionChunk.model_validate(f) for f in frames]

    *streamed, last, usage = chunks
    first_call = streamed[0].choices[0].delta.tool_calls
    assert first_call and first_call[0].id and first_call[0].function and first_call[0].function.name == "lookup_order"
    calls = [call for c in streamed for call in c.choices[0].delta.tool_calls or []]
    assert {call.index for call in calls} == {0} and len(calls) > 2
    assert "".join(call.function.arguments or "" for call in calls if call.function) == RULE.arguments_json()
    assert last.choices[0].finish_reason == "tool_calls" and not usage.choices and usage.usage
