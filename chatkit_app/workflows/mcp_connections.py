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
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence

from agents.mcp import MCPServer
from chatkit.errors import CustomStreamError

from chatkit_app.core.mcp_config import McpServerConfig
from chatkit_app.workflows.mcp_lanes import LaneSet
from chatkit_app.workflows.mcp_link import McpLink, McpUnavailable, Timing
from chatkit_app.workflows.mcp_progress import ProgressRouter
from chatkit_app.workflows.mcp_servers import PooledStreamableHttp, Watch, build_server

__all__ = ["McpConnections", "McpItem", "McpUnavailable"]

logger = logging.getLogger("chatkit_app.workflows.mcp_connections")

CONNECT_TIMEOUT_SECONDS = 5.0
RECHECK_AFTER_SECONDS = 15.0
MANY_OBJECTS = 64

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
        self._sources: dict[object, MCPServer] = {}
        self._closed = False

    @property
    def names(self) -> list[str]:
        """The configured (`CHATKIT_MCP_SERVERS`) server names, in order."""
        return list(self._configs)

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
        key = _key(item)
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
            self._sources[key] = item  # keeps the object alive, so its id is never reused
            if len(self._sources) == MANY_OBJECTS:
                logger.warning(
                    "%d MCP server objects so far, each with its own connection: build them once "
                    "(at module level), not per turn",
                    MANY_OBJECTS,
                )
        self._links[key] = link
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


def _key(item: McpItem) -> object:
    """Settings entries by name; an author's config by its content (equal configs share a
    connection, even when built anew for each turn); an author's object by identity."""
    if isinstance(item, str):
        return item
    if isinstance(item, McpServerConfig):
        content = item.model_dump(mode="json")
        content["headers"] = {k: v.get_secret_value() for k, v in item.headers.items()}
        content["env"] = None if item.env is None else {k: v.get_secret_value() for k, v in item.env.items()}
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        return ("config", digest)
    return ("object", id(item))
