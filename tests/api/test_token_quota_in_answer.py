"""The daily model-token quota holds inside one answer too: an agent's later model calls
(after a tool, a handoff) are checked against the day's tokens plus the answer's so far."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from agents import Agent, function_tool

from chatkit_app.workflows.registry import Workflow
from tests.api.chatkit_client import ChatKitClient, reply_text
from tests.conftest import api_with_workflows, create_session, model_settings
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, ToolRule, running_fake

calls: list[str] = []


@function_tool
def count_stock(sku: str) -> str:
    """How many of an item are left."""
    calls.append(sku)
    return f"{sku}: 3 left"


STOCK = Workflow(id="stock", name="Stock", agent=Agent(name="Stock", instructions="Use the tool.", tools=[count_stock]))


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior(text="Three left.", tool_calls=[ToolRule("count_stock", {"sku": "A1"})]))


@pytest.fixture(params=["responses", "chat_completions"])
async def http(request: pytest.FixtureRequest, fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    # Every model call of the fake reports 10 input tokens and more: a quota of 5 lets an
    # answer start (nothing used today) but not make its second call.
    settings = model_settings(tmp_path, fake.base_url, request.param, chatkit_limit_model_tokens_per_day=5)
    async with api_with_workflows(settings, STOCK) as client:
        yield client


async def test_an_answer_stops_at_the_quota_between_its_model_calls(http: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    stock = ChatKitClient(http, (await create_session(http, user_id="ann", workflow_id="stock"))["token"])
    before = len(fake.requests)
    _, events = await stock.new_thread("how many A1?")
    errors = [e for e in events if e["type"] == "error"]
    assert errors and "model tokens a day" in errors[0]["message"] and errors[0]["allow_retry"] is False
    assert len(fake.requests) - before == 1, "the call after the tool was not made"
    assert calls[-1] == "A1", "the tool the first call asked for ran"
    assert reply_text(events) == ""
    # What the answer used is stored: the next answer is refused before it starts.
    refused = await stock.raw(
        {
            "type": "threads.create",
            "params": {
                "input": {
                    "content": [{"type": "input_text", "text": "again"}],
                    "attachments": [],
                    "inference_options": {},
                }
            },
        }
    )
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "quota_exceeded"
