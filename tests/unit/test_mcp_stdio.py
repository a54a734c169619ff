"""The MCP connection pool with a real MCP server run as a child process over stdio."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from chatkit_app.core.mcp_config import McpServerConfig
from chatkit_app.workflows.mcp_connections import McpConnections, McpUnavailable
from tests.fakes.mcp_server import STARTED_FILE_ENV, stdio_command
from tests.mcp_helpers import TurnContext, agent_tools, call, wait_until


def stdio_config(**extra: object) -> McpServerConfig:
    command, args = stdio_command()
    return McpServerConfig.model_validate({"name": "local", "command": command, "args": args, **extra})


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_one_child_serves_every_turn_and_exits_at_shutdown() -> None:
    pool = McpConnections([stdio_config(tools=["process_id", "lookup_order"])])
    try:
        turns = await asyncio.gather(*(pool.ready() for _ in range(20)))
        assert len({id(servers[0]) for servers in turns}) == 1
        tools = await agent_tools(turns[0])
        assert set(tools) == {"process_id", "lookup_order"}  # the allowlist, on stdio too
        pids = {int(await call(tools["process_id"], None, {})) for _ in range(3)}
        assert len(pids) == 1
        turn = TurnContext()
        assert await call(tools["lookup_order"], turn, {"order_id": "3"}) == "Order 3: shipped, arriving Tuesday."
        assert [u.message for u in turn.updates] == ["Finding the order", "Asking the carrier", "Done"]
    finally:
        await pool.aclose()
    (pid,) = pids
    await wait_until(lambda: not alive(pid))


async def test_a_child_killed_during_a_call_fails_that_call_and_a_new_one_serves_the_next_turn(tmp_path: Path) -> None:
    started_file = tmp_path / "slow-started"
    pool = McpConnections([stdio_config(env={STARTED_FILE_ENV: str(started_file)})])
    try:
        tools = await agent_tools(await pool.ready())
        first = int(await call(tools["process_id"], None, {}))
        running = asyncio.create_task(call(tools["slow_tool"], None, {}))
        await wait_until(started_file.exists)
        os.kill(first, signal.SIGKILL)
        started = time.monotonic()
        answer = await asyncio.wait_for(running, timeout=10)
        assert time.monotonic() - started < 5
        assert answer == "The tool server “local” is not reachable right now (the call failed). Try again in a minute."
        tools = await agent_tools(await pool.ready())
        second = int(await call(tools["process_id"], None, {}))
        assert second != first
    finally:
        await pool.aclose()
    await wait_until(lambda: not alive(second))


async def test_a_command_that_cannot_start_is_a_clear_error_at_once(tmp_path: Path) -> None:
    pool = McpConnections([McpServerConfig(name="broken", command=str(tmp_path / "no-such-program"))])
    started = time.monotonic()
    with pytest.raises(McpUnavailable, match="“broken” is not reachable"):
        await pool.ready()
    assert time.monotonic() - started < 3
    await pool.aclose()
