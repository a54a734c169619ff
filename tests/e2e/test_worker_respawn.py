"""`reflex run --env prod` with several workers, as an operator runs it: `CHATKIT_WORKERS`
workers with Redis, a worker killed with SIGKILL is replaced while the others keep
answering, and more than one worker without Redis refuses to start with one line."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.prod_site import (
    REFLEX,
    REPO_ROOT,
    SERVER_PIDS,
    free_port,
    running_reflex,
    session_pids,
    wait_until,
)

pytestmark = pytest.mark.slow
API_KEY = "ak-" + secrets.token_urlsafe(32)
RUN = secrets.token_hex(4)  # user ids of this run: the rate limits' counts in the shared Redis are their own
_OURS = ("CHATKIT_", "DATABASE_URL", "REDIS_URL", "REFLEX_REDIS_URL", "GRANIAN_")


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env.update(
        CHATKIT_DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite:///{data_dir / 'chat.db'}",
        CHATKIT_SECRET=secrets.token_urlsafe(48),
        CHATKIT_API_KEY=API_KEY,
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_CHECK_LATEST_VERSION="false",
    )
    env.update(extra)
    return env


def _workers(supervisor: int) -> set[int]:
    """The Granian workers: the supervisor's (the `reflex` process's) children running the
    same command line (forked from it)."""
    command = Path(f"/proc/{supervisor}/cmdline").read_bytes()
    workers = set()
    for pid in session_pids(supervisor):
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == supervisor and Path(f"/proc/{pid}/cmdline").read_bytes() == command:
                workers.add(pid)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return workers


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _reaped(pid: int) -> bool:
    """Gone from /proc (Granian reaps its workers at once). Not merely a zombie: the main
    thread of a dying process is one while its other threads still hold its sockets."""
    return not Path(f"/proc/{pid}").exists()


@pytest.fixture
def two_workers(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, int, Path]]:
    # Granian's own log at info: it says when a worker is respawned and started.
    env = _env(tmp_path, CHATKIT_WORKERS="2", REDIS_URL=redis_url, GRANIAN_LOG_LEVEL="info")
    log_path = tmp_path / "server.log"
    arguments = ["--backend-only", "--backend-port", "{port}", "--loglevel", "info"]
    with running_reflex(arguments, cwd=REPO_ROOT, env=env, log_path=log_path, ready=["/ping"], timeout=120) as url:
        yield url, SERVER_PIDS[url], log_path


def _serves(client: httpx.Client) -> None:
    """A page and a database-backed API call, several times (any worker may take them)."""
    for index in range(6):
        assert client.get("/ping").status_code == 200
        created = client.post(
            "/api/chatkit/session", json={"userId": f"u{RUN}{index}"}, headers={"Authorization": f"Bearer {API_KEY}"}
        )
        assert created.status_code == 201, created.text


def test_a_killed_worker_is_replaced_and_the_others_keep_serving(two_workers: tuple[str, int, Path]) -> None:
    url, supervisor, log_path = two_workers
    wait_until(lambda: len(_workers(supervisor)) == 2, timeout=60)
    first = _workers(supervisor)
    victim, survivor = sorted(first)

    # A new connection for every request: one kept alive by the killed worker dies with it
    # (a browser or a proxy then connects again).
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=url, timeout=10, limits=fresh) as client:
        _serves(client)
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: _reaped(victim), timeout=10)
        _serves(client)  # while the replacement starts: the other worker answers

        wait_until(lambda: len(_workers(supervisor) - first) == 1, timeout=60)
        replacement = (_workers(supervisor) - first).pop()
        # Granian says so once the replacement serves (connections that reach it while it
        # starts may be reset: Granian's own start, not ours).
        wait_until(lambda: log_path.read_text(errors="replace").count("Started worker-") == 3, timeout=60)
        assert _alive(survivor)
        assert "Respawning worker" in log_path.read_text(errors="replace")

        # The replacement serves: with the other original worker gone too, it is the only one
        # (a different worker than the one just respawned: no crash loop).
        os.kill(survivor, signal.SIGKILL)
        wait_until(lambda: _reaped(survivor), timeout=10)
        assert _alive(replacement)
        _serves(client)
        wait_until(lambda: len(_workers(supervisor)) == 2, timeout=60)
    assert _alive(supervisor)


def test_several_workers_without_redis_refuse_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [REFLEX, "run", "--env", "prod", "--backend-only", "--backend-port", str(free_port())],
        cwd=REPO_ROOT,
        env=_env(tmp_path, CHATKIT_WORKERS="3"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "CHATKIT_WORKERS=3 needs Redis" in lines[0] and "REDIS_URL" in lines[0]
