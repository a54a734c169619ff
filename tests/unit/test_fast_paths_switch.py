"""`CHATKIT_FAST_PATHS=off` runs the plain SDK paths: the openai client as it comes (default
transport, no early calls), and ChatKit's own `process` and serialization; answers are the
same. (The API tests run in both modes: see the Makefile's `test` target.)"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from chatkit.server import ChatKitServer
from openai.resources.responses import AsyncResponses
from sqlalchemy import Engine

from chatkit_app.chatkit_server.server import AppChatKitServer
from chatkit_app.chatkit_server.store import SQLModelStore
from chatkit_app.core.context import RequestContext
from chatkit_app.fast_paths import FastModelClient, ModelClient, close_shared_clients, enabled, shared_client
from chatkit_app.fast_paths.pacing import PacedAioHttpClient
from chatkit_app.settings import REPO_ROOT, Settings
from chatkit_app.workflows.openai_agent import assistant_workflow
from chatkit_app.workflows.registry import WorkflowRegistry
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, running_fake

CTX = RequestContext(user_id="user-1", session_id="cks_1", workflow_id="assistant")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior(text="Plain and simple."))


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, chatkit_data_dir=tmp_path / "data", **values)


@pytest.mark.parametrize(("value", "on"), [("off", False), ("false", False), ("0", False), ("on", True), ("1", True)])
def test_the_switch_reads_the_environment(
    value: str, on: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATKIT_FAST_PATHS", value)
    assert enabled(_settings(tmp_path)) is on
    monkeypatch.delenv("CHATKIT_FAST_PATHS")
    assert enabled(_settings(tmp_path)) is True  # on by default


async def test_off_the_model_client_is_the_plain_sdk_client(fake: FakeOpenAI, tmp_path: Path) -> None:
    base = {"openai_api_key": "k", "openai_base_url": fake.base_url, "chatkit_upstream_timeout_seconds": 7}
    try:
        plain = shared_client(_settings(tmp_path, chatkit_fast_paths=False, **base))
        fast = shared_client(_settings(tmp_path, chatkit_fast_paths=True, **base))
        assert type(plain) is ModelClient and isinstance(fast, FastModelClient)
        assert not isinstance(plain._client, PacedAioHttpClient)  # the SDK's default transport
        assert isinstance(plain._client._transport, httpx2.AsyncHTTPTransport)
        assert (plain.max_retries, plain.timeout) == (0, 7) == (fast.max_retries, fast.timeout)
        assert type(plain.responses).create is AsyncResponses.create
        key = ("m", secrets.token_hex(4))
        params = {"model": "m", "input": "hi", "instructions": key[1], "stream": True}
        for _ in range(2):  # learning is never enabled: no call is ever sent early
            copy = plain.with_options(timeout=5)
            assert copy.responses.start_early(key, ["hi"]) is False
            await copy.responses.early_call_sent(at_most=5)
            stream = await copy.responses.create(**params)
            assert "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])
            await copy.responses.close_early()
        assert len(fake.requests) == 2
    finally:
        await close_shared_clients()


def _server(engine: Engine, fake: FakeOpenAI, tmp_path: Path, *, fast: bool) -> AppChatKitServer:
    settings = _settings(
        tmp_path,
        openai_api_key="sk-test",
        openai_base_url=fake.base_url,
        chatkit_model="fake-model-1",
        chatkit_instructions=f"Answer plainly {secrets.token_hex(4)}.",
        chatkit_fast_paths=fast,
    )
    registry = WorkflowRegistry(settings=settings)
    registry.register(assistant_workflow(settings))
    return AppChatKitServer(SQLModelStore(engine), registry, fast_paths=fast)


async def _answer(server: AppChatKitServer, text: str) -> list[dict[str, Any]]:
    params = {"input": {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}}
    result = await server.process(json.dumps({"type": "threads.create", "params": params}), CTX)
    body = b"".join([chunk async for chunk in result])  # type: ignore[union-attr]
    return [json.loads(frame[6:]) for frame in body.split(b"\n\n") if frame.startswith(b"data: ")]


def _shape(events: list[dict[str, Any]]) -> tuple[list[Any], str, int]:
    """What a user sees of an answer, without ids and times: the events other than text
    deltas (the fast paths merge deltas that wait together), and the streamed text. (The
    new title, `thread.updated`, follows the first text by one event: counted apart.)"""
    shape, text, titled = [], "", 0
    for event in events:
        update = event.get("update", {})
        if update.get("type") == "assistant_message.content_part.text_delta":
            text += update["delta"]
        elif event["type"] == "thread.updated":
            titled += 1
        else:
            shape.append(
                (event["type"], update.get("type"), [c.get("text") for c in event.get("item", {}).get("content", [])])
            )
    return shape, text, titled


async def test_off_the_server_runs_the_sdks_process_with_the_same_answer(
    fake: FakeOpenAI, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain, fast = _server(engine, fake, tmp_path, fast=False), _server(engine, fake, tmp_path, fast=True)
    assert "_serialize" not in vars(plain) and "_serialize" in vars(fast)
    try:
        with caplog.at_level(logging.INFO, logger="chatkit"):
            off = await _answer(plain, "Hello?")
            assert any("Received request op" in r.getMessage() for r in caplog.records)  # ChatKitServer.process
            caplog.clear()
            on = await _answer(fast, "Hello?")
            assert not any("Received request op" in r.getMessage() for r in caplog.records)
    finally:
        await close_shared_clients()
    assert _shape(off) == _shape(on) and "Plain and simple." in json.dumps(off)
    assert [r.body["input"][0]["content"][0]["text"] for r in fake.requests] == ["Hello?", "Hello?"]
    assert ChatKitServer._serialize is not AppChatKitServer.__dict__.get("_serialize")


def test_private_names_of_dependencies_are_named_in_internals_only() -> None:
    """Outside `fast_paths/internals.py` (and `plain_internals.py`), no app module imports a private module or name of
    a dependency or calls a private method of a base class."""
    private = re.compile(
        r"(from|import) (openai|agents|chatkit(?!_app)|aiohttp|httpx2|reflex)[\w.]*\._\w+"
        r"|from (openai|agents|chatkit(?!_app)|aiohttp|httpx2|reflex)[\w.]* import .*\b_[a-z]\w*"
        r"|super\(\)\._[a-z]"
    )
    root = Path(__file__).resolve().parents[2] / "chatkit_app"
    offenders = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        if path.name not in ("internals.py", "plain_internals.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if private.search(line)
    ]
    assert offenders == []


# A private name the fast paths use, gone as after an upgrade (openai's own code keeps the
# reference it imported, so the SDK itself still works).
GONE = "import openai._streaming as gone; del gone.SSEDecoder\n"
ANSWER = """
import asyncio, json, sys
import chatkit_app.chatkit_app  # the app module, as `reflex run` imports it
from chatkit_app.core.context import RequestContext
from chatkit_app.services import get_services

