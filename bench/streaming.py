"""Streaming through `/api/chatkit` against a floor: the same fake model read directly.

Run:  cd /work/main && .venv/bin/python -m bench.streaming [--rounds 3] [--streams 50]
      [--sequential 6] [--tokens 200] [--delay-ms 5] [--server granian|uvicorn]
      [--loop uvloop|asyncio] [--modes on,off]                       (about 3 min on 2 cores)

Two server subprocesses on free 127.0.0.1 ports (one worker each, warning log level, no
access log):

- the fake model, `bench._apps:fake_model`: OpenAI Responses-API SSE, `--tokens` text deltas
  `--delay-ms` apart on a fixed schedule, with a text made from a nonce in the request;
- ours, `bench._apps:ours`, served as `reflex run` serves the backend: Granian (one
  worker) on uvloop (`--server uvicorn` for uvicorn + h11, `--loop asyncio`):
  `chatkit_app.api.app.create_api()` with services from the environment (fresh
  `CHATKIT_DATA_DIR`, random `CHATKIT_SECRET` and `CHATKIT_API_KEY`,
  `OPENAI_API_KEY=dummy`, `OPENAI_BASE_URL=<fake>/v1`, `CHATKIT_OPENAI_API=responses`),
  once with the fast paths on, then again, a fresh server, with `CHATKIT_FAST_PATHS=off`
  (`--modes`): the price of the plain SDK paths, measured against the same floor.

A stream of ours is a `threads.create` posted with a session token from
`POST /api/chatkit/session` (made before the clock starts); a floor stream is a
`POST /v1/responses` to the fake, read with the same minimal asyncio HTTP/1.1 client
(chunked body, SSE frames, every frame JSON-decoded). Scenarios: `--sequential` streams one
after another (@1), and `--streams` streams started together (@50), alternating floor and
ours each round. Per stream: time to first text delta (from writing the request); per run:
aggregate rate (all tokens / time from the first request to the last stream's end) and the
server's CPU per token (/proc utime+stime of the server's processes, all threads).

Every stream is verified: the text deltas, concatenated in arrival order, must equal the
fake's text exactly, and ours' finished `thread.item.done` must carry that full text, with
no `error` event. Any failure, or a server that does not start, makes the exit status 1.
Figures are medians over rounds; the final lines are, for the fast paths on, with their
targets, `streaming ttft added @1 = X ms`, `streaming ttft added p50 @50 = X ms`,
`streaming rate ratio ours/floor @50 = X.XX` and `streaming server cpu per token = X us`
(ours, @50), then the same four with the fast paths off, named `streaming (fast paths off)
...` and without targets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._apps import fake_text
from bench.issuance import BenchError, Server, machine_busy_seconds, server_env

STREAM_TIMEOUT_S = 60.0
MODES = {"on": "fast paths on", "off": "fast paths off (CHATKIT_FAST_PATHS=off)"}
CHATKIT_PATH = "/api/chatkit"
SESSION_PATH = "/api/chatkit/session"
TEXT_DELTA = "assistant_message.content_part.text_delta"


@dataclass
class StreamResult:
    ttft: float  # seconds from writing the request to the first text delta
    seconds: float  # request written -> body ended
    frames: int


@dataclass
class RunResult:
    name: str
    concurrency: int
    streams: list[StreamResult]
    tokens: int
    seconds: float  # first request written -> last stream ended
    server_cpu: float  # CPU-seconds used by the measured server during the run (0: floor)
    other_cpu: float  # CPU-seconds used by every other process (incl. fake and client)

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def ttft(self, fraction: float) -> float:
        ordered = sorted(s.ttft for s in self.streams)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    @property
    def cpu_us_per_token(self) -> float:
        return self.server_cpu / max(1, self.tokens) * 1e6

    @property
    def frames_per_stream(self) -> float:
        return statistics.mean(s.frames for s in self.streams)


# --------------------------------------------------------------------------- client


class Connection:
    """One HTTP/1.1 request on its own connection; the response body is decoded as SSE."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    def send(self, port: int, path: str, token: str, body: bytes) -> None:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )

    async def head(self) -> tuple[int, dict[str, str]]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        return status, headers

    async def body(self, headers: dict[str, str]) -> bytes:
        """The whole (non-streaming) body."""
        if "content-length" in headers:
            return await self.reader.readexactly(int(headers["content-length"]))
        chunks = bytearray()
        async for chunk in self.chunks(headers):
            chunks += chunk
        return bytes(chunks)

    async def chunks(self, headers: dict[str, str]) -> Any:
        if headers.get("transfer-encoding", "").lower() != "chunked":
            while chunk := await self.reader.read(65536):
                yield chunk
            return
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return
            chunk = await self.reader.readexactly(size + 2)
            yield chunk[:-2]

    async def frames(self, headers: dict[str, str]) -> Any:
        """(arrival time, decoded `data:` JSON) per SSE frame."""
        buffer = b""
        async for chunk in self.chunks(headers):
            now = time.perf_counter()
            buffer += chunk
            *complete, buffer = buffer.split(b"\n\n")
            for frame in complete:
                data = [line[5:].lstrip(b" ") for line in frame.split(b"\n") if line.startswith(b"data:")]
                if data:
                    yield now, json.loads(b"\n".join(data))
        if buffer.strip():
            raise BenchError(f"stream ended inside a frame: {buffer[:200]!r}")

    def close(self) -> None:
        self.writer.close()


