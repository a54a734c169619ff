"""The MCP connections of one process, shared by every user's turns.

`McpConnections.ready(items)` hands a turn its MCP servers, connected, to put on an Agents
SDK `Agent` (`agent.clone(mcp_servers=...)`). Items are names of `CHATKIT_MCP_SERVERS`
entries, `McpServerConfig`s, or an app author's own `agents.mcp.MCPServer` objects
(`Workflow(mcp_servers=[...])`); all are connected, checked and closed the same way.

- Connected once, on first use: concurrent turns wait for the one attempt in flight.
- Reused across turns and users. A connection not confirmed within `recheck_after`
  seconds, or whose last call failed the way a dead connection does (`mcp_servers.Watch`),
  is checked with one cheap request before it is handed out; if that fails, or the client
  saw the connection close, it is replaced. A server that died and came back works again
  on the next turn.
- Never a hung turn: connecting or checking takes at most `connect_timeout` seconds, after
  which the turn gets `McpUnavailable` (a ChatKit error the user sees, retry allowed).
- Each connection is opened and closed by one task of its own (MCP transports run cancel
  scopes that must end in the task that began them; a turn's task is gone by shutdown),
  started with an empty `contextvars` context so it carries nothing of the turn that
  happened to open it.
- `aclose()` closes them all at shutdown (stdio children exit).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from agents.mcp import MCPServer
from chatkit.errors import CustomStreamError

from chatkit_app.core.mcp_config import McpServerConfig
from chatkit_app.workflows.mcp_progress import ProgressRouter
from chatkit_app.workflows.mcp_servers import Watch, build_server

logger = logging.getLogger("chatkit_app.workflows.mcp_connections")

CONNECT_TIMEOUT_SECONDS = 5.0
RECHECK_AFTER_SECONDS = 15.0
CLEANUP_TIMEOUT_SECONDS = 5.0

McpItem = str | McpServerConfig | MCPServer


class McpUnavailable(CustomStreamError):
    """An MCP server a turn needs cannot be reached; the message is for the user."""

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        super().__init__(
            f"The tool server “{server_name}” is not reachable right now. Try again in a minute.", allow_retry=True
        )

    def __str__(self) -> str:
        return self.message


class _Link:
    """One server object and the connection behind it."""

    def __init__(self, server: MCPServer, label: str, watch: Watch, pool: McpConnections) -> None:
        self.server = server
        self.label = label
        self.watch = watch
        self._pool = pool
        self._owner: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._attempt: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._owner is not None and not self._owner.done()

    async def ready(self) -> None:
        if self.connected and self.watch.fresh(self._pool.recheck_after):
            return
        attempt = self._attempt
        if attempt is None or attempt.done():
            attempt = self._attempt = _detached(self._refresh())
        await asyncio.shield(attempt)

    async def _refresh(self) -> None:
        if self.connected and not self.watch.closed:
            try:
                async with asyncio.timeout(self._pool.connect_timeout):
                    await _probe(self.server)
            except Exception as exc:
                logger.info("MCP server %r did not answer a check (%s): reconnecting", self.label, _reason(exc))
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
        owner = _detached(self._own(ready, stop))
        try:
            async with asyncio.timeout(self._pool.connect_timeout):
                await asyncio.shield(ready)
        except BaseException as exc:
            stop.set()
            owner.cancel()
            await asyncio.wait([owner], timeout=CLEANUP_TIMEOUT_SECONDS)
            if not isinstance(exc, Exception):
                raise
            logger.warning("MCP server %r is not reachable (%s)", self.label, _reason(exc))
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
                logger.info("closing MCP server %r: %s", self.label, _reason(exc))

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


class McpConnections:
    """The process's MCP connections (see the module docstring)."""

    def __init__(
        self,
        configs: Sequence[McpServerConfig] = (),
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        recheck_after: float = RECHECK_AFTER_SECONDS,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.recheck_after = recheck_after
        self.progress = ProgressRouter()
        self._configs = {config.name: config for config in configs}
        self._links: dict[object, _Link] = {}
        self._sources: dict[object, McpItem] = {}
        self._closed = False

    @property
    def names(self) -> list[str]:
        """The configured (`CHATKIT_MCP_SERVERS`) server names, in order."""
        return list(self._configs)

    def servers(self, items: Iterable[McpItem] | None = None) -> list[MCPServer]:
        """The server objects for `items` (default: every configured server), unconnected:
        for an agent built before any turn. A turn should use `ready()` instead."""
        return [self._link(item).server for item in self._items(items)]

    async def ready(self, items: Iterable[McpItem] | None = None) -> list[MCPServer]:
        """The servers for `items` (default: every configured server), connected and
        checked; raises `McpUnavailable` for the first that is not, within `connect_timeout`."""
        if self._closed:
            raise CustomStreamError("The server is shutting down. Try again in a minute.", allow_retry=True)
        links = [self._link(item) for item in self._items(items)]
        if not links:
            return []
        outcomes = await asyncio.gather(*(link.ready() for link in links), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return [link.server for link in links]

    async def aclose(self) -> None:
        """Close every connection (at shutdown); later `ready()` calls fail."""
        self._closed = True
        links = list(self._links.values())
        await asyncio.gather(*(link.aclose() for link in links), return_exceptions=True)

    def _items(self, items: Iterable[McpItem] | None) -> list[McpItem]:
        return list(self._configs) if items is None else list(items)

    def _link(self, item: McpItem) -> _Link:
        key: object = item if isinstance(item, str) else id(item)
        link = self._links.get(key)
        if link is not None:
            return link
        if isinstance(item, str):
            if item not in self._configs:
                raise KeyError(f"no MCP server named {item!r} in CHATKIT_MCP_SERVERS")
            item = self._configs[item]
        watch = Watch()
        if isinstance(item, McpServerConfig):
            link = _Link(build_server(item, watch, self.progress), item.name, watch, self)
        else:
            link = _Link(item, item.name, watch, self)
        self._links[key] = link
        self._sources[key] = item  # keeps the object alive, so its id is never reused
        return link


def _detached(coroutine: Any) -> asyncio.Task[None]:
    """A task that outlives the turn that started it, with nothing of its context."""
    task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())
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


def _reason(error: BaseException) -> str:
    """A failure in a log line: its kind and the SDK's own message (which the SDK keeps
    free of URL credentials); never a header or an environment value of ours."""
    text = str(error).splitlines()[0][:200] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
