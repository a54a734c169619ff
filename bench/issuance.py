"""Session-issuance throughput of the real API against a floor, over real HTTP.

Run:  cd /work/main && .venv/bin/python -m bench.issuance [--concurrency 32] [--requests 3000]
      [--warmup 200] [--rounds 3] [--client raw|httpx] [--pin]    (about 30-60 s on 2 cores)

Each run starts a fresh uvicorn subprocess (one worker, `--loop asyncio --http h11`, warning
log level, no access log; identical for both servers) on a free 127.0.0.1 port with a fresh
temp data dir, sends a warm-up, then a fixed number of `POST /api/chatkit/session` requests
(API-key bearer, `{"userId", "workflowId": "assistant"}`) with exactly `--concurrency` in
flight. The servers (factories in `bench/_apps.py`):

- ours:  `chatkit_app.api.app.create_api()` with services built from the environment.
- floor: a bare Starlette route doing only what issuance must do: `hmac.compare_digest`
  bearer check, JSON parse, HS256 JWT encode (pyjwt), one raw sqlite3 INSERT into the same
  table (WAL, `synchronous=NORMAL`, autocommit) and a 201 JSON session object.

The default client is a minimal asyncio HTTP/1.1 keep-alive client (one connection per
in-flight request): httpx.AsyncClient saturates a core before the floor server does
(`--client httpx` to see it). Runs alternate floor, ours, floor, ours, ... and the medians
are compared; per run it also prints server CPU per request and the CPU used by other
processes, since a busy machine skews single runs (floor-vs-floor runs differ by ~15%).
Every response must be 201 with a token; any failed request, or a server that does not
start, makes the exit status 1. The last line is `issuance ratio ours/floor = X.XX`
(requests/s of ours divided by requests/s of the floor).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
SESSION_PATH = "/api/chatkit/session"
APPS = {"floor": "bench._apps:floor", "ours": "bench._apps:ours"}
STARTUP_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 30.0


class BenchError(RuntimeError):
    """The benchmark cannot produce a trustworthy figure."""


@dataclass(frozen=True)
class RunResult:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    client_cpu: float
    server_cpu: float
    other_cpu: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def server_us_per_request(self) -> float:
        return self.server_cpu * self.seconds / max(1, self.requests) * 1e6

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --------------------------------------------------------------------------- servers


def machine_busy_seconds() -> float:
    """CPU-seconds all processes spent busy so far (Linux /proc/stat; 0 elsewhere)."""
    try:
        ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = ticks[3] + ticks[4]  # idle + iowait
    guest = sum(ticks[8:])  # guest time is already counted in user
    return (sum(ticks) - idle - guest) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(data_dir: Path, secret: str, api_key: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REFLEX_ENV_MODE", None)
    env.update(
        CHATKIT_DATA_DIR=str(data_dir),
        CHATKIT_SECRET=secret,
        CHATKIT_API_KEY=api_key,
        DATABASE_URL="",  # never let a stray .env point the app at another database
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


class Server:
    """One server subprocess serving one factory; always stopped by `stop()`.

    `http="granian"` serves it with Granian (`workers` worker processes, ASGI), as `reflex
    run` serves the backend; otherwise uvicorn (one process) with that HTTP implementation
    (`h11`, `httptools`)."""

    def __init__(
        self,
        factory: str,
        env: dict[str, str],
        log_path: Path,
        loop: str,
        http: str,
        cpus: set[int] | None,
        workers: int = 1,
    ) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "wb")  # closed in stop()
        if http == "granian":
            command = [
                sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--workers", str(workers),
                "--loop", loop, "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "warning", "--no-access-log", factory,
            ]  # fmt: skip
        else:
            command = [
                sys.executable, "-m", "uvicorn", "--factory", factory,
                "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "warning", "--no-access-log", "--loop", loop, "--http", http,
            ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        if cpus:
            os.sched_setaffinity(self.process.pid, cpus)  # before the server starts any thread

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise BenchError(f"server not listening on port {self.port} after {timeout:.0f}s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the server so far: its process and every process under it
        (Granian's worker), all threads (Linux /proc)."""
        total, pending, seen = 0, [self.process.pid], set()
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pending += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
        return total / os.sysconf("SC_CLK_TCK")

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


# --------------------------------------------------------------------------- clients

Send = Callable[[int], Awaitable[None]]


def request_body(index: int) -> bytes:
    return json.dumps({"userId": f"bench-user-{index}", "workflowId": "assistant"}).encode()


def check_session(status: int, body: bytes) -> None:
    if status != 201:
        raise BenchError(f"status {status}: {body[:200]!r}")
    parsed: Any = json.loads(body)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("token"), str) or not parsed["token"]:
        raise BenchError(f"201 without a token: {body[:200]!r}")