async def request_json(port: int, path: str, token: str, payload: dict[str, Any]) -> tuple[int, Any]:
    conn = await Connection.open(port)
    try:
        conn.send(port, path, token, json.dumps(payload).encode())
        status, headers = await conn.head()
        return status, json.loads(await conn.body(headers) or b"null")
    finally:
        conn.close()


def chatkit_request(nonce: str) -> bytes:
    content = [{"type": "input_text", "text": f"Please answer {nonce}"}]
    params = {"input": {"content": content, "attachments": [], "inference_options": {}}}
    return json.dumps({"type": "threads.create", "params": params}).encode()


def model_request(nonce: str) -> bytes:
    message = {"role": "user", "type": "message", "content": [{"type": "input_text", "text": f"Please answer {nonce}"}]}
    return json.dumps({"model": "gpt-4.1-mini", "input": [message], "stream": True}).encode()


async def one_stream(port: int, path: str, token: str, body: bytes, expected: str, ours: bool) -> StreamResult:
    """Streams one answer and verifies it; raises BenchError on any discrepancy."""
    conn = await Connection.open(port)
    try:
        began = time.perf_counter()
        conn.send(port, path, token, body)
        status, headers = await conn.head()
        if status != 200 or not headers.get("content-type", "").startswith("text/event-stream"):
            raise BenchError(f"{path}: status {status} {headers.get('content-type')}: {await conn.body(headers)!r}")
        first: float | None = None
        parts: list[str] = []
        frames = 0
        final: str | None = None
        item_id: str | None = None
        async for arrived, event in conn.frames(headers):
            frames += 1
            kind = event.get("type")
            if kind == "error" or kind == "response.failed":
                raise BenchError(f"{path}: error event {event}")
            delta: str | None = None
            if ours:
                if kind == "thread.item.updated" and event["update"]["type"] == TEXT_DELTA:
                    if event["update"]["content_index"] != 0 or item_id not in (None, event["item_id"]):
                        raise BenchError(f"unexpected delta target: {event}")
                    item_id, delta = event["item_id"], event["update"]["delta"]
                elif kind == "thread.item.done" and event["item"]["type"] == "assistant_message":
                    if item_id is not None and event["item"]["id"] != item_id:
                        raise BenchError(f"done item {event['item']['id']} != streamed item {item_id}")
                    final = "".join(part["text"] for part in event["item"]["content"])
            elif kind == "response.output_text.delta":
                delta = event["delta"]
            elif kind == "response.completed":
                final = "".join(
                    part["text"] for item in event["response"]["output"] for part in item.get("content", [])
                )
            if delta is not None:
                if first is None:
                    first = arrived
                parts.append(delta)
        ended = time.perf_counter()
    finally:
        conn.close()
    text = "".join(parts)
    if text != expected:
        pairs = enumerate(zip(text, expected, strict=False))
        at = next((i for i, (a, b) in pairs if a != b), min(len(text), len(expected)))
        raise BenchError(
            f"{path}: streamed text differs from the model's at char {at} "
            f"(got {len(text)} chars, expected {len(expected)}): {text[at : at + 40]!r} vs {expected[at : at + 40]!r}"
        )
    if final != expected:
        raise BenchError(f"{path}: the finished item's text is not the streamed text: {str(final)[:80]!r}")
    assert first is not None
    return StreamResult(first - began, ended - began, frames)


# --------------------------------------------------------------------------- runs


