"""Agents the benchmarks run as workflow `assistant` (`CHATKIT_WORKFLOW_MODULES=
assistant=bench.tool_agents:<name>`): the built-in assistant's instructions, plus tools."""

from __future__ import annotations

from typing import Any

from agents import Agent, function_tool

from bench._apps import TOOL_NAME
from chatkit_app.settings import get_settings


@function_tool
async def weather(city: str) -> str:
    """Today's weather in a city."""
    return f"{city}: sunny"


@function_tool
async def convert_currency(amount: float, source: str, target: str) -> str:
    """Converts an amount between currencies."""
    return f"{amount} {source} = {amount} {target}"


@function_tool
async def search_notes(query: str) -> str:
    """Searches the user's notes."""
    return f"no notes match {query!r}"


@function_tool(name_override=TOOL_NAME)
async def bench_lookup(query: str) -> str:
    """Looks a query up (the bench's fake model calls it once per answer)."""
    return f"found {query}"


def _agent(tools: list[Any]) -> Agent[Any]:
    settings = get_settings()
    return Agent(
        name="assistant", instructions=settings.chatkit_instructions, model=settings.chatkit_model, tools=tools
    )


# Three tools the model does not call: the cost of carrying them.
three_tools = _agent([weather, convert_currency, search_notes])
# One tool the fake model calls once per answer: the cost of a tool round.
one_lookup = _agent([bench_lookup])
