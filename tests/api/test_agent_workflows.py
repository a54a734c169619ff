"""Any Agents SDK agent as a workflow, over HTTP against the loopback fake model: per-user
agents from a factory, the models a workflow offers (and refuses)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents import Agent

from chatkit_app.core.context import RequestContext
from chatkit_app.workflows.registry import ModelChoice, Workflow, WorkflowRegistry
from tests.api.chatkit_client import ChatKitClient, reply_text, user_input
from tests.conftest import api_key_headers, api_with_workflows, create_session, model_settings
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, running_fake


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior(text="Ahoy from the fake model."))


def _per_user_agent(context: RequestContext) -> Agent[Any]:
    return Agent(name="Concierge", instructions=f"You serve {context.user_id} only.", model="concierge-model")


SHARED = Agent(name="Shared")  # handed out by a factory to everyone: never changed by a run


def _shared_agent(context: RequestContext) -> Agent[Any]:
    return SHARED


WORKFLOWS = [
    Workflow(
        id="picker",
        name="Picker",
        agent=Agent(name="Picker", instructions="Answer briefly."),
        models=[
            ModelChoice("small-model", "Small"),
            ModelChoice("large-model", "Large", default=True),
            ModelChoice("future-model", "Soon", disabled=True),
        ],
    ),
    Workflow(id="concierge", name="Concierge", agent_factory=_per_user_agent),
    Workflow(id="shared", name="Shared", agent_factory=_shared_agent),
]


@pytest.fixture(params=["responses", "chat_completions"])
async def http(request: pytest.FixtureRequest, fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = model_settings(
        tmp_path,
        fake.base_url,
        request.param,
        chatkit_upstream_timeout_seconds=3,
    )
    async with api_with_workflows(settings, *WORKFLOWS) as client:
        yield client


async def _client(http: httpx.AsyncClient, user: str, workflow_id: str) -> ChatKitClient:
    session = await create_session(http, user_id=user, workflow_id=workflow_id)
    return ChatKitClient(http, session["token"])


def _with_model(text: str, model: str | None) -> dict[str, Any]:
    message = user_input(text)
    message["inference_options"] = {"model": model} if model else {}
    return message


async def test_the_workflows_models_are_public_and_the_picked_one_runs(
    http: httpx.AsyncClient, fake: FakeOpenAI
) -> None:
    described = await http.get("/api/chatkit/workflows/picker", headers=api_key_headers())
    assert described.json()["ui"]["composer"]["models"] == [
        {"id": "small-model", "label": "Small"},
        {"id": "large-model", "label": "Large", "default": True},
        {"id": "future-model", "label": "Soon", "disabled": True},
    ]
    picker = await _client(http, "ann", "picker")
    events = await picker.stream("threads.create", input=_with_model("hi", "small-model"))
    assert reply_text(events) == "Ahoy from the fake model."
    assert fake.requests[-1].body["model"] == "small-model"

    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    await picker.stream("threads.add_user_message", thread_id=thread_id, input=_with_model("again", "large-model"))
    assert fake.requests[-1].body["model"] == "large-model"


async def test_a_model_outside_the_list_is_refused_before_any_model_call(
    http: httpx.AsyncClient, fake: FakeOpenAI
) -> None:
    picker = await _client(http, "ann", "picker")
    calls = len(fake.requests)
    events = await picker.stream("threads.create", input=_with_model("hi", "gpt-expensive"))
    errors = [e for e in events if e["type"] == "error"]
    assert errors and "not offered" in errors[0]["message"] and errors[0]["allow_retry"] is False
    assert len(fake.requests) == calls, "no model call for a refused model"
    events = await picker.stream("threads.create", input=_with_model("hi", "future-model"))
    assert [e for e in events if e["type"] == "error"] and len(fake.requests) == calls, "disabled: shown, not run"

    assistant = await _client(http, "ann", "assistant")  # no list: no choice at all
    events = await assistant.stream("threads.create", input=_with_model("hi", "small-model"))
    assert [e for e in events if e["type"] == "error"] and len(fake.requests) == calls


async def test_an_agent_factory_makes_each_users_own_agent(http: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    for user in ("ann", "bob"):
        concierge = await _client(http, user, "concierge")
        _, events = await concierge.new_thread("hello")
        assert reply_text(events) == "Ahoy from the fake model."
        body = fake.requests[-1].body
        sent = str(body.get("instructions") or body.get("messages"))
        assert f"You serve {user} only." in sent and body["model"] == "concierge-model"


def test_a_workflow_takes_one_kind_of_agent() -> None:
    with pytest.raises(ValueError, match="one of agent, agent_factory and chat_agent"):
        Workflow(id="x", name="X", agent=Agent(name="a"), agent_factory=_per_user_agent)
    with pytest.raises(ValueError, match="listed twice"):
        Workflow(id="x", name="X", agent=Agent(name="a"), models=["m", "m"])
    assert WorkflowRegistry().find("x") is None


async def test_a_factorys_shared_agent_is_never_changed_by_a_run(http: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    shared = await _client(http, "ann", "shared")
    _, events = await shared.new_thread("hello")
    assert reply_text(events) == "Ahoy from the fake model."
    assert SHARED.model is None and SHARED.mcp_servers == []