@dataclass
class Bench:
    args: argparse.Namespace
    fake: Server
    ours: Server
    api_key: str
    tokens: list[str] = field(default_factory=list)  # session tokens, one per concurrent stream
    counter: int = 0
    users: str = "bench-stream"  # user ids are `<users>-<index>`

    def nonce(self) -> str:
        self.counter += 1
        return f"nonce-{self.counter:04x}{secrets.token_hex(6)}"

    async def sessions(self, count: int) -> None:
        async def create(index: int) -> str:
            payload = {"userId": f"{self.users}-{index}", "workflowId": "assistant"}
            status, body = await request_json(self.ours.port, SESSION_PATH, self.api_key, payload)
            if status != 201 or not isinstance(body, dict) or not body.get("token"):
                raise BenchError(f"session: status {status}: {str(body)[:200]}")
            return str(body["token"])

        self.tokens = list(await asyncio.gather(*(create(i) for i in range(count))))

    def stream_call(self, name: str, index: int) -> Callable[[], Any]:
        nonce = self.nonce()
        expected = fake_text(nonce, self.args.tokens)
        if name == "floor":
            body = model_request(nonce)
            return lambda: one_stream(self.fake.port, "/v1/responses", "dummy", body, expected, ours=False)
        body = chatkit_request(nonce)
        token = self.tokens[index % len(self.tokens)]
        return lambda: one_stream(self.ours.port, CHATKIT_PATH, token, body, expected, ours=True)

    async def run(self, name: str, concurrency: int, count: int) -> RunResult:
        server = self.ours if name == "ours" else None
        cpu0 = server.cpu_seconds() if server else 0.0
        busy0 = machine_busy_seconds()
        calls = [self.stream_call(name, i) for i in range(count)]
        began = time.perf_counter()
        if concurrency == 1:
            streams = [await asyncio.wait_for(call(), STREAM_TIMEOUT_S) for call in calls]
        else:
            streams = list(await asyncio.gather(*(asyncio.wait_for(call(), STREAM_TIMEOUT_S) for call in calls)))
        seconds = time.perf_counter() - began
        server_cpu = (server.cpu_seconds() - cpu0) if server else 0.0
        other_cpu = max(0.0, machine_busy_seconds() - busy0 - server_cpu)
        return RunResult(name, concurrency, streams, count * self.args.tokens, seconds, server_cpu, other_cpu)


def report(result: RunResult) -> None:
    cpu = f"  server {result.cpu_us_per_token:5.0f} us cpu/token" if result.name == "ours" else ""
    print(
        f"  {result.name:<5} @{result.concurrency:<3} ttft p50 {result.ttft(0.5) * 1000:7.1f} ms"
        f"  p99 {result.ttft(0.99) * 1000:7.1f} ms  rate {result.rate:7.0f} tok/s"
        f"  frames/stream {result.frames_per_stream:5.0f}{cpu}"
        f"  (cpus busy: server {result.server_cpu / result.seconds:.2f},"
        f" other {result.other_cpu / result.seconds:.2f})",
        flush=True,
    )


async def measure(bench: Bench) -> dict[tuple[str, int], list[RunResult]]:
    args = bench.args
    await bench.sessions(args.streams)
    for name in ("floor", "ours"):  # warm-up: imports, connections pools, JIT-free caches
        await bench.run(name, 1, 2)
        await bench.run(name, min(10, args.streams), min(10, args.streams))
    results: dict[tuple[str, int], list[RunResult]] = {}
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}", flush=True)
        for concurrency, count in ((1, args.sequential), (args.streams, args.streams)):
            for name in ("floor", "ours"):
                result = await bench.run(name, concurrency, count)
                results.setdefault((name, concurrency), []).append(result)
                report(result)
    return results