async def main():
    request = {"type": "threads.create", "params": {"input": {
        "content": [{"type": "input_text", "text": "Hello?"}], "attachments": [], "inference_options": {}}}}
    context = RequestContext(user_id="u", session_id="s", workflow_id="assistant")
    result = await get_services().chatkit.process(json.dumps(request), context)
    print(b"".join([chunk async for chunk in result]).decode())

asyncio.run(main())
print("fast paths imported:", "chatkit_app.fast_paths.internals" in sys.modules)
"""


def _start(fake: FakeOpenAI, tmp_path: Path, fast_paths: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CHATKIT_FAST_PATHS": fast_paths,
        "CHATKIT_DATA_DIR": str(tmp_path / "data"),
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": fake.base_url,
        "CHATKIT_MODEL": "fake-model-1",
    }
    return subprocess.run(
        [sys.executable, "-c", GONE + textwrap.dedent(ANSWER)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_with_a_private_name_gone_the_app_still_answers_with_the_fast_paths_off(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    started = _start(fake, tmp_path, "off")
    assert started.returncode == 0, started.stderr[-2000:]
    assert "Plain and simple." in started.stdout
    assert started.stdout.strip().endswith("fast paths imported: False")


def test_with_a_private_name_gone_the_fast_paths_stop_the_start_with_one_line(fake: FakeOpenAI, tmp_path: Path) -> None:
    started = _start(fake, tmp_path, "on")
    assert started.returncode == 2
    line = started.stderr.strip().splitlines()[-1]
    assert line.startswith("chatkit_app: the fast paths cannot load (AttributeError: ")
    assert line.endswith("Set CHATKIT_FAST_PATHS=off to run the plain SDK paths.")
    assert "Traceback" not in started.stderr
