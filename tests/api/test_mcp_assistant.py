"""The built-in assistant with `CHATKIT_MCP_SERVERS`, over HTTP: against a real MCP server on
loopback and the fake model, an MCP tool call shows as a task with its progress lines, only
allowlisted tools reach the model, and a dead server is a clear error in seconds."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatkit_app.api.app import create_api
from chatkit_app.fast_paths import close_shared_clients
from chatkit_app.services import build_services
from tests.api.chatkit_client import ChatKitClient, reply_text
from tests.conftest import model_settings
from tests.fakes.mcp_server import FakeMcpHttp
from tests.fakes.openai_server import TOOL_OUTPUT, FakeBehavior, FakeOpenAI, ToolRule, running_fake


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior())


@pytest.fixture
def tools_server() -> Iterator[FakeMcpHttp]:
    server = FakeMcpHttp().start()
    yield server
    server.stop()


@pytest.fixture(params=["responses", "chat_completions"])
async def http(
    request: pytest.FixtureRequest, fake: FakeOpenAI, tools_server: FakeMcpHttp, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    servers = [{"name": "shop", "url": tools_server.url, "tools": ["lookup_order", "slow_tool"]}]
    settings = model_settings(
        tmp_path,
        fake.base_url,
        request.param,
        chatkit_upstream_timeout_seconds=5,
        chatkit_mcp_servers=json.dumps(servers),
    )
    services = build_services(settings, production=False)
    transport = httpx.ASGITransport(app=create_api(lambda: services))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client
    await services.aclose()
    await close_shared_clients()


def _offered(body: dict[str, Any]) -> set[str]:
    return {tool.get("name") or tool.get("function", {}).get("name") for tool in body.get("tools") or []}


async def test_an_mcp_tool_call_shows_as_a_task_with_its_progress(
    http: httpx.AsyncClient, fake: FakeOpenAI, tools_server: FakeMcpHttp
) -> None:
    fake.behavior = FakeBehavior(
        text=f"The shop says: {TOOL_OUTPUT}", tool_calls=[ToolRule("lookup_order", {"order_id": "A-7"})]
    )
    assistant = await ChatKitClient.for_user(http, "ann")
    _, events = await assistant.new_thread("where is my order A-7?")
    assert reply_text(events) == "The shop says: Order A-7: shipped, arriving Tuesday."
    assert tools_server.hooks.calls == ["lookup_order"]
    progress = [e["text"] for e in events if e["type"] == "progress_update"]
    assert progress and any("Asking the carrier" in text for text in progress)
    [workflow] = [e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "workflow"]
    assert [(t["title"], t["status_indicator"]) for t in workflow["workflow"]["tasks"]] == [
        ("Used lookup order", "complete")
    ]
    assert _offered(fake.requests[0].body) == {"lookup_order", "slow_tool"}, "only the allowlisted tools"


async def test_a_dead_mcp_server_is_a_clear_error_within_seconds(
    http: httpx.AsyncClient, fake: FakeOpenAI, tools_server: FakeMcpHttp
) -> None:
    tools_server.stop()
    assistant = await ChatKitClient.for_user(http, "ann")
    began = time.monotonic()
    _, events = await assistant.new_thread("where is my order?")
    errors = [e for e in events if e["type"] == "error"]
    assert errors and "“shop” is not reachable" in errors[0]["message"] and errors[0]["allow_retry"] is True
    assert time.monotonic() - began < 8
    assert not [r for r in fake.requests if r.path.endswith(("/responses", "/chat/completions"))], (
        "no model call without its tools"
    )
