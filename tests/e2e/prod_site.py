"""`reflex run --env prod` as a user deploys it, in a subprocess on a free port: the
backend alone (from the repo), or the whole site (frontend and backend on one port) from a
copy of the app's files, so its production build gets its own `.web` and does not disturb
the development site of the other browser tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

REPO_ROOT = Path(__file__).resolve().parents[2]
REFLEX = str(Path(sys.executable).with_name("reflex"))
# Debian's Chromium (Playwright's own browser download does not work here), for the browser
# tests and bench/frontend.py alike.
CHROMIUM = os.environ.get("CHATKIT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


# The process of each running site, by URL (its memory is measured from /proc).
SERVER_PIDS: dict[str, int] = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def session_pids(leader_pid: int) -> list[int]:
    """The processes of a server started in its own session (`start_new_session`): the
    `reflex` CLI and its backend processes."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[3]) == leader_pid:
                pids.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return pids


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    """Polls `condition` (e.g. a database query) until it holds; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def copy_site(target: Path) -> None:
    """The app's own files only."""
    ignore = shutil.ignore_patterns("__pycache__", "external")
    for name in ("chatkit_app", "assets", "reflex.lock"):
        shutil.copytree(REPO_ROOT / name, target / name, ignore=ignore)
    shutil.copy2(REPO_ROOT / "rxconfig.py", target / "rxconfig.py")


def wait_serving(
    process: subprocess.Popen[bytes], urls: list[str], log_path: Path, timeout: float, ok: tuple[int, ...] = (200,)
) -> None:
    """Until every one of `urls` answers a status in `ok`; fails the test with the end of
    the log when `process` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"{urls[0]}: exited with {process.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            if all(httpx.get(url, timeout=2).status_code in ok for url in urls):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{urls[0]}: not up after {timeout:.0f} s:\n{log_path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)


@contextmanager
def running_reflex(
    arguments: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log_path: Path,
    ready: list[str],
    timeout: float,
    port: int | None = None,
) -> Iterator[str]:
    """`reflex run --env prod <arguments>` (which must include `{port}` where the port
    goes) until every path in `ready` answers 200 (or 303: a page sending a stranger to
    sign in); yields the URL, stops the process group afterwards. Fails the test with the
    log when it exits or never gets ready."""
    port = port or free_port()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [REFLEX, "run", "--env", "prod", *(part.format(port=port) for part in arguments)],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    SERVER_PIDS[url] = process.pid
    try:
        wait_serving(process, [f"{url}{path}" for path in ready], log_path, timeout, ok=(200, 303))
        yield url
    finally:
        SERVER_PIDS.pop(url, None)
        if process.poll() is None:
            os.killpg(process.pid, 15)
        process.wait(timeout=30)


@contextmanager
def running_site(root: Path, env: dict[str, str], *, port: int | None = None) -> Iterator[str]:
    """Serve the copy at `root` (frontend and backend on one port); yields its URL (logs
    in root/site.log)."""
    arguments = ["--frontend-port", "{port}", "--backend-port", "{port}"]
    with running_reflex(
        arguments, cwd=root, env=env, log_path=root / "site.log", ready=["/", "/ping"], timeout=300, port=port
    ) as url:
        yield url


class OwnRedis:
    """A Redis of a test's own, one it may stop and start again mid-test (no persistence:
    started again, it is empty)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        wait_until(self.pings, timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def pings(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False


@contextmanager
def redis_server(port: int) -> Iterator[OwnRedis]:
    """An `OwnRedis` on `port`, started; stopped at the end whatever happened."""
    own = OwnRedis(port)
    own.start()
    try:
        yield own
    finally:
        own.stop()
