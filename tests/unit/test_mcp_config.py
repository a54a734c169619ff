"""`CHATKIT_MCP_SERVERS`: what it accepts, and one line naming the problem when it cannot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from chatkit_app.core.mcp_config import McpServerConfig, parse_mcp_servers
from chatkit_app.settings import REPO_ROOT, Settings

TOKEN = "Bearer s3cr3t-token-value"


def test_an_http_and_a_stdio_server_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    value = [
        {"name": "files", "url": "https://tools.example.com/mcp", "headers": {"Authorization": TOKEN}},
        {"name": "git", "command": "uvx", "args": ["mcp-server-git"], "tools": ["git_status"], "timeout": 10},
    ]
    monkeypatch.setenv("CHATKIT_MCP_SERVERS", json.dumps(value))
    files, git = Settings(_env_file=None).chatkit_mcp_servers
    assert (files.name, files.url, files.transport) == ("files", "https://tools.example.com/mcp", "streamable HTTP")
    assert files.headers["Authorization"].get_secret_value() == TOKEN
    assert TOKEN not in repr(files)
    assert (git.command, git.args, git.tools, git.timeout, git.transport) == (
        "uvx",
        ["mcp-server-git"],
        ["git_status"],
        10,
        "stdio",
    )


def test_unset_or_blank_means_no_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).chatkit_mcp_servers == []
    monkeypatch.setenv("CHATKIT_MCP_SERVERS", "  ")
    assert Settings(_env_file=None).chatkit_mcp_servers == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[{", "not valid JSON"),
        ('{"name": "files"}', "expected a JSON list"),
        ('[{"name": "files"}]', "entry 1 ('files'): give either url (streamable HTTP) or command (stdio)"),
        ('[{"name": "x", "url": "http://a/mcp", "command": "y"}]', "not both or neither"),
        ('[{"name": "files", "url": "ftp://host/mcp"}]', "entry 1 ('files'): url: not an http(s) URL"),
        ('[{"url": "http://a/mcp"}]', "entry 1: name: Field required"),
        ('[{"name": "a/b", "url": "http://a/mcp"}]', "name: use 1-64 letters"),
        ('[{"name": "a", "url": "http://a/mcp", "verbose": true}]', "verbose: unknown field"),
        ('[{"name": "a", "command": "x", "timeout": 0}]', "timeout: Input should be greater than 0"),
        ('[{"name": "a", "command": "x", "tools": []}]', "tools: list at least one tool name"),
        ('[{"name": "a", "command": "x", "headers": {"A": "b"}}]', "headers and connections are for a url server"),
        ('[{"name": "a", "command": "x", "connections": 2}]', "headers and connections are for a url server"),
        ('[{"name": "a", "url": "http://a/mcp", "connections": 0}]', "connections: Input should be greater than"),
        ('[{"name": "a", "url": "http://a/mcp", "args": ["x"]}]', "args, env and cwd are for a stdio server"),
        ('[{"name": "a", "command": "x"}, {"name": "A", "command": "y"}]', "two servers are named 'A'"),
        ('[{"name": "a", "command": "x"}, {"name": "b"}]', "entry 2 ('b'):"),
        ('[{"name": "a", "url": "https://u:pw@a/mcp"}]', "url: no user:password@ and no ?query in it"),
        ('[{"name": "a", "url": "https://a/mcp?api_key=k"}]', "url: no user:password@ and no ?query in it"),
    ],
)
def test_a_bad_value_is_refused_with_the_entry_and_the_problem(value: str, expected: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_mcp_servers(value)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_refused_header_value_is_never_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = [{"name": "files", "url": "not a url", "headers": {"Authorization": TOKEN}}]
    monkeypatch.setenv("CHATKIT_MCP_SERVERS", json.dumps(bad))
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert "chatkit_mcp_servers" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)
    assert all("s3cr3t" not in json.dumps(error, default=str) for error in caught.value.errors(include_input=False))


def test_configs_may_be_given_as_objects() -> None:
    config = McpServerConfig(name="files", url="http://127.0.0.1:1/mcp")
    assert Settings(_env_file=None, chatkit_mcp_servers=[config]).chatkit_mcp_servers == [config]


def test_a_bad_value_stops_the_start_with_one_line(tmp_path: Path) -> None:
    bad = [{"name": "files", "url": "ftp://host/mcp", "headers": {"Authorization": TOKEN}}]
    env = {"CHATKIT_MCP_SERVERS": json.dumps(bad), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    script = "from chatkit_app.settings import settings_or_exit; settings_or_exit()"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("chatkit_app: setting chatkit_mcp_servers:")
    assert "entry 1 ('files'): url: not an http(s) URL" in lines[0]
    assert "s3cr3t" not in done.stderr
