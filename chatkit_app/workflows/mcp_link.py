"""One MCP server object and the connection behind it: opened on demand, checked, replaced.

- One attempt at a time: concurrent callers of `ready()` wait for the attempt in flight.
- A connection not confirmed within `recheck_after` seconds, or whose last call failed the
  way a dead connection does (`mcp_servers.Watch`), is checked with one cheap request
  before use; if that fails, or the client saw the connection close, it is replaced.
- Never a hung turn: `ready()` returns within `connect_timeout` seconds, or raises
  `McpUnavailable` (a ChatKit error the user sees, retry allowed); an attempt still running
  then goes on in the background, and the next turn joins it.
- The connection is opened and closed by a task of its own: MCP transports run cancel
  scopes that must end in the task that began them, and the turn that happened to open it
  is long gone by shutdown. The task starts with an empty `contextvars` context, so it
  carries nothing of that turn.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from agents.mcp import MCPServer
from chatkit.errors import CustomStreamError

from chatkit_app.workflows.mcp_servers import Watch

logger = logging.getLogger("chatkit_app.workflows.mcp_connections")

CLEANUP_TIMEOUT_SECONDS = 5.0


class McpUnavailable(CustomStreamError):
    """An MCP server a turn needs cannot be reached; the message is for the user."""

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        super().__init__(
            f"The tool server “{server_name}” is not reachable right now. Try again in a minute.", allow_retry=True
        )

    def __str__(self) -> str:
        return self.message


@dataclass
class Timing:
    connect_timeout: float  # seconds to connect, or to check a connection
    recheck_after: float  # seconds after which an unused connection is checked before use


class McpLink:
    def __init__(self, server: MCPServer, label: str, watch: Watch, timing: Timing) -> None:
        self.server = server
        self.label = label
        self.watch = watch
        self.timing = timing
        self._owner: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._attempt: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._owner is not None and not self._owner.done()

    async def ready(self) -> None:
        """Return once the connection is up and believed healthy; else `McpUnavailable`."""
        if self.connected and self.watch.fresh(self.timing.recheck_after):
            return
        attempt = self._attempt
        if attempt is None or attempt.done():
            attempt = self._attempt = detached(self._refresh())
        try:
            async with asyncio.timeout(self.timing.connect_timeout):
                await asyncio.shield(attempt)  # a check, then a reconnect, must not add up beyond it
        except TimeoutError:
            raise McpUnavailable(self.label) from None

    async def _refresh(self) -> None:
        if self.connected and not self.watch.closed:
            try:
                async with asyncio.timeout(self.timing.connect_timeout / 2):
                    await _probe(self.server)
            except Exception as exc:
                logger.info("MCP server %r did not answer a check (%s): reconnecting", self.label, reason(exc))
            else:
                self.watch.confirmed()
                return
        await self.disconnect()
        await self._connect()

    async def _connect(self) -> None:
        invalidate = getattr(self.server, "invalidate_tools_cache", None)
        if callable(invalidate):
            invalidate()  # a new connection may offer other tools
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        owner = detached(self._own(ready, stop))
        try:
            async with asyncio.timeout(self.timing.connect_timeout):
                await asyncio.shield(ready)
        except BaseException as exc:
            stop.set()
            owner.cancel()
            await asyncio.wait([owner], timeout=CLEANUP_TIMEOUT_SECONDS)
            if not isinstance(exc, Exception):
                raise
            logger.warning("MCP server %r is not reachable (%s)", self.label, reason(exc))
            raise McpUnavailable(self.label) from None
        self._owner, self._stop = owner, stop
        self.watch.confirmed()

    async def _own(self, ready: asyncio.Future[None], stop: asyncio.Event) -> None:
        try:
            await self.server.connect()  # type: ignore[no-untyped-call]
        except asyncio.CancelledError:
            ready.cancel()
            raise
        except Exception as exc:
            if not ready.done():
                ready.set_exception(exc)
            return
        if not ready.done():
            ready.set_result(None)
        try:
            await stop.wait()
        finally:
            try:
                async with asyncio.timeout(CLEANUP_TIMEOUT_SECONDS):
                    await self.server.cleanup()  # type: ignore[no-untyped-call]
            except Exception as exc:
                logger.info("closing MCP server %r: %s", self.label, reason(exc))

    async def disconnect(self) -> None:
        owner, stop = self._owner, self._stop
        self._owner = self._stop = None
        if owner is None or stop is None:
            return
        stop.set()
        done, _ = await asyncio.wait([owner], timeout=CLEANUP_TIMEOUT_SECONDS)
        if not done:
            owner.cancel()
            await asyncio.wait([owner], timeout=CLEANUP_TIMEOUT_SECONDS)

    async def aclose(self) -> None:
        attempt, self._attempt = self._attempt, None
        if attempt is not None and not attempt.done():
            attempt.cancel()
            await asyncio.wait([attempt], timeout=CLEANUP_TIMEOUT_SECONDS)
        await self.disconnect()


def detached(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """A task that outlives the turn that started it, with nothing of its context."""
    task = asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())
    task.add_done_callback(_retrieve)
    return task


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # seen by the waiters; never "exception was never retrieved"


async def _probe(server: MCPServer) -> None:
    """One request that proves the connection works (the SDK's cached tool list would not)."""
    session = getattr(server, "session", None)
    if session is not None and callable(getattr(session, "list_tools", None)):
        await session.list_tools()
    else:
        await server.list_tools()


def reason(error: BaseException) -> str:
    """A failure in a log line: its kind and the SDK's own message (which the SDK keeps
    free of URL credentials); never a header or an environment value of ours."""
    text = str(error).splitlines()[0][:200] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
