"""Hosts as the deploy kit runs them, without containers: `make build` once in a copy of
the app, host directories laid out as the Dockerfile's `app` image, `python -m
chatkit_app.serve` per host (Granian, `CHATKIT_WORKERS`, respawn), and the real `caddy`
with deploy/Caddyfile in front. Used by test_deploy_kit.py and test_multi_host.py."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.prod_site import REPO_ROOT, copy_site, free_port, session_pids, wait_serving
from tests.e2e.test_prod_backend import _env

CADDY = shutil.which("caddy")
PYTHON = str(REPO_ROOT / ".venv" / "bin" / "python")
# What the Dockerfile's `app` stage copies from the build stage (besides the venv).
APP_IMAGE_FILES = ("rxconfig.py", "assets", "chatkit_app", ".web/build/client")


def require_caddy() -> str:
    if CADDY is None:
        if os.environ.get("CI"):
            pytest.fail("caddy is missing: `make caddy` installs Debian's package")
        pytest.skip("caddy is missing (sudo apt-get install caddy)")
    return CADDY


@dataclass
class Kit:
    """One frontend build for `public_url` (Caddy's address) and where it lies."""

    source: Path
    public_port: int

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    @property
    def frontend(self) -> Path:
        return self.source / ".web" / "build" / "client"

    def host(self, target: Path) -> Path:
        """A host directory with the app image's files (its own `data` goes beside them)."""
        for item in APP_IMAGE_FILES:
            path = target / item
            path.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if (self.source / item).is_dir() else shutil.copy2)(self.source / item, path)
        return target


def build_kit(root: Path, **settings: str) -> Kit:
    """`make build` as the Dockerfile's build stage runs it (the repository's venv and bun),
    in a copy of the app at root/source, for a public URL on a free port; the native UI
    unless `settings` say otherwise."""
    require_caddy()
    source = root / "source"
    copy_site(source)
    kit = Kit(source, free_port())
    env = _env(source / "data", **{"CHATKIT_UI_MODE": "native", **settings})
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt"):
        shutil.copy2(REPO_ROOT / name, source / name)
    built = subprocess.run(
        ["make", "build", f"VENV={REPO_ROOT / '.venv'}", f"CHATKIT_PUBLIC_URL={kit.public_url}"],
        cwd=source,
        env={k: v for k, v in env.items() if k != "CHATKIT_SECRET"},  # a build needs no secret
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return kit


@contextmanager
def process(command: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`command` in a session of its own (its process group is killed afterwards)."""
    with open(log, "ab") as out:
        started = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield started
    finally:
        kill(started)


def kill(started: subprocess.Popen[bytes]) -> None:
    """A crash: SIGKILL to the whole process group (supervisor and workers), no clean-up."""
    if started.poll() is None:
        os.killpg(started.pid, signal.SIGKILL)
    started.wait(timeout=30)
    # The workers die with it (a signal to the group), a moment after their supervisor.
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in session_pids(started.pid)):
        assert time.monotonic() < deadline, f"processes of {started.pid} still running after SIGKILL"
        time.sleep(0.05)


def workers_of(started: subprocess.Popen[bytes]) -> set[int]:
    """Granian's worker processes: the supervisor's children."""
    return {pid for pid in session_pids(started.pid) if _parent(pid) == started.pid and _running(pid)}


def kill_workers(started: subprocess.Popen[bytes]) -> None:
    """Every worker of a host dies (SIGKILL, as the out-of-memory killer does); returns once
    Granian has started as many new ones and the supervisor still runs."""
    dead = workers_of(started)
    assert dead, f"no workers under {started.pid}"
    for pid in dead:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while len(workers_of(started) - dead) < len(dead):
        assert started.poll() is None, "the host stopped instead of replacing its workers"
        assert time.monotonic() < deadline, "the workers were not replaced"
        time.sleep(0.1)


def _running(pid: int) -> bool:
    """Not gone and not a zombie (dead, waiting to be reaped by whoever adopted it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def host_env(host: Path, kit: Kit, secret: str, database: str, redis: str, **extra: str) -> dict[str, str]:
    """A host of the cluster: its own data directory, the shared database and Redis."""
    values = {
        "DATABASE_URL": database,
        "REDIS_URL": redis,
        "CHATKIT_SECRET": secret,
        "CHATKIT_PUBLIC_URL": kit.public_url,
        "CHATKIT_UI_MODE": "native",
        "CHATKIT_WORKERS": "1",
    }
    return _env(host / "data", **{**values, **extra})


@contextmanager
def serving(host: Path, env: dict[str, str], port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`python -m chatkit_app.serve` in `host` until killed; yields (its URL, its process)
    once /readyz answers 200 (logs in host/serve.log)."""
    port = port or free_port()
    log = host / "serve.log"
    command = [PYTHON, "-m", "chatkit_app.serve", "--host", "127.0.0.1", "--port", str(port)]
    with process(command, cwd=host, env=env, log=log) as started:
        wait_serving(started, [f"http://127.0.0.1:{port}/readyz"], log, 120)
        yield f"http://127.0.0.1:{port}", started


@contextmanager
def caddy(kit: Kit, backends: list[str], workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """deploy/Caddyfile with the real `caddy` at the kit's public URL, in front of
    `backends` (URLs); yields once it answers /healthz."""
    env = dict(
        os.environ,
        CHATKIT_SITE_ADDRESS=kit.public_url,
        CHATKIT_BACKENDS=" ".join(url.removeprefix("http://") for url in backends),
        CHATKIT_FRONTEND_DIR=str(kit.frontend),
        CADDY_ADMIN=f"127.0.0.1:{free_port()}",
        XDG_DATA_HOME=str(workdir / "caddy-data"),
        XDG_CONFIG_HOME=str(workdir / "caddy-config"),
    )
    command = [require_caddy(), "run", "--config", str(REPO_ROOT / "deploy" / "Caddyfile"), "--adapter", "caddyfile"]
    log = workdir / "caddy.log"
    with process(command, cwd=workdir, env=env, log=log) as started:
        wait_serving(started, [f"{kit.public_url}/healthz"], log, 120)
        yield started


@dataclass
class Host:
    """A host of a cluster, started, killed and started again on its own port (the
    balancer knows it by address); `python -m chatkit_app.serve` in `directory`."""

    name: str
    directory: Path
    port: int
    env: dict[str, str] = field(repr=False)
    process: subprocess.Popen[bytes] | None = None
    stack: ExitStack = field(default_factory=ExitStack, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.stack.close()
        _, self.process = self.stack.enter_context(serving(self.directory, self.env, port=self.port))

    def kill(self) -> None:
        """The host crashes: its supervisor and workers, SIGKILL, nothing saved on the way out."""
        assert self.process is not None
        kill(self.process)

    def log(self) -> str:
        return (self.directory / "serve.log").read_text(errors="replace")

    def workers(self) -> set[int]:
        """Granian's worker processes: the supervisor's children."""
        assert self.process is not None
        return workers_of(self.process)

    def worker_serving(self, client_port: int) -> int:
        """The worker holding this host's end of the connection from `client_port`."""
        inodes = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
            if local == self.port and remote == client_port:
                inodes.add(f"socket:[{fields[9]}]")
        for pid in self.workers():
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if str(fd.readlink()) in inodes:
                        return pid
                except OSError:
                    continue  # closed meanwhile
        raise AssertionError(f"no worker of host {self.name} holds the connection from port {client_port}")


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def scripts(html: str) -> list[str]:
    """The build's script names a page points at."""
    return sorted(set(re.findall(r"/assets/[\w.-]+\.js", html)))
