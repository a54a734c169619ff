"""A real MCP server for tests, built with the `mcp` package (`MCPServer`, FastMCP's name in
mcp 2), served over streamable HTTP by uvicorn on loopback, or over stdio when this file is run
as a script (`python tests/fakes/mcp_server.py`; it imports only installed packages, so the
child needs no PYTHONPATH).

Tools: `lookup_order` (reports progress, then answers), `slow_tool` (says it started, then
waits until released: for timeouts and for a server that dies mid-call), `process_id` (the
serving process, so a test can check a stdio child is gone) and `delete_everything` (for
allowlists to leave out).

`FakeMcpHttp.stop()` cuts every open connection, like a crashed process; `start()` again
serves on the same port, like the process coming back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer

ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]
TOOL_NAMES = ("lookup_order", "slow_tool", "process_id", "delete_everything")
STARTED_FILE_ENV = "FAKE_MCP_STARTED_FILE"  # stdio: `slow_tool` touches this file when it starts


@dataclass
class ToolHooks:
    """How the in-process server tells a test what happens inside it."""

    slow_started: threading.Event = field(default_factory=threading.Event)
    release: anyio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    calls: list[str] = field(default_factory=list)

    async def on_slow_start(self) -> None:
        self.slow_started.set()
        started_file = os.environ.get(STARTED_FILE_ENV)
        if started_file:
            Path(started_file).write_text("started")


def build_server(hooks: ToolHooks) -> MCPServer:
    server = MCPServer("fake-tools")

    @server.tool()
    async def lookup_order(order_id: str, ctx: Context) -> str:
        """Look up an order by its id and say where it is."""
        hooks.calls.append("lookup_order")
        for step, message in enumerate(("Finding the order", "Asking the carrier"), start=1):
            await ctx.report_progress(step, 3, message)
        await ctx.report_progress(3, 3, "Done")
        return f"Order {order_id}: shipped, arriving Tuesday."

    @server.tool()
    async def slow_tool(label: str = "slow") -> str:
        """Takes as long as the test wants."""
        hooks.calls.append("slow_tool")
        if hooks.release is None:
            hooks.release = anyio.Event()
        hooks.loop = asyncio.get_running_loop()
        await hooks.on_slow_start()
        await hooks.release.wait()
        return f"{label}: finished"

    @server.tool()
    def process_id() -> int:
        """The id of the process serving this tool."""
        hooks.calls.append("process_id")
        return os.getpid()

    @server.tool()
    def delete_everything() -> str:
        """A tool no allowlist should offer."""
        hooks.calls.append("delete_everything")
        return "deleted"

    return server


class _RecordMethods:
    """Records the JSON-RPC method and the headers of every POST (to count connections and
    see what a client sent), replaying the body to the app."""

    def __init__(self, app: ASGIApp, methods: list[str], headers: list[dict[str, str]], hang: set[str]) -> None:
        self.app = app
        self.methods = methods
        self.headers = headers
        self.hang = hang

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        self.headers.append({key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]})
        messages = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        body = b"".join(m.get("body", b"") for m in messages)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("method"), str):
            self.methods.append(payload["method"])
            if payload["method"] in self.hang:
                await anyio.sleep_forever()  # a server stuck on this request

        async def replay() -> Any:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


@dataclass
class FakeMcpHttp:
    """The fake MCP server over streamable HTTP at `url`, in a thread of this process."""

    host: str = "127.0.0.1"
    port: int = 0
    hooks: ToolHooks = field(default_factory=ToolHooks)
    methods: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    hang: set[str] = field(default_factory=set)  # JSON-RPC methods it never answers
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/mcp"

    def count(self, method: str) -> int:
        return self.methods.count(method)

    @property
    def connections(self) -> int:
        """Connections clients opened: `server/discover` (MCP 2026-07-28) or `initialize` (older)."""
        return self.count("server/discover") + self.count("initialize")

    def start(self) -> FakeMcpHttp:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self.hooks.release = None
        self.hooks.loop = None
        self.hooks.slow_started.clear()
        app = _RecordMethods(build_server(self.hooks).streamable_http_app(), self.methods, self.headers, self.hang)
        config = uvicorn.Config(app, log_level="critical", lifespan="on", timeout_graceful_shutdown=0)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake MCP server did not start")
            time.sleep(0.01)
        return self

    def release_slow(self) -> None:
        """Let a waiting `slow_tool` finish."""
        release, loop = self.hooks.release, self.hooks.loop
        if release is not None and loop is not None:
            loop.call_soon_threadsafe(release.set)

    def stop(self) -> None:
        """Stop at once, cutting open streams (a crash, as the client sees it)."""
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                raise RuntimeError("fake MCP server did not stop")
        self._server = None
        self._thread = None


class SilentPort:
    """A port that takes connections and never answers (a hung server, as the client sees it)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/mcp"

    def close(self) -> None:
        self._sock.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stdio_command() -> tuple[str, list[str]]:
    """The command and arguments that run this server over stdio."""
    return sys.executable, [str(Path(__file__).resolve())]


if __name__ == "__main__":
    logging.disable(logging.CRITICAL)
    build_server(ToolHooks()).run("stdio")