class RawClient:
    """Minimal HTTP/1.1 keep-alive client: one pooled connection per in-flight request."""

    def __init__(self, port: int, api_key: str, size: int) -> None:
        self._port = port
        self._head = (
            f"POST {SESSION_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {api_key}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
        ).encode()
        self._idle: asyncio.LifoQueue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.LifoQueue(size)
        self._open: list[asyncio.StreamWriter] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if not self._idle.empty():
            return self._idle.get_nowait()
        reader, writer = await asyncio.open_connection("127.0.0.1", self._port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._open.append(writer)
        return reader, writer

    async def send(self, index: int) -> None:
        reader, writer = await self._connection()
        body = request_body(index)
        writer.write(self._head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {
            name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])
        }
        if "content-length" not in headers:
            writer.close()
            raise BenchError(f"status {status} without Content-Length")
        payload = await reader.readexactly(int(headers["content-length"]))
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._idle.put_nowait((reader, writer))
        check_session(status, payload)

    async def aclose(self) -> None:
        for writer in self._open:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class HttpxClient:
    def __init__(self, port: int, api_key: str, size: int) -> None:
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
            limits=limits,
            timeout=REQUEST_TIMEOUT_S,
        )

    async def send(self, index: int) -> None:
        response = await self._client.post(SESSION_PATH, content=request_body(index))
        check_session(response.status_code, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()


async def drive(send: Send, start: int, count: int, concurrency: int) -> tuple[list[float], list[str]]:
    """`count` requests with exactly `concurrency` in flight; latencies in seconds."""
    latencies: list[float] = []
    errors: list[str] = []
    next_index = start
    end = start + count

    async def worker() -> None:
        nonlocal next_index
        while next_index < end:
            index = next_index
            next_index += 1
            began = time.perf_counter()
            try:
                await asyncio.wait_for(send(index), REQUEST_TIMEOUT_S)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            else:
                latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


async def load(name: str, server: Server, api_key: str, args: argparse.Namespace) -> RunResult:
    client_type = RawClient if args.client == "raw" else HttpxClient
    client = client_type(server.port, api_key, args.concurrency)
    try:
        _, warm_errors = await drive(client.send, 0, args.warmup, args.concurrency)
        if warm_errors:
            raise BenchError(f"{name}: {len(warm_errors)} warm-up errors, first: {warm_errors[0]}")
        cpu0, server_cpu0, busy0 = time.process_time(), server.cpu_seconds(), machine_busy_seconds()
        began = time.perf_counter()
        latencies, errors = await drive(client.send, args.warmup, args.requests, args.concurrency)
        seconds = time.perf_counter() - began
        client_cpu = (time.process_time() - cpu0) / seconds
        server_cpu = (server.cpu_seconds() - server_cpu0) / seconds
        other_cpu = max(0.0, (machine_busy_seconds() - busy0) / seconds - client_cpu - server_cpu)
    finally:
        await client.aclose()
    for message in errors[:5]:
        print(f"  {name} error: {message}", file=sys.stderr)
    return RunResult(name, len(latencies), len(errors), seconds, latencies, client_cpu, server_cpu, other_cpu)


def run_one(name: str, args: argparse.Namespace, secret: str, api_key: str) -> RunResult:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-issuance-{name}-"))
    server: Server | None = None
    try:
        env = server_env(workdir / "data", secret, api_key)
        server = Server(APPS[name], env, workdir / "server.log", args.loop, args.http, args.server_cpus)
        server.wait_ready()
        return asyncio.run(load(name, server, api_key, args))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.issuance", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per run (default 3000)")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests per run (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="floor+ours pairs, alternated (default 3)")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw", help="load client (default raw)")
    parser.add_argument("--loop", default="asyncio", help="uvicorn --loop for both servers (default asyncio)")
    parser.add_argument("--http", default="h11", help="uvicorn --http for both servers (default h11)")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the server to the last CPU and the client to the others (off by default: servers run as deployed)",
    )
    args = parser.parse_args(argv)
    if min(args.concurrency, args.requests, args.rounds) < 1 or args.warmup < 0:
        parser.error("--concurrency, --requests and --rounds must be >= 1, --warmup >= 0")
    args.server_cpus, args.client_cpus = split_cpus() if args.pin else (None, None)
    args.pin_cpus = args.server_cpus is not None and args.client_cpus is not None
    return args


def split_cpus() -> tuple[set[int] | None, set[int] | None]:
    """Server on the last usable CPU, client on the others, so they never share a core."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    usable = sorted(os.sched_getaffinity(0))
    if len(usable) < 2:
        return None, None
    return {usable[-1]}, set(usable[:-1])


def report(result: RunResult) -> None:
    print(
        f"  {result.name:<5} {result.rps:8.0f} req/s  p50 {result.percentile(0.50) * 1000:7.1f} ms"
        f"  p99 {result.percentile(0.99) * 1000:7.1f} ms  errors {result.errors}"
        f"  server {result.server_us_per_request:5.0f} us cpu/req"
        f"  (cpus busy: server {result.server_cpu:.2f}, client {result.client_cpu:.2f}, other {result.other_cpu:.2f})",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    secret, api_key = secrets.token_urlsafe(48), secrets.token_urlsafe(32)
    pinning = f"server {sorted(args.server_cpus)} client {sorted(args.client_cpus)}" if args.pin_cpus else "off"
    print(
        f"issuance: {args.requests} requests (+{args.warmup} warm-up), concurrency {args.concurrency}, "
        f"{args.rounds} rounds, client {args.client}, uvicorn --loop {args.loop} --http {args.http}, "
        f"{os.cpu_count()} cpus, cpu pinning {pinning}",
        flush=True,
    )
    if args.client_cpus:
        os.sched_setaffinity(0, args.client_cpus)
    results: dict[str, list[RunResult]] = {"floor": [], "ours": []}
    try:
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}", flush=True)
            for name in ("floor", "ours"):
                result = run_one(name, args, secret, api_key)
                results[name].append(result)
                report(result)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    medians: dict[str, float] = {}
    for name, runs in results.items():
        medians[name] = statistics.median(run.rps for run in runs)
        p50 = statistics.median(run.percentile(0.50) for run in runs) * 1000
        p99 = statistics.median(run.percentile(0.99) for run in runs) * 1000
        cpu = statistics.median(run.server_us_per_request for run in runs)
        summary = f"{name:<5} median {medians[name]:8.0f} req/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
        print(f"{summary}  server {cpu:5.0f} us cpu/req")
    errors = sum(run.errors for runs in results.values() for run in runs)
    ratio = medians["ours"] / medians["floor"] if medians["floor"] > 0 else 0.0
    print(f"issuance ratio ours/floor = {ratio:.2f}")
    if errors:
        print(f"error: {errors} requests failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
