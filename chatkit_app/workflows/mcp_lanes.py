"""More than one connection to a streamable-HTTP MCP server, so that a slow call of one user
does not hold up the calls of the others (the Agents SDK sends one request at a time per
connection). The agent holds one server object (the head); each of its calls goes to a
connection free at that moment, a new one opened when all are busy, up to the configured
`connections`. Extra connections are checked and replaced like the head (`McpLink`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agents.mcp import MCPServer

from chatkit_app.workflows.mcp_link import McpLink, McpUnavailable

logger = logging.getLogger("chatkit_app.workflows.mcp_connections")


class LaneSet:
    def __init__(self, head: McpLink, open_lane: Callable[[], McpLink], limit: int) -> None:
        self._head = head
        self._open_lane = open_lane
        self._limit = limit
        self._links = [head]
        self._busy: dict[int, int] = {}  # id(server) -> calls in flight
        self._freed = asyncio.Event()  # set when a connection has no call left

    @property
    def open(self) -> int:
        """Connections in use or kept (the head included)."""
        return len(self._links)

    async def acquire(self) -> MCPServer:
        """A connected server object for one call; `release` it when the call ends. With
        every connection busy and no more allowed, waits until one is released (the caller
        bounds the wait: `PooledStreamableHttp.call_tool`)."""
        while not (candidates := self._candidates()):
            self._freed.clear()
            await self._freed.wait()
        for link in candidates:
            self._take(link.server)
            try:
                await link.ready()
            except McpUnavailable:
                self.release(link.server)
                if link is not self._head:
                    self._links.remove(link)
                    await link.aclose()
                continue
            return link.server
        self._take(self._head.server)  # nothing answers: the call fails and says so
        return self._head.server

    def release(self, server: MCPServer) -> None:
        left = self._busy.get(id(server), 0) - 1
        if left > 0:
            self._busy[id(server)] = left
        else:
            self._busy.pop(id(server), None)
            self._freed.set()

    async def aclose(self) -> None:
        extra, self._links = self._links[1:], [self._head]
        for link in extra:
            await link.aclose()

    def _candidates(self) -> list[McpLink]:
        idle = [link for link in self._links if id(link.server) not in self._busy]
        if idle:
            return idle
        if len(self._links) < self._limit:
            lane = self._open_lane()
            self._links.append(lane)
            return [lane]
        return []  # all busy: wait for one (`acquire`)

    def _take(self, server: MCPServer) -> None:
        self._busy[id(server)] = self._busy.get(id(server), 0) + 1
