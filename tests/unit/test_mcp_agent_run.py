"""An Agents SDK run with pooled MCP servers, against the loopback fake model: the model is
offered exactly the allowlisted tools of every server, with their schemas."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner

from chatkit_app.core.mcp_config import McpServerConfig
from chatkit_app.workflows.mcp_connections import McpConnections
from tests.fakes.mcp_server import FakeMcpHttp, stdio_command
from tests.fakes.openai_server import FakeOpenAI, running_fake


@pytest.fixture
def model_server() -> Iterator[FakeOpenAI]:
    yield from running_fake()


@pytest.fixture
def tools_server() -> Iterator[FakeMcpHttp]:
    server = FakeMcpHttp().start()
    yield server
    server.stop()


async def test_a_run_offers_the_model_the_allowlisted_tools_of_each_server(
    model_server: FakeOpenAI, tools_server: FakeMcpHttp
) -> None:
    command, args = stdio_command()
    pool = McpConnections(
        [
            McpServerConfig(name="orders", url=tools_server.url, tools=["lookup_order"]),
            McpServerConfig(name="local", command=command, args=args, tools=["process_id"]),
        ]
    )
    client = openai.AsyncOpenAI(base_url=model_server.base_url, api_key="sk-test")
    try:
        agent = Agent(name="helper", instructions="Help.", model=OpenAIResponsesModel("gpt-test", client))
        for question in ("Where is order 42?", "And order 43?"):
            turn = agent.clone(mcp_servers=await pool.ready())
            result = Runner.run_streamed(turn, question, run_config=RunConfig(tracing_disabled=True))
            async for _event in result.stream_events():
                pass
            assert result.final_output == model_server.behavior.text
    finally:
        await pool.aclose()
        await client.close()
    offered = [request.body["tools"] for request in model_server.requests]
    assert len(offered) == 2
    for tools in offered:
        assert sorted(tool["name"] for tool in tools) == ["lookup_order", "process_id"]
        lookup = next(tool for tool in tools if tool["name"] == "lookup_order")
        assert lookup["parameters"]["properties"]["order_id"]["type"] == "string"
    assert tools_server.connections == 1
    assert tools_server.count("tools/list") == 1  # listed once, then from the cache
