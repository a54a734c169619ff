"""What `CHATKIT_MCP_SERVERS` may say: a JSON list of MCP servers for the agents.

Each entry is either a streamable-HTTP server (`url`, optional `headers`) or a program spoken
to over stdio (`command`, `args`, optional `env` and `cwd`), with an optional `tools` allowlist
and a per-call `timeout`. It lives at the bottom layer because the settings validate it at
start (a bad entry stops the start with one line); the connections are made in `workflows`.

Header and environment values are `SecretStr`: they often carry tokens, and a repr, a log
line or a validation message must never show them.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError, model_validator

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")
URL_PATTERN = re.compile(r"^https?://[^\s/?#]+(/[^\s]*)?$")
DEFAULT_HTTP_CONNECTIONS = 4


class McpServerConfig(BaseModel):
    """One MCP server an agent may use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Shown to users in errors, e.g. “files”; unique")
    url: str | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, SecretStr] | None = None
    cwd: str | None = None
    tools: list[str] | None = Field(default=None, description="Only these tools are offered to the model")
    timeout: float = Field(default=30.0, gt=0, le=3600, description="Seconds one tool call may take")
    connections: int | None = Field(default=None, ge=1, le=32, description="url only: calls at once (default 4)")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if not NAME_PATTERN.match(self.name):
            raise ValueError("name: use 1-64 letters, digits, spaces, '.', '_' or '-'")
        if (self.url is None) == (self.command is None):
            raise ValueError("give either url (streamable HTTP) or command (stdio), not both or neither")
        if self.url is not None:
            if not URL_PATTERN.match(self.url):
                raise ValueError("url: not an http(s) URL like https://tools.example.com/mcp")
            parts = urlsplit(self.url)
            if parts.username or parts.password or parts.query:
                # HTTP clients log request URLs: a key in one would reach the logs.
                raise ValueError(
                    "url: no user:password@ and no ?query in it (request URLs are logged); "
                    'send a key in headers, e.g. {"Authorization": "Bearer …"}'
                )
            if self.args or self.env is not None or self.cwd is not None:
                raise ValueError("args, env and cwd are for a stdio server (command), not a url")
        elif self.headers or self.connections is not None:
            raise ValueError("headers and connections are for a url server, not a stdio command")
        elif not self.command or not self.command.strip():
            raise ValueError("command: empty")
        if self.tools is not None and not self.tools:
            raise ValueError("tools: list at least one tool name, or leave it out to offer all")
        return self

    @property
    def transport(self) -> str:
        return "streamable HTTP" if self.url is not None else "stdio"

    @property
    def max_connections(self) -> int:
        """Connections opened to this server at most. The Agents SDK sends one request at a
        time per streamable-HTTP connection, so a slow call would hold up every other user's
        calls; a stdio pipe carries many requests at once and needs one."""
        return 1 if self.url is None else (self.connections or DEFAULT_HTTP_CONNECTIONS)


_ENTRIES = TypeAdapter(list[McpServerConfig])


def parse_mcp_servers(value: Any) -> list[McpServerConfig]:
    """The entries of `CHATKIT_MCP_SERVERS` (a JSON text, or an already-parsed list).

    Raises `ValueError` with one line naming the entry and the problem; it quotes no input
    value (a header could hold a token)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, list):
        raise ValueError('expected a JSON list like [{"name": "files", "url": "https://…/mcp"}]')
    try:
        servers = _ENTRIES.validate_python(value)
    except ValidationError as exc:
        raise ValueError(_describe(exc, value)) from None
    seen: set[str] = set()
    for server in servers:
        if server.name.casefold() in seen:
            raise ValueError(f"two servers are named {server.name!r}; names must be unique")
        seen.add(server.name.casefold())
    return servers


def _describe(exc: ValidationError, value: list[Any]) -> str:
    error = exc.errors(include_input=False, include_url=False)[0]
    location = list(error["loc"])
    where = "entry"
    if location and isinstance(location[0], int):
        index = int(location.pop(0))
        entry = value[index] if index < len(value) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        where = f"entry {index + 1}" + (f" ({name!r})" if isinstance(name, str) and NAME_PATTERN.match(name) else "")
    field = ".".join(str(part) for part in location)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field (known: name, url, headers, connections, command, args, env, cwd, tools, timeout)"
    return f"{where}: {field + ': ' if field else ''}{message}"