def summarize(results: dict[tuple[str, int], list[RunResult]], streams: int) -> dict[str, float]:
    medians: dict[str, float] = {}
    for (name, concurrency), runs in results.items():
        key = f"{name}@{concurrency}"
        medians[key + ".p50"] = statistics.median(r.ttft(0.5) for r in runs) * 1000
        medians[key + ".p99"] = statistics.median(r.ttft(0.99) for r in runs) * 1000
        medians[key + ".rate"] = statistics.median(r.rate for r in runs)
        medians[key + ".cpu"] = statistics.median(r.cpu_us_per_token for r in runs)
        cpu = f"  server {medians[key + '.cpu']:5.0f} us cpu/token" if name == "ours" else ""
        print(
            f"{name:<5} @{concurrency:<3} median ttft p50 {medians[key + '.p50']:7.1f} ms"
            f"  p99 {medians[key + '.p99']:7.1f} ms  rate {medians[key + '.rate']:7.0f} tok/s{cpu}"
        )
    return medians


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.streaming", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=50, help="concurrent streams (default 50)")
    parser.add_argument("--sequential", type=int, default=6, help="one-at-a-time streams per @1 run (default 6)")
    parser.add_argument("--rounds", type=int, default=3, help="floor+ours pairs per scenario, alternated (default 3)")
    parser.add_argument("--tokens", type=int, default=200, help="text deltas per answer (default 200)")
    parser.add_argument("--delay-ms", type=float, default=5.0, help="ms between deltas (default 5)")
    parser.add_argument(
        "--server",
        choices=("granian", "uvicorn"),
        default="granian",
        help="serve ours with Granian, one worker, as `reflex run` does (default), or uvicorn + h11",
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="ours' event loop: uvloop (default; what Granian picks when installed) or asyncio",
    )
    parser.add_argument("--modes", default="on,off", help="fast paths on, off or both, in this order (default on,off)")
    args = parser.parse_args(argv)
    if min(args.streams, args.sequential, args.rounds, args.tokens) < 1 or args.delay_ms < 0:
        parser.error("--streams, --sequential, --rounds and --tokens must be >= 1, --delay-ms >= 0")
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not args.modes or any(mode not in MODES for mode in args.modes):
        parser.error("--modes takes on, off or on,off")
    return args


def figures(mode: str, medians: dict[str, float], n: int) -> None:
    """The four final lines of one mode; the targets are the fast paths' (mode on)."""
    name = "streaming" if mode == "on" else "streaming (fast paths off)"
    on = mode == "on"
    lines = [
        (f"ttft added @1 = {medians['ours@1.p50'] - medians['floor@1.p50']:.1f} ms", "<= 5 ms"),
        (f"ttft added p50 @{n} = {medians[f'ours@{n}.p50'] - medians[f'floor@{n}.p50']:.1f} ms", "<= 150 ms"),
        (f"rate ratio ours/floor @{n} = {medians[f'ours@{n}.rate'] / medians[f'floor@{n}.rate']:.2f}", ">= 0.85"),
        (f"server cpu per token = {medians[f'ours@{n}.cpu']:.0f} us", "<= 80 us"),
    ]
    for figure, target in lines:
        print(f"{name} {figure}" + (f"  (target {target})" if on else ""))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    secret, api_key = secrets.token_urlsafe(48), secrets.token_urlsafe(32)
    print(
        f"streaming: {args.tokens} tokens at {args.delay_ms:g} ms, @1 ({args.sequential} in a row) and "
        f"@{args.streams}, {args.rounds} rounds, ours on {'Granian' if args.server == 'granian' else 'uvicorn + h11'}"
        f" + {args.loop} (the model: uvicorn + h11 + asyncio), {os.cpu_count()} cpus",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-streaming-"))
    servers: list[Server] = []
    medians: dict[str, dict[str, float]] = {}
    try:
        fake_env = server_env(workdir / "fake-data", secret, api_key)
        fake_env.update(BENCH_FAKE_TOKENS=str(args.tokens), BENCH_FAKE_DELAY_MS=str(args.delay_ms))
        fake = Server("bench._apps:fake_model", fake_env, workdir / "fake.log", "asyncio", "h11", None)
        servers.append(fake)
        fake.wait_ready()
        for mode in args.modes:
            print(f"--- {MODES[mode]}", flush=True)
            env = server_env(workdir / f"data-{mode}", secret, api_key)
            env.update(
                OPENAI_API_KEY="dummy",
                OPENAI_BASE_URL=f"http://127.0.0.1:{fake.port}/v1",
                CHATKIT_OPENAI_API="responses",
                CHATKIT_FAST_PATHS=mode,
            )
            http = "granian" if args.server == "granian" else "h11"
            ours = Server("bench._apps:ours", env, workdir / f"server-{mode}.log", args.loop, http, None)
            servers.append(ours)
            ours.wait_ready()
            results = asyncio.run(measure(Bench(args, fake, ours, api_key)))
            log = ours.log_tail()
            ours.stop()
            if "Traceback" in log or "ERROR" in log:
                raise BenchError(f"the server ({MODES[mode]}) logged errors:\n{log}")
            medians[mode] = summarize(results, args.streams)
    except Exception as exc:  # any failed stream, timeout or broken connection
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        for server in servers:
            with contextlib.suppress(Exception):
                print(f"--- {server.log_path.name}:\n{server.log_tail()}", file=sys.stderr)
        return 1
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    for mode in args.modes:
        figures(mode, medians[mode], args.streams)
    return 0


if __name__ == "__main__":
    sys.exit(main())
