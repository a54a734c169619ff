"""One tool round through `/api/chatkit` against a floor: the same two model calls made directly.

Run:  .venv/bin/python -m bench.tool_round [--rounds 3] [--sequential 6] [--tokens 200]
      [--delay-ms 5] [--modes on,off]                                 (about a minute)

The fake model (`bench._apps:fake_model`) answers a request that offers the tool
`bench_lookup`, and holds no tool output yet, with a call of that tool (one response, at
once); any other request with the nonce's text. Ours runs workflow `assistant` as
`bench.tool_agents:one_lookup` (the built-in assistant's instructions and that one tool),
so one answer is: model call, the tool runs, model call, text.

A floor stream makes the same two calls itself with the same minimal client: the first,
read to its end, then the second with the call and its output added, streamed. Time to
first text is taken from writing the first request, in both. `tool round added @1` is
ours minus the floor (medians over rounds, streams one at a time); the target is at most
15 ms with the fast paths on; with them off (`CHATKIT_FAST_PATHS=off`, a server of its own)
the same figure is printed, without a target. Every answer's text is verified as in
`bench.streaming`, and ours must show the tool call as a workflow task that ends done.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._apps import TOOL_NAME, fake_text
from bench.issuance import BenchError, Server, server_env
from bench.streaming import CHATKIT_PATH, SESSION_PATH, TEXT_DELTA, Connection, request_json

STREAM_TIMEOUT_S = 30.0
TOOLS = [
    {
        "type": "function",
        "name": TOOL_NAME,
        "description": "Looks a query up.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        "strict": True,
    }
]


def _user_message(nonce: str) -> dict[str, Any]:
    return {"role": "user", "type": "message", "content": [{"type": "input_text", "text": f"Please answer {nonce}"}]}


async def _read(conn: Connection, port: int, path: str, token: str, body: dict[str, Any]) -> Any:
    conn.send(port, path, token, json.dumps(body).encode())
    status, headers = await conn.head()
    if status != 200:
        raise BenchError(f"{path}: status {status}: {await conn.body(headers)!r}")
    async for arrived, event in conn.frames(headers):
        yield arrived, event


async def floor_answer(port: int, nonce: str, expected: str) -> float:
    """Time to first text of the two direct model calls; verifies the text."""
    began = time.perf_counter()
    conn = await Connection.open(port)
    call: dict[str, Any] | None = None
    try:
        first = {"model": "gpt-4.1-mini", "input": [_user_message(nonce)], "tools": TOOLS, "stream": True}
        async for _, event in _read(conn, port, "/v1/responses", "dummy", first):
            if event.get("type") == "response.output_item.done" and event["item"]["type"] == "function_call":
                call = event["item"]
    finally:
        conn.close()
    if call is None:
        raise BenchError("the fake model did not call the tool")
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": f"found {nonce}"}
    second = {**first, "input": [_user_message(nonce), call, output]}
    conn = await Connection.open(port)
    parts: list[str] = []
    ttft: float | None = None
    try:
        async for arrived, event in _read(conn, port, "/v1/responses", "dummy", second):
            if event.get("type") == "response.output_text.delta":
                ttft = arrived - began if ttft is None else ttft
                parts.append(event["delta"])
    finally:
        conn.close()
    if "".join(parts) != expected or ttft is None:
        raise BenchError("floor: the streamed text differs from the model's")
    return ttft


async def our_answer(port: int, token: str, nonce: str, expected: str) -> float:
    content = [{"type": "input_text", "text": f"Please answer {nonce}"}]
    body = {
        "type": "threads.create",
        "params": {"input": {"content": content, "attachments": [], "inference_options": {}}},
    }
    began = time.perf_counter()
    conn = await Connection.open(port)
    parts: list[str] = []
    ttft: float | None = None
    tasks: list[dict[str, Any]] = []
    try:
        async for arrived, event in _read(conn, port, CHATKIT_PATH, token, body):
            kind = event.get("type")
            if kind == "error":
                raise BenchError(f"ours: error event {event}")
            if kind == "thread.item.updated" and event["update"]["type"] == TEXT_DELTA:
                ttft = arrived - began if ttft is None else ttft
                parts.append(event["update"]["delta"])
            elif kind == "thread.item.done" and event["item"]["type"] == "workflow":
                tasks = event["item"]["workflow"]["tasks"]
    finally:
        conn.close()
    if "".join(parts) != expected or ttft is None:
        raise BenchError("ours: the streamed text differs from the model's")
    if [task.get("status_indicator") for task in tasks] != ["complete"]:
        raise BenchError(f"ours: the tool call did not show as one finished task: {tasks}")
    return ttft


async def measure(args: argparse.Namespace, fake: Server, ours: Server, api_key: str) -> dict[str, float]:
    # One user per answer of ours, as many users would ask: each user's message limit
    # (CHATKIT_LIMIT_MESSAGES_PER_MINUTE) stays out of the measurement.
    answers = 2 + args.rounds * args.sequential
    tokens: list[str] = []
    for index in range(answers):
        payload = {"userId": f"bench-tools-{index}", "workflowId": "assistant"}
        status, session = await request_json(ours.port, SESSION_PATH, api_key, payload)
        if status != 201:
            raise BenchError(f"session: status {status}: {session}")
        tokens.append(str(session["token"]))
    next_token = iter(tokens)
    runs: dict[str, list[float]] = {"floor": [], "ours": []}

    async def one(name: str) -> float:
        nonce = f"nonce-{secrets.token_hex(8)}"
        expected = fake_text(nonce, args.tokens)
        if name == "floor":
            return await asyncio.wait_for(floor_answer(fake.port, nonce, expected), STREAM_TIMEOUT_S)
        return await asyncio.wait_for(our_answer(ours.port, next(next_token), nonce, expected), STREAM_TIMEOUT_S)

    for name in ("floor", "ours", "floor", "ours"):  # warm-up
        await one(name)
    for round_number in range(1, args.rounds + 1):
        for name in ("floor", "ours"):
            times = [await one(name) for _ in range(args.sequential)]
            runs[name].append(statistics.median(times) * 1000)
            print(f"  round {round_number} {name:<5} ttft p50 {runs[name][-1]:7.1f} ms", flush=True)
    return {name: statistics.median(values) for name, values in runs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tool_round", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sequential", type=int, default=6)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=5)
    parser.add_argument("--modes", default="on,off", help="fast paths on, off or both (default on,off)")
    args = parser.parse_args(argv)
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not modes or any(mode not in ("on", "off") for mode in modes):
        parser.error("--modes takes on, off or on,off")
    figures: dict[str, dict[str, float]] = {}
    for mode in modes:
        print(f"tool round, fast paths {mode}:", flush=True)
        medians = _run_mode(args, mode)
        if medians is None:
            return 1
        figures[mode] = medians
    for mode, medians in figures.items():
        print(
            f"tool round (fast paths {mode}): floor (two model calls) ttft p50 {medians['floor']:.1f} ms,"
            f" ours {medians['ours']:.1f} ms"
        )
    for mode, medians in figures.items():
        suffix = "" if mode == "on" else " (fast paths off)"
        print(f"tool round added @1{suffix} = {medians['ours'] - medians['floor']:.1f} ms")
    return 0


def _run_mode(args: argparse.Namespace, mode: str) -> dict[str, float] | None:
    secret, api_key = secrets.token_urlsafe(48), secrets.token_urlsafe(32)
    workdir = Path(tempfile.mkdtemp(prefix="bench-tools-"))
    servers: list[Server] = []
    try:
        fake_env = server_env(workdir / "fake-data", secret, api_key)
        fake_env.update(BENCH_FAKE_TOKENS=str(args.tokens), BENCH_FAKE_DELAY_MS=str(args.delay_ms))
        fake = Server("bench._apps:fake_model", fake_env, workdir / "fake.log", "asyncio", "h11", None)
        servers.append(fake)
        env = server_env(workdir / "data", secret, api_key)
        env.update(
            OPENAI_API_KEY="dummy",
            OPENAI_BASE_URL=f"http://127.0.0.1:{fake.port}/v1",
            CHATKIT_OPENAI_API="responses",
            CHATKIT_WORKFLOW_MODULES="assistant=bench.tool_agents:one_lookup",
            CHATKIT_FAST_PATHS=mode,
        )
        ours = Server("bench._apps:ours", env, workdir / "server.log", "uvloop", "granian", None)
        servers.append(ours)
        fake.wait_ready()
        ours.wait_ready()
        medians = asyncio.run(measure(args, fake, ours, api_key))
        log = ours.log_tail()
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        for server in servers:
            with contextlib.suppress(Exception):
                print(f"--- {server.log_path.name}:\n{server.log_tail()}", file=sys.stderr)
        return None
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if "Traceback" in log or "ERROR" in log:
        print(f"error: the server logged errors:\n{log}", file=sys.stderr)
        return None
    return medians


if __name__ == "__main__":
    sys.exit(main())
