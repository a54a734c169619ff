"""Scale: one backend worker against two, and 1,000 streams at once, on PostgreSQL + Redis.

Run:  .venv/bin/python -m bench.scale [--streams 200] [--big 1000] [--rounds 3] [--tokens 200]
      [--delay-ms 5] [--pool 5] [--profile N]                     (about 1 min on 2 cores)

Needs `CHATKIT_TEST_DATABASE_URL` and `CHATKIT_TEST_REDIS_URL` (as the tests): a fresh schema
(dropped after) and an empty Redis database index (its users' keys deleted after). The fake
model `bench._apps:fake_model` and ours, `bench._apps:ours` (the API factory), each on
Granian + uvloop, ours with `--workers 1` and `--workers 2` (the server software of
`python -m chatkit_app.serve`), multi-process metrics, the per-user limits raised (printed;
still checked in Redis) and `CHATKIT_DB_POOL_SIZE=--pool`.

Streams are bench/streaming.py's, one user per concurrent stream, every text checked
character for character. Runs of `--streams` alternate one worker and two `--rounds` times
(medians); then `--big` streams on two workers: errors, time to first token, the workers'
RSS (/proc) before, at the peak and after. Per run, in CPUs busy: each worker, the fake,
this client, PostgreSQL (all its clients), Redis, interrupts (loopback TCP) and other
processes: what a ratio below target is bound by. A failed stream: exit status 1.
`--profile N` instead samples one worker with py-spy during N streams (`bench/_pyspy.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import sqlalchemy as sa

from bench._pyspy import Sampler, summarize
from bench.issuance import BenchError, Server, machine_busy_seconds, server_env
from bench.streaming import Bench, RunResult

RAISED_LIMITS = {  # per user; one user per stream makes 1 session and a few messages a minute
    "CHATKIT_LIMIT_MESSAGES_PER_MINUTE": "1000",
    "CHATKIT_LIMIT_SESSIONS_PER_MINUTE": "1000",
    "CHATKIT_LIMIT_THREADS_PER_DAY": "100000",
}
RATIO_TARGET, RSS_TARGET_MB = 1.5, 500


def tree(root: int) -> dict[int, tuple[float, int]]:
    """pid -> (CPU seconds, RSS bytes) of `root` and every process under it (Linux /proc)."""
    found: dict[int, tuple[float, int]] = {}
    pending, tick, page = [root], os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    while pending:
        pid = pending.pop()
        with contextlib.suppress(OSError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = ((int(fields[11]) + int(fields[12])) / tick, int(fields[21]) * page)
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    return found


def service_cpu(client: redis.Redis) -> dict[str, float]:
    """CPU seconds so far of PostgreSQL (its backends, and those that exited: the
    postmaster's children time; whoever their clients) and of Redis (its own count)."""
    tick, stats = os.sysconf("SC_CLK_TCK"), {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            comm, _, rest = entry.joinpath("stat").read_text().partition(" (")[2].rpartition(")")
            if comm == "postgres":
                stats[int(entry.name)] = rest.split()
    postgres = sum(
        sum(int(v) for v in fields[11:13] + (fields[13:15] if int(fields[1]) not in stats else []))
        for fields in stats.values()
    )
    cpu: dict[str, Any] = client.info("cpu")  # type: ignore[assignment]
    irq = sum(int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[6:8])  # loopback TCP
    redis_cpu = float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
    return {"postgres": postgres / tick, "redis": redis_cpu, "irq": irq / tick}


def workers(server: Server) -> dict[int, tuple[float, int]]:
    return {pid: v for pid, v in tree(server.process.pid).items() if pid != server.process.pid}


class Services:
    """A fresh schema in the test PostgreSQL and an empty database index in the test Redis."""

    def __init__(self) -> None:
        base, redis_base = os.environ.get("CHATKIT_TEST_DATABASE_URL"), os.environ.get("CHATKIT_TEST_REDIS_URL")
        if not base or not redis_base:
            raise BenchError(
                "set CHATKIT_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) and "
                "CHATKIT_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0): PostgreSQL and Redis must be running"
            )
        self.run = secrets.token_hex(4)
        self.schema = f"bench_scale_{self.run}"
        self.admin = sa.create_engine(base)
        try:
            with self.admin.begin() as connection:
                connection.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
        except sa.exc.OperationalError:
            raise BenchError(f"PostgreSQL at {sa.make_url(base).host} does not answer: start it") from None
        self.database_url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{self.schema}"
        where = urlsplit(redis_base)
        try:
            indexes = [redis.Redis.from_url(where._replace(path=f"/{n}").geturl()).dbsize() for n in range(16)]
        except redis.ConnectionError:
            self.close()
            raise BenchError(f"Redis at {where.hostname}:{where.port or 6379} does not answer: start it") from None
        empty = [n for n in range(1, 16) if indexes[n] == 0]
        if not empty:
            raise BenchError("no empty Redis database index (1-15) to run in")
        self.redis_url = where._replace(path=f"/{secrets.choice(empty)}").geturl()
        self.redis = redis.Redis.from_url(self.redis_url)

    def sessions(self) -> int:
        """Connections opened so far to the database (by every client of it: PostgreSQL >= 14)."""
        with self.admin.connect() as connection:
            query = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            return int(connection.execute(sa.text(query)).scalar_one())

    def close(self) -> None:
        for key in self.redis.scan_iter(match=f"*{self.run}*", count=1000) if hasattr(self, "redis") else ():
            self.redis.delete(key)
        with self.admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()


def ours_env(args: argparse.Namespace, workdir: Path, services: Services, fake: Server, count: int) -> dict[str, str]:
    env = server_env(workdir / f"data-{count}", args.secret, args.api_key)
    env.update(RAISED_LIMITS)
    env.update(
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        CHATKIT_WORKERS=str(count),
        CHATKIT_DB_POOL_SIZE=str(args.pool),
        PROMETHEUS_MULTIPROC_DIR=str(workdir / f"metrics-{count}"),
        CHATKIT_METRICS_DIR_READY=str(workdir / f"metrics-{count}"),
        OPENAI_API_KEY="dummy",
        OPENAI_BASE_URL=f"http://127.0.0.1:{fake.port}/v1",
        CHATKIT_OPENAI_API="responses",
    )
    (workdir / f"metrics-{count}").mkdir()
    return env


async def measured(bench: Bench, fake: Server, db: Services, count: int, sample_rss: bool = False) -> dict[str, Any]:
    """One run of `count` streams at once, with the CPU of every party and the workers' RSS."""
    before, fake0, mine0, busy0 = workers(bench.ours), fake.cpu_seconds(), time.process_time(), machine_busy_seconds()
    services0, sessions0 = service_cpu(db.redis), db.sessions()
    peak = [sum(rss for _, rss in before.values())]

    async def sample() -> None:
        while True:
            await asyncio.sleep(0.25)
            peak[0] = max(peak[0], sum(rss for _, rss in workers(bench.ours).values()))

    sampler = asyncio.create_task(sample()) if sample_rss else None
    try:
        result: RunResult = await bench.run("ours", count, count)
    finally:
        if sampler:
            sampler.cancel()
    after = workers(bench.ours)
    cpu = {pid: after[pid][0] - before.get(pid, (0.0, 0))[0] for pid in after}
    fake_cpu, client_cpu = fake.cpu_seconds() - fake0, time.process_time() - mine0
    services = {name: used - services0[name] for name, used in service_cpu(db.redis).items()}
    other = machine_busy_seconds() - busy0 - sum(cpu.values()) - fake_cpu - client_cpu - sum(services.values())
    rss = (sum(r for _, r in before.values()), peak[0], sum(r for _, r in after.values()))
    found = dict(result=result, cpu=cpu, fake=fake_cpu, client=client_cpu, other=max(0.0, other), rss=rss)
    return {**found, **services, "connects": db.sessions() - sessions0}


def show(label: str, run: dict[str, Any]) -> None:
    result: RunResult = run["result"]
    seconds, total = result.seconds, sum(run["cpu"].values()) or 1e-9
    busy = " ".join(f"{cpu / seconds:.2f}({cpu / total:.0%})" for _, cpu in sorted(run["cpu"].items()))
    for name in ("fake", "client", "postgres", "redis", "irq", "other"):
        busy += f"  {name} {run[name] / seconds:.2f}"
    p50, p99 = result.ttft(0.5) * 1000, result.ttft(0.99) * 1000
    print(
        f"  {label:<9} @{result.concurrency:<4} rate {result.rate:6.0f} tok/s  ttft p50 {p50:5.0f} ms  p99 {p99:5.0f}"
        f" ms  {seconds:4.1f} s  {total / result.tokens * 1e6:3.0f} us/token  {result.frames_per_stream:3.0f} frames/"
        f"stream  {run['connects']} db connects | cpus busy: workers {busy}",
        flush=True,
    )


async def compare(args: argparse.Namespace, one: Bench, two: Bench, fake: Server, db: Services) -> None:
    await one.sessions(args.streams)
    await two.sessions(max(args.streams, args.big))
    for bench in (one, two):  # warm-up: imports, pools, caches
        for count in (2, min(20, args.streams)):
            await bench.run("ours", count, count)
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}", flush=True)
        for count, bench in ((1, one), (2, two)) if round_number % 2 else ((2, two), (1, one)):
            runs[count].append(await measured(bench, fake, db, args.streams))
            show(f"{count} worker{'s' * (count > 1)}", runs[count][-1])
    rates = {n: statistics.median(r["result"].rate for r in runs[n]) for n in runs}
    cpus = {n: statistics.median(sum(r["cpu"].values()) / r["result"].seconds for r in runs[n]) for n in runs}
    cost = {n: statistics.median(sum(r["cpu"].values()) / r["result"].tokens * 1e6 for r in runs[n]) for n in runs}
    shares = [min(r["cpu"].values()) / (sum(r["cpu"].values()) or 1e-9) for r in runs[2]]
    for n, name in ((1, "one worker "), (2, "two workers")):
        print(
            f"scale {name} @{args.streams}: {rates[n]:.0f} tok/s, the workers {cpus[n]:.2f} cpus busy,"
            f" {cost[n]:.0f} us cpu/token (medians)"
        )
    print(f"scale two workers: the less busy worker did {min(shares):.0%}-{max(shares):.0%} of the workers' CPU")
    print(f"scale rate ratio two/one @{args.streams} = {rates[2] / rates[1]:.2f}  (target >= {RATIO_TARGET})")


async def big(args: argparse.Namespace, two: Bench, fake: Server, db: Services) -> None:
    print(f"--- {args.big} streams at once on two workers", flush=True)
    run = await measured(two, fake, db, args.big, sample_rss=True)
    show("2 workers", run)
    result: RunResult = run["result"]
    base, peak, end = (value / 2**20 for value in run["rss"])
    print(f"scale @{args.big} errors = 0 (of {len(result.streams)} streams, every text checked)")
    print(f"scale @{args.big} ttft p50 = {result.ttft(0.5) * 1000:.0f} ms, p99 = {result.ttft(0.99) * 1000:.0f} ms")
    print(
        f"scale @{args.big} workers' RSS: {base:.0f} MB before, {peak:.0f} MB at the peak, {end:.0f} MB after:"
        f" growth {peak - base:.0f} MB  (target < {RSS_TARGET_MB} MB)"
    )


async def profile(args: argparse.Namespace, one: Bench, fake: Server, db: Services, out: Path) -> None:
    """N streams on one worker with py-spy sampling it; the top costs of chatkit_app/."""
    await one.sessions(args.profile)
    await one.run("ours", 20, 20)
    (pid,) = workers(one.ours)
    sampler = Sampler(pid, out)
    await asyncio.sleep(1.0)  # py-spy attached
    show("1 worker", await measured(one, fake, db, args.profile))
    summarize(sampler.stop())


def clean(server: Server) -> Server:
    if server.process.poll() is None and ("Traceback" in server.log_tail() or "ERROR" in server.log_tail()):
        raise BenchError(f"{server.log_path.name} logged errors:\n{server.log_tail()}")
    return server


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=200, help="concurrent streams, one vs two workers")
    parser.add_argument("--big", type=int, default=1000, help="concurrent streams on two workers (0: skip)")
    parser.add_argument("--rounds", type=int, default=3, help="one/two-worker pairs, alternated (medians)")
    parser.add_argument("--tokens", type=int, default=200, help="text deltas per answer")
    parser.add_argument("--delay-ms", type=float, default=5.0, help="ms between deltas")
    parser.add_argument("--pool", type=int, default=5, help="CHATKIT_DB_POOL_SIZE per worker")
    parser.add_argument("--profile", type=int, default=0, help="only profile one worker at N streams (py-spy)")
    args = parser.parse_args(argv)
    if min(args.streams, args.rounds, args.tokens, args.pool) < 1 or min(args.big, args.profile) < 0:
        parser.error("--streams, --rounds, --tokens and --pool must be >= 1")
    args.secret, args.api_key = secrets.token_urlsafe(48), secrets.token_urlsafe(32)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    servers: list[Server] = []
    services: Services | None = None
    try:
        services = Services()
        print(
            f"scale: fake model {args.tokens} tokens at {args.delay_ms:g} ms; ours on Granian + uvloop, PostgreSQL "
            f"schema {services.schema}, {services.redis_url}; {os.cpu_count()} cpus; per worker "
            f"CHATKIT_DB_POOL_SIZE={args.pool} (up to {2 * args.pool} connections); raised per-user limits: "
            + ", ".join(f"{k}={v}" for k, v in RAISED_LIMITS.items()),
            flush=True,
        )
        fake_env = server_env(workdir / "fake-data", args.secret, args.api_key)
        fake_env.update(BENCH_FAKE_TOKENS=str(args.tokens), BENCH_FAKE_DELAY_MS=str(args.delay_ms))
        fake = Server("bench._apps:fake_model", fake_env, workdir / "fake.log", "uvloop", "granian", None)
        servers.append(fake)
        counts = (1,) if args.profile else (1, 2)
        ours = {n: Server("bench._apps:ours", ours_env(args, workdir, services, fake, n),
                          workdir / f"ours-{n}.log", "uvloop", "granian", None, workers=n) for n in counts}  # fmt: skip
        servers += ours.values()
        for server in servers:
            server.wait_ready()
        benches = {n: Bench(args, fake, ours[n], args.api_key, users=f"bench-scale-{services.run}-w{n}") for n in ours}
        if args.profile:
            asyncio.run(profile(args, benches[1], fake, services, workdir / "profile.txt"))
        else:
            asyncio.run(compare(args, benches[1], benches[2], fake, services))
            clean(ours[1]).stop()  # 1,000 streams on two workers only
            if args.big:
                asyncio.run(big(args, benches[2], fake, services))
        for server in ours.values():
            clean(server)
    except Exception as exc:  # any failed stream, timeout or broken connection
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        for server in servers:
            with contextlib.suppress(Exception):
                print(f"--- {server.log_path.name}:\n{server.log_tail()}", file=sys.stderr)
        return 1
    finally:
        for server in servers:
            server.stop()
        if services:
            services.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
