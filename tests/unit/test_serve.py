"""`python -m chatkit_app.serve` refuses to start, with one line saying why, before any
worker starts: without a production secret, and without a frontend build."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from chatkit_app.settings import REPO_ROOT


def _serve(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CHATKIT_", "DATABASE_URL", "REDIS_URL"))}
    base.update(PYTHONPATH=str(REPO_ROOT), CHATKIT_DATA_DIR=str(cwd / "data"), **env)
    return subprocess.run(
        [sys.executable, "-m", "chatkit_app.serve", "--port", "0"],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_secret_is_refused_in_one_line(tmp_path: Path) -> None:
    result = _serve(tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "CHATKIT_SECRET" in result.stderr


def test_no_build_is_refused_in_one_line(tmp_path: Path) -> None:
    result = _serve(tmp_path, CHATKIT_SECRET=secrets.token_urlsafe(48))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "make build" in result.stderr
