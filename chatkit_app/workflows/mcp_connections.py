"""The MCP connections of one process, shared by every user's turns.

`McpConnections.ready(items)` hands a turn its MCP servers, connected, to put on an Agents
SDK `Agent` (`agent.clone(mcp_servers=...)`). Items are names of `CHATKIT_MCP_SERVERS`
entries, `McpServerConfig`s (an app author's own, in `Workflow(mcp_servers=[...])`), or an
author's own `agents.mcp.MCPServer` objects. All are connected once on first use, reused
across turns and users, checked and replaced when dead, bounded in time (`McpLink`), and
closed by `aclose()` at shutdown (stdio children exit).

Servers built here from a config also get the tool allowlist, a per-call timeout, progress
routed to the calling turn (`progress`), model-readable failure messages, failure watching,
and several connections for a url server (`mcp_servers`, `mcp_lanes`). An author's own
objects are used as they are: only connected, checked and closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from agents.mcp import MCPServer
from chatkit.errors import CustomStreamError

from chatkit_app.core.mcp_config import McpServerConfig
from chatkit_app.workflows.mcp_lanes import LaneSet
from chatkit_app.workflows.mcp_link import McpLink, McpUnavailable, Timing
from chatkit_app.workflows.mcp_progress import ProgressRouter
from chatkit_app.workflows.mcp_servers import PooledStreamableHttp, Watch, build_server

__all__ = ["McpConnections", "McpItem", "McpUnavailable"]

CONNECT_TIMEOUT_SECONDS = 5.0
RECHECK_AFTER_SECONDS = 15.0

McpItem = str | McpServerConfig | MCPServer


class McpConnections:
    """The process's MCP connections (see the module docstring)."""

    def __init__(
        self,
        configs: Sequence[McpServerConfig] = (),
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        recheck_after: float = RECHECK_AFTER_SECONDS,
    ) -> None:
        self.timing = Timing(connect_timeout=connect_timeout, recheck_after=recheck_after)
        self.progress = ProgressRouter()
        self._configs = {config.name: config for config in configs}
        self._links: dict[object, McpLink] = {}
        self._lanes: list[LaneSet] = []
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
        await asyncio.gather(*(lanes.aclose() for lanes in self._lanes), return_exceptions=True)
        await asyncio.gather(*(link.aclose() for link in self._links.values()), return_exceptions=True)

    def _items(self, items: Iterable[McpItem] | None) -> list[McpItem]:
        return list(self._configs) if items is None else list(items)

    def _link(self, item: McpItem) -> McpLink:
        key: object = item if isinstance(item, str) else id(item)
        link = self._links.get(key)
        if link is not None:
            return link
        if isinstance(item, str):
            if item not in self._configs:
                raise KeyError(f"no MCP server named {item!r} in CHATKIT_MCP_SERVERS")
            link = self._configured(self._configs[item])
        elif isinstance(item, McpServerConfig):
            link = self._configured(item)
        else:
            link = McpLink(item, item.name, Watch(), self.timing)
        self._links[key] = link
        self._sources[key] = item  # keeps the object alive, so its id is never reused
        return link

    def _configured(self, config: McpServerConfig) -> McpLink:
        def open_link() -> McpLink:
            watch = Watch()
            return McpLink(build_server(config, watch, self.progress), config.name, watch, self.timing)

        head = open_link()
        if isinstance(head.server, PooledStreamableHttp) and config.max_connections > 1:
            lanes = LaneSet(head, open_link, config.max_connections)
            head.server.lanes = lanes
            self._lanes.append(lanes)
        return head
