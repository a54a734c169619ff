"""The whole site as a user deploys it: `reflex run --env prod` (frontend and backend on
one port) from a copy of the app's files, so its production build gets its own `.web`
and does not disturb the development site of the other browser tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_prod_backend import REFLEX, _free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def copy_site(target: Path) -> None:
    """The app's own files only."""
    ignore = shutil.ignore_patterns("__pycache__", "external")
    for name in ("chatkit_app", "assets", "reflex.lock"):
        shutil.copytree(REPO_ROOT / name, target / name, ignore=ignore)
    shutil.copy2(REPO_ROOT / "rxconfig.py", target / "rxconfig.py")


@contextmanager
def running_site(root: Path, env: dict[str, str]) -> Iterator[str]:
    """Serve the copy at `root` on a free port; yields its URL (logs in root/site.log)."""
    port = _free_port()
    log_path = root / "site.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [REFLEX, "run", "--env", "prod", "--frontend-port", str(port), "--backend-port", str(port)],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                pytest.fail(f"site exited early:\n{log_path.read_text()}")
            try:
                if httpx.get(url, timeout=2).status_code == 200 and httpx.get(f"{url}/ping").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"site did not start:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
