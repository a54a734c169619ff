"""The example Agent Builder-style export (examples/agent_builder_export/support_workflow.py)
run against the loopback fake model: its own `run_workflow` entry point, and its
`triage_agent` streamed by a plain `Runner.run_streamed`, in both OpenAI APIs. The handoff,
the specialist's tool and the guardrail are the module's own; nothing is mocked."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from agents import InputGuardrailTripwireTriggered, OpenAIProvider, RunConfig, Runner
from agents.handoffs import Handoff

from examples.agent_builder_export import support_workflow as export
from tests.fakes.openai_server import TOOL_OUTPUT, FakeBehavior, FakeOpenAI, ToolRule, running_fake

APIS = ["responses", "chat_completions"]
TIMEOUT = 10.0
ROOT = Path(__file__).resolve().parents[2]
TO_BILLING = Handoff.default_tool_name(export.billing_agent)
TO_TECH = Handoff.default_tool_name(export.technical_agent)
# What a model would do with this desk: route by topic, then look the order up.
RULES = [
    ToolRule(TO_BILLING, when="invoice"),
    ToolRule(TO_TECH, when="won't start"),
    ToolRule("lookup_order", {"order_id": "A-1001"}),
]
CARD = "4242 4242 4242 4242"  # a Luhn-valid test card number


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior(text=f"From our records: {TOOL_OUTPUT}", tool_calls=RULES))


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="x", max_retries=0) as client:
        yield client


def config(client: openai.AsyncOpenAI, api: str = "responses") -> RunConfig:
    provider = OpenAIProvider(openai_client=client, use_responses=api == "responses")
    return RunConfig(model_provider=provider, tracing_disabled=True)


async def stream(client: openai.AsyncOpenAI, api: str, text: str) -> Any:
    result = Runner.run_streamed(export.triage_agent, text, run_config=config(client, api))

    async def drain() -> None:
        async for _ in result.stream_events():
            pass

    await asyncio.wait_for(drain(), TIMEOUT)
    return result


def instructions_seen(body: dict[str, Any]) -> str:
    """The system prompt as the fake received it (Responses `instructions` or a system message)."""
    if "instructions" in body:
        return str(body["instructions"])
    return str(next(m["content"] for m in body["messages"] if m["role"] == "system"))


def test_imports_without_network_or_api_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env |= {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    code = (
        "from examples.agent_builder_export.support_workflow import triage_agent, run_workflow, WorkflowInput;"
        "print(triage_agent.name, [a.name for a in triage_agent.handoffs])"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Triage agent ['Billing agent', 'Technical support agent']"


async def test_run_workflow_hands_a_billing_question_to_billing_which_looks_the_order_up(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    question = export.WorkflowInput(input_as_text="My invoice for order A-1001: where is the parcel?")

    answer = await asyncio.wait_for(export.run_workflow(question, run_config=config(client)), TIMEOUT)

    record = "Order A-1001: status: shipped; carrier: Parcelway; eta: 2026-12-04; total: 42.50 EUR"
    assert answer == {"output_text": f"From our records: {record}", "answered_by": "Billing agent"}
    triage, billing, after_tool = (r.body for r in fake.requests)
    assert [b["model"] for b in (triage, billing, after_tool)] == [export.MODEL] * 3
    assert triage["instructions"] == export.triage_agent.instructions
    assert billing["instructions"] == after_tool["instructions"] == export.billing_agent.instructions
    assert (triage["temperature"], triage["max_output_tokens"]) == (0.0, 300)
    assert (billing["temperature"], billing["max_output_tokens"]) == (0.2, 600)
    assert [t["name"] for t in billing["tools"]] == ["lookup_order"]


@pytest.mark.parametrize("api", APIS)
async def test_streamed_triage_routes_each_topic_to_its_specialist(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, api: str
) -> None:
    billing = await stream(client, api, "Is my invoice for A-1001 paid and where is it?")

    assert billing.last_agent is export.billing_agent
    assert billing.final_output.startswith("From our records: Order A-1001: status: shipped")
    bodies = [r.body for r in fake.requests]
    assert [instructions_seen(b) for b in bodies] == [
        export.triage_agent.instructions,
        export.billing_agent.instructions,
        export.billing_agent.instructions,
    ]

    fake.requests.clear()
    tech = await stream(client, api, "My router won't start after the update.")

    assert tech.last_agent is export.technical_agent
    assert tech.final_output == f"From our records: {json.dumps({'assistant': 'Technical support agent'})}"
    assert [instructions_seen(r.body) for r in fake.requests] == [
        export.triage_agent.instructions,
        export.technical_agent.instructions,
    ]


async def test_an_unknown_order_is_answered_from_the_tool(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.behavior.tool_calls = [ToolRule(TO_BILLING), ToolRule("lookup_order", {"order_id": " z-9 "})]

    result = await stream(client, "responses", "Where is my order?")

    assert "No order Z-9 exists" in result.final_output


@pytest.mark.parametrize("api", APIS)
async def test_guardrail_refuses_a_card_number_before_any_model_call(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, api: str
) -> None:
    with pytest.raises(InputGuardrailTripwireTriggered) as tripped:
        await stream(client, api, f"Please charge my invoice to {CARD}, thanks")

    assert tripped.value.guardrail_result.output.output_info == {"card_number_found": True}
    assert fake.requests == []

    question = export.WorkflowInput(input_as_text=f"Card: {CARD.replace(' ', '-')}")
    with pytest.raises(InputGuardrailTripwireTriggered):
        await asyncio.wait_for(export.run_workflow(question, run_config=config(client, api)), TIMEOUT)
    assert fake.requests == []


@pytest.mark.parametrize(
    "text",
    ["Order A-1001 please", "Tracking 4242 4242 4242 4241 for my invoice", "Call me on +49 30 1234 5678", "12345"],
)
async def test_guardrail_lets_other_numbers_through(fake: FakeOpenAI, client: openai.AsyncOpenAI, text: str) -> None:
    result = await stream(client, "responses", text)

    assert result.final_output.startswith("From our records:") and fake.requests
