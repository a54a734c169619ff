"""A support-desk workflow in the shape of an Agent Builder "Export -> Agents SDK (Python)" file.

Agent Builder was retired on 2026-11-30; its export is an Agents SDK module like this one:
agents at module level, a Pydantic `WorkflowInput`, and an async `run_workflow` entry point
that builds the conversation and calls `Runner.run`. This one is our own example (made-up
shop, made-up orders) for the docs and the tests: a triage agent hands off to a billing or a
technical-support specialist, billing has one function tool (`lookup_order`), and an input
guardrail refuses card numbers before any model sees them.

Importing it needs no network and no API key: the models are named, not called, until a
runner (ours, or `run_workflow`) resolves them through its model provider.
To serve it, point the site at `examples.agent_builder_export.support_workflow:triage_agent`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from agents import (
    Agent,
    GuardrailFunctionOutput,
    ModelSettings,
    RunConfig,
    RunContextWrapper,
    Runner,
    TResponseInputItem,
    function_tool,
    input_guardrail,
    trace,
)
from agents.extensions.handoff_prompt import RECOMMENDED_PROMPT_PREFIX
from pydantic import BaseModel

WORKFLOW_NAME = "Northwind support desk"
WORKFLOW_ID = "wf_example_northwind_support"  # an export carries its workflow's id; this one is made up
MODEL = "gpt-4.1-mini"

# Stand-in for the shop's order system: the tool reads this, never a network service.
ORDERS: dict[str, dict[str, str]] = {
    "A-1001": {"status": "shipped", "carrier": "Parcelway", "eta": "2026-12-04", "total": "42.50 EUR"},
    "A-1002": {"status": "refunded", "refunded_on": "2026-11-21", "total": "19.90 EUR"},
    "A-1003": {"status": "awaiting payment", "due": "2026-12-10", "total": "128.00 EUR"},
}


@function_tool
def lookup_order(order_id: str) -> str:
    """Look up one order in the shop's order system.

    Args:
        order_id: The order number as the customer gives it, like A-1001.
    """
    key = order_id.strip().upper()
    order = ORDERS.get(key)
    if order is None:
        return f"No order {key} exists. Ask the customer to check the number in their confirmation email."
    return f"Order {key}: " + "; ".join(f"{field}: {value}" for field, value in order.items())


# 13 to 19 digits, optionally grouped by single spaces or dashes, as people type card numbers.
_CARD_CANDIDATE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")


def _passes_luhn(digits: str) -> bool:
    """The checksum every payment card number satisfies; it keeps long order or phone numbers out."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    candidates = (re.sub(r"[ -]", "", match.group()) for match in _CARD_CANDIDATE.finditer(text))
    return any(_passes_luhn(digits) for digits in candidates)


def _latest_user_text(agent_input: str | list[TResponseInputItem]) -> str:
    if isinstance(agent_input, str):
        return agent_input
    for item in reversed(agent_input):
        if isinstance(item, dict) and item.get("role") == "user":
            content: Any = item.get("content")
            if isinstance(content, str):
                return content
            return " ".join(part.get("text", "") for part in content or [] if isinstance(part, dict))
    return ""


@input_guardrail(name="Card number filter", run_in_parallel=False)
def card_number_guardrail(
    context: RunContextWrapper[Any], agent: Agent[Any], agent_input: str | list[TResponseInputItem]
) -> GuardrailFunctionOutput:
    """Trips on a card number in the customer's latest message. No model call: it runs before
    the triage agent (`run_in_parallel=False`), so a refused message never reaches a model."""
    found = contains_card_number(_latest_user_text(agent_input))
    return GuardrailFunctionOutput(output_info={"card_number_found": found}, tripwire_triggered=found)


billing_agent = Agent(
    name="Billing agent",
    handoff_description="Invoices, payments, refunds and where an order is.",
    instructions=(
        "You are the billing specialist of the Northwind online shop. Look an order up with "
        "lookup_order before you say anything about it, and quote its status, dates and total "
        "exactly. Never ask for or repeat card numbers: payments are changed in the customer's "
        "account page. Keep answers to three sentences."
    ),
    model=MODEL,
    model_settings=ModelSettings(temperature=0.2, max_tokens=600, tool_choice="auto"),
    tools=[lookup_order],
)

technical_agent = Agent(
    name="Technical support agent",
    handoff_description="Devices that do not start, connect or update; the website and app.",
    instructions=(
        "You are the technical support specialist of the Northwind online shop. Ask for the "
        "product and what the customer already tried, then give numbered steps, one action each. "
        "If the device is faulty after those steps, explain how to start a return."
    ),
    model=MODEL,
    model_settings=ModelSettings(temperature=0.3, max_tokens=800),
)

triage_agent = Agent(
    name="Triage agent",
    instructions=(
        f"{RECOMMENDED_PROMPT_PREFIX}\n"
        "You greet customers of the Northwind online shop and route them. Hand off questions "
        "about money, invoices, refunds or an order's whereabouts to the billing agent, and "
        "problems with a device, the website or the app to the technical support agent. "
        "Answer small talk yourself in one sentence."
    ),
    model=MODEL,
    model_settings=ModelSettings(temperature=0.0, max_tokens=300),
    handoffs=[billing_agent, technical_agent],
    input_guardrails=[card_number_guardrail],
)


class WorkflowInput(BaseModel):
    input_as_text: str


async def run_workflow(workflow_input: WorkflowInput, *, run_config: RunConfig | None = None) -> dict[str, str]:
    """The export's entry point: one customer message in, the answering agent's text out.

    `run_config` is our addition (the export has none): a host passes its model provider and
    tracing choice there; the workflow's name and trace metadata are set either way.
    Raises `agents.InputGuardrailTripwireTriggered` when the message holds a card number.
    """
    metadata = {"__trace_source__": "agent-builder", "workflow_id": WORKFLOW_ID}
    config = replace(run_config or RunConfig(), workflow_name=WORKFLOW_NAME, trace_metadata=metadata)
    with trace(WORKFLOW_NAME, metadata=metadata, disabled=config.tracing_disabled):
        conversation: list[TResponseInputItem] = [
            {"role": "user", "content": [{"type": "input_text", "text": workflow_input.input_as_text}]}
        ]
        result = await Runner.run(triage_agent, input=conversation, run_config=config)
        return {"output_text": result.final_output_as(str), "answered_by": result.last_agent.name}
