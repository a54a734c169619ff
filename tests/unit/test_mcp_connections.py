"""The MCP connection pool against a real MCP server on loopback (streamable HTTP)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from agents.mcp import MCPServerStreamableHttp
from chatkit.errors import CustomStreamError

from chatkit_app.core.mcp_config import McpServerConfig
from chatkit_app.workflows.mcp_connections import McpConnections, McpUnavailable
from tests.fakes.mcp_server import TOOL_NAMES, FakeMcpHttp, SilentPort, free_port
from tests.mcp_helpers import TurnContext, agent_tools, call, wait_until

TOKEN = "Bearer mcp-header-s3cr3t"
MakePool = Callable[..., McpConnections]


@pytest.fixture
def fake() -> Iterator[FakeMcpHttp]:
    server = FakeMcpHttp().start()
    yield server
    server.release_slow()
    server.stop()


@pytest.fixture
async def pools() -> AsyncIterator[MakePool]:
    made: list[McpConnections] = []

    def make(*configs: McpServerConfig, **options: Any) -> McpConnections:
        pool = McpConnections(list(configs), **options)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        await pool.aclose()


def files(url: str, **extra: Any) -> McpServerConfig:
    return McpServerConfig(name="files", url=url, **extra)


async def test_fifty_concurrent_turns_connect_once_and_share_the_connection(fake: FakeMcpHttp, pools: MakePool) -> None:
    pool = pools(files(fake.url))
    turns = await asyncio.gather(*(pool.ready() for _ in range(50)))
    assert fake.connections == 1
    assert len({id(servers[0]) for servers in turns}) == 1
    later = await pool.ready(["files"])
    assert later[0] is turns[0][0]
    assert fake.connections == 1


async def test_turns_of_different_users_reuse_the_connection(fake: FakeMcpHttp, pools: MakePool) -> None:
    pool = pools(files(fake.url))
    answers = []
    for order in ("1", "2", "3"):
        tools = await agent_tools(await pool.ready(), TurnContext())
        answers.append(await call(tools["lookup_order"], TurnContext(), {"order_id": order}))
    assert answers == [f"Order {n}: shipped, arriving Tuesday." for n in "123"]
    assert fake.connections == 1
    assert fake.count("tools/list") == 1  # the tool list is cached across turns


async def test_only_allowlisted_tools_are_offered_to_the_model(fake: FakeMcpHttp, pools: MakePool) -> None:
    pool = pools(files(fake.url, tools=["lookup_order", "slow_tool"]))
    assert set(await agent_tools(await pool.ready())) == {"lookup_order", "slow_tool"}
    everything = pools(McpServerConfig(name="all", url=fake.url))
    assert set(await agent_tools(await everything.ready())) == set(TOOL_NAMES)


async def test_progress_reaches_the_turn_that_called_the_tool(fake: FakeMcpHttp, pools: MakePool) -> None:
    pool = pools(files(fake.url))
    tools = await agent_tools(await pool.ready())
    alice, bob = TurnContext(), TurnContext()
    answers = await asyncio.gather(
        call(tools["lookup_order"], alice, {"order_id": "A"}), call(tools["lookup_order"], bob, {"order_id": "B"})
    )
    assert answers == ["Order A: shipped, arriving Tuesday.", "Order B: shipped, arriving Tuesday."]
    for turn in (alice, bob):
        assert [(u.server, u.tool, u.progress, u.total) for u in turn.updates] == [
            ("files", "lookup_order", step, 3.0) for step in (1.0, 2.0, 3.0)
        ]
        assert [u.text for u in turn.updates] == ["Finding the order (1/3)", "Asking the carrier (2/3)", "Done (3/3)"]
    assert pool.progress.open_calls() == 0
    fake.headers.clear()
    await call(tools["lookup_order"], object(), {"order_id": "C"})  # a context without progress sends no token
    assert pool.progress.open_calls() == 0


async def test_headers_reach_the_server_and_never_the_logs(
    fake: FakeMcpHttp, pools: MakePool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pool = pools(files(fake.url, headers={"Authorization": TOKEN}))
    await pool.ready()
    assert fake.headers and all(headers.get("authorization") == TOKEN for headers in fake.headers)
    dead = pools(McpServerConfig(name="dead", url=f"http://127.0.0.1:{free_port()}/mcp", headers={"X-Key": TOKEN}))
    with pytest.raises(McpUnavailable):
        await dead.ready()
    assert "s3cr3t" not in caplog.text


async def test_a_dead_server_is_a_clear_error_at_once(pools: MakePool) -> None:
    pool = pools(files(f"http://127.0.0.1:{free_port()}/mcp"))
    started = time.monotonic()
    with pytest.raises(McpUnavailable) as caught:
        await pool.ready()
    assert time.monotonic() - started < 2
    assert isinstance(caught.value, CustomStreamError)
    assert caught.value.message == "The tool server “files” is not reachable right now. Try again in a minute."
    assert caught.value.allow_retry and caught.value.server_name == "files"


async def test_fifty_turns_meet_a_hung_server_once_and_none_hangs(pools: MakePool) -> None:
    silent = SilentPort()
    try:
        pool = pools(files(silent.url), connect_timeout=1.0)
        started = time.monotonic()
        outcomes = await asyncio.gather(*(pool.ready() for _ in range(50)), return_exceptions=True)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert all(isinstance(outcome, McpUnavailable) for outcome in outcomes)
    assert 1.0 <= elapsed < 3.0  # one attempt, bounded by the connect timeout


async def test_a_connected_server_that_stops_answering_is_a_clear_error_in_time(
    fake: FakeMcpHttp, pools: MakePool
) -> None:
    pool = pools(files(fake.url), connect_timeout=1.0, recheck_after=0)
    await pool.ready()
    fake.hang.update({"tools/list", "server/discover", "initialize"})
    started = time.monotonic()
    with pytest.raises(McpUnavailable):
        await pool.ready()  # the check hangs, then so does the reconnect: one budget for both
    assert time.monotonic() - started < 2.0
    fake.hang.clear()
    for _retry in range(3):  # the user retries; the attempt still running fails, the next succeeds
        try:
            await pool.ready()
            break
        except McpUnavailable:
            continue
    else:
        pytest.fail("never reconnected")


async def test_a_server_down_between_turns_is_reported_then_reconnected(fake: FakeMcpHttp, pools: MakePool) -> None:
    pool = pools(files(fake.url), recheck_after=0)
    tools = await agent_tools(await pool.ready())
    assert await call(tools["lookup_order"], None, {"order_id": "1"}) == "Order 1: shipped, arriving Tuesday."
    await asyncio.to_thread(fake.stop)
    with pytest.raises(McpUnavailable):
        await pool.ready()
    fake.start()  # the same port: the process came back
    tools = await agent_tools(await pool.ready())
    assert await call(tools["lookup_order"], None, {"order_id": "2"}) == "Order 2: shipped, arriving Tuesday."
    assert fake.connections == 2


async def test_a_server_dying_during_a_call_fails_that_call_and_the_next_turn_reconnects(
    fake: FakeMcpHttp, pools: MakePool
) -> None:
    pool = pools(files(fake.url))  # no recheck by age: the failed call alone must trigger the reconnect
    tools = await agent_tools(await pool.ready())
    running = asyncio.create_task(call(tools["slow_tool"], None, {}))
    assert await asyncio.to_thread(fake.hooks.slow_started.wait, 10)
    await asyncio.to_thread(fake.stop)
    started = time.monotonic()
    answer = await asyncio.wait_for(running, timeout=10)
    assert time.monotonic() - started < 5
    assert answer == "The tool server “files” is not reachable right now (the call failed). Try again in a minute."
    fake.start()
    checks = fake.count("tools/list")
    tools = await agent_tools(await pool.ready())
    assert fake.count("tools/list") == checks + 1  # the failed call made the next turn check first
    assert await call(tools["lookup_order"], None, {"order_id": "9"}) == "Order 9: shipped, arriving Tuesday."


async def test_a_call_slower_than_the_timeout_is_stopped_and_the_connection_kept(
    fake: FakeMcpHttp, pools: MakePool
) -> None:
    pool = pools(files(fake.url, timeout=1))
    tools = await agent_tools(await pool.ready())
    started = time.monotonic()
    answer = await call(tools["slow_tool"], None, {})
    assert 1 <= time.monotonic() - started < 4
    assert answer == "The tool server “files” took longer than 1 seconds to answer; the call was stopped."
    tools = await agent_tools(await pool.ready())
    assert await call(tools["lookup_order"], None, {"order_id": "5"}) == "Order 5: shipped, arriving Tuesday."
    assert fake.connections == 1


async def test_an_app_authors_own_server_objects_are_connected_reused_and_closed(
    fake: FakeMcpHttp, pools: MakePool
) -> None:
    own = MCPServerStreamableHttp({"url": fake.url}, name="own tools", cache_tools_list=True)
    pool = pools(recheck_after=0)
    turns = await asyncio.gather(*(pool.ready([own]) for _ in range(20)))
    assert all(servers == [own] for servers in turns)
    assert fake.connections == 1 and own.session is not None
    tools = await agent_tools(await pool.ready([own]))
    assert await call(tools["lookup_order"], None, {"order_id": "7"}) == "Order 7: shipped, arriving Tuesday."
    await asyncio.to_thread(fake.stop)
    with pytest.raises(McpUnavailable, match="“own tools”"):
        await pool.ready([own])
    fake.start()
    tools = await agent_tools(await pool.ready([own]))
    assert await call(tools["lookup_order"], None, {"order_id": "8"}) == "Order 8: shipped, arriving Tuesday."
    await pool.aclose()
    assert own.session is None


async def test_shutdown_leaves_no_task_and_refuses_later_turns(fake: FakeMcpHttp) -> None:
    before = asyncio.all_tasks()
    pool = McpConnections([files(fake.url), McpServerConfig(name="other", url=fake.url)])
    await asyncio.gather(*(pool.ready() for _ in range(5)))
    assert len(asyncio.all_tasks() - before) >= 2  # a task owns each connection
    await pool.aclose()
    assert asyncio.all_tasks() - before == set()
    with pytest.raises(CustomStreamError):
        await pool.ready()


async def test_an_unknown_server_name_is_refused(pools: MakePool) -> None:
    pool = pools(files("http://127.0.0.1:1/mcp"))
    assert pool.names == ["files"]
    with pytest.raises(KeyError, match="no MCP server named 'nope'"):
        await pool.ready(["nope"])


async def test_a_slow_call_of_one_user_does_not_hold_up_the_calls_of_others(fake: FakeMcpHttp, pools: MakePool) -> None:
    pool = pools(files(fake.url, connections=2))
    tools = await agent_tools(await pool.ready())
    slow = asyncio.create_task(call(tools["slow_tool"], None, {}))
    assert await asyncio.to_thread(fake.hooks.slow_started.wait, 10)
    answer = await asyncio.wait_for(call(tools["lookup_order"], None, {"order_id": "B"}), timeout=5)
    assert answer == "Order B: shipped, arriving Tuesday."
    assert not slow.done()
    assert fake.connections == 2
    fake.release_slow()
    assert await asyncio.wait_for(slow, timeout=5) == "slow: finished"
    answers = await asyncio.gather(*(call(tools["lookup_order"], None, {"order_id": str(n)}) for n in range(30)))
    assert answers == [f"Order {n}: shipped, arriving Tuesday." for n in range(30)]
    assert fake.connections == 2  # never more than `connections`


async def test_with_one_connection_calls_wait_for_each_other(fake: FakeMcpHttp, pools: MakePool) -> None:
    """Why url servers get several connections: the Agents SDK sends one request at a time on
    each (if a release lifts that, this test says so and `connections` may go)."""
    pool = pools(files(fake.url, connections=1))
    tools = await agent_tools(await pool.ready())
    slow = asyncio.create_task(call(tools["slow_tool"], None, {}))
    assert await asyncio.to_thread(fake.hooks.slow_started.wait, 10)
    waiting = asyncio.create_task(call(tools["lookup_order"], None, {"order_id": "W"}))
    done, _ = await asyncio.wait([waiting], timeout=1)
    assert not done
    fake.release_slow()
    assert await asyncio.wait_for(waiting, timeout=5) == "Order W: shipped, arriving Tuesday."
    assert await slow == "slow: finished"


async def test_an_authors_configs_built_anew_each_turn_share_one_connection(fake: FakeMcpHttp, pools: MakePool) -> None:
    pool = pools()
    first = await pool.ready([McpServerConfig(name="mine", url=fake.url, headers={"X-Key": "a"})])
    again = await pool.ready([McpServerConfig(name="mine", url=fake.url, headers={"X-Key": "a"})])
    assert first[0] is again[0] and fake.connections == 1
    other = await pool.ready([McpServerConfig(name="mine", url=fake.url, headers={"X-Key": "b"})])
    assert other[0] is not first[0] and fake.connections == 2


async def test_a_call_waiting_for_a_free_connection_waits_no_longer_than_its_timeout(
    fake: FakeMcpHttp, pools: MakePool
) -> None:
    """One user's slow calls fill every connection, and more wait: another call waits for
    a connection at most `timeout`, then runs at most `timeout` (without the bound on the
    wait it queued behind all twelve, ~6 s)."""
    pool = pools(files(fake.url, connections=2, timeout=1))
    tools = await agent_tools(await pool.ready())
    slow = [asyncio.create_task(call(tools["slow_tool"], None, {})) for _ in range(12)]
    await wait_until(lambda: fake.hooks.calls.count("slow_tool") >= 2)
    started = time.monotonic()
    answer = await call(tools["lookup_order"], None, {"order_id": "V"})
    assert time.monotonic() - started < 3.5
    assert answer in (
        "The tool server “files” took longer than 1 seconds to answer; the call was stopped.",
        "Order V: shipped, arriving Tuesday.",
    )
    fake.release_slow()
    await asyncio.gather(*slow)
    tools = await agent_tools(await pool.ready())
    assert await call(tools["lookup_order"], None, {"order_id": "5"}) == "Order 5: shipped, arriving Tuesday."
