"""The settings of several workers and machines: which Redis (`REDIS_URL` or Reflex's
`REFLEX_REDIS_URL`) serves Reflex's state and the rate limits, how many workers
`reflex run` starts, and what `rxconfig.py` hands Reflex and Granian (read in a fresh
interpreter, as the `reflex` command imports it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from limits.aio.storage import RedisStorage
from pydantic import ValidationError

from chatkit_app.limits import build_policy
from chatkit_app.settings import Settings, usable_cores

REPO_ROOT = Path(__file__).resolve().parents[2]
_OURS = ("CHATKIT_", "DATABASE_URL", "REDIS_URL", "REFLEX_REDIS_URL", "GRANIAN_", "REFLEX_USE_GRANIAN")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_OURS):
            monkeypatch.delenv(name)


def settings_for(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, chatkit_data_dir=tmp_path, **values)


def test_workers_default_to_one_without_redis_and_the_cores_with_it(tmp_path: Path) -> None:
    assert settings_for(tmp_path).workers == 1
    assert settings_for(tmp_path, redis_url="redis://127.0.0.1:6379/0").workers == usable_cores()
    assert settings_for(tmp_path, reflex_redis_url="redis://127.0.0.1:6379/0").workers == usable_cores()
    assert settings_for(tmp_path, redis_url="redis://h/0", chatkit_workers=3).workers == 3
    assert settings_for(tmp_path, chatkit_workers=1).workers == 1
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)


def test_more_than_one_worker_without_redis_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        settings_for(tmp_path, chatkit_workers=2)
    assert "CHATKIT_WORKERS=2 needs Redis" in str(refused.value)


def test_either_redis_name_is_read_and_two_different_ones_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFLEX_REDIS_URL", "redis://reflex-name:6379/0")
    assert settings_for(tmp_path).resolved_redis_url == "redis://reflex-name:6379/0"
    monkeypatch.setenv("REDIS_URL", "redis://reflex-name:6379/0")
    assert settings_for(tmp_path).resolved_redis_url == "redis://reflex-name:6379/0"
    monkeypatch.setenv("REDIS_URL", "redis://other:6379/0")
    with pytest.raises(ValidationError, match="name different servers"):
        settings_for(tmp_path)
    monkeypatch.setenv("REDIS_URL", " ")
    assert settings_for(tmp_path).resolved_redis_url == "redis://reflex-name:6379/0"  # blank: unset


def test_a_redis_url_must_look_like_one(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a Redis URL"):
        settings_for(tmp_path, redis_url="localhost:6379")


def test_the_database_settings_are_bounded(tmp_path: Path) -> None:
    defaults = settings_for(tmp_path)
    assert (defaults.chatkit_db_pool_size, defaults.chatkit_db_timeout_seconds) == (5, 5.0)
    for bad in ({"chatkit_db_pool_size": 0}, {"chatkit_db_timeout_seconds": 0}):
        with pytest.raises(ValidationError):
            settings_for(tmp_path, **bad)


async def test_the_rate_limits_use_reflex_s_redis_name_too(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, reflex_redis_url="redis://127.0.0.1:1/0")

    async def transaction(_work: Any) -> Any:
        raise AssertionError("not used")

    policy = build_policy(settings, transaction)
    assert isinstance(policy.storage, RedisStorage)


_PROBE = """
import json, os
import rxconfig
import granian.server
config = rxconfig.config
print(json.dumps({
    "mode": str(config.state_manager_mode.value),
    "redis_url": config.redis_url,
    "workers": os.environ.get("GRANIAN_WORKERS"),
    "granian": os.environ.get("REFLEX_USE_GRANIAN"),
    "respawn": granian.server.Server(target="x:y").respawn_failed_workers,
    "kill_timeout": granian.server.Server(target="x:y").workers_kill_timeout,
}))
"""


def _rxconfig(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    base.update(CHATKIT_DATA_DIR=str(tmp_path), REFLEX_TELEMETRY_ENABLED="false", **env)
    return subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=REPO_ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_rxconfig_hands_reflex_the_redis_and_granian_the_workers(tmp_path: Path) -> None:
    done = _rxconfig(
        tmp_path, REDIS_URL="redis://127.0.0.1:6379/0", CHATKIT_WORKERS="3", CHATKIT_SHUTDOWN_GRACE_SECONDS="7"
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "mode": "redis",
        "redis_url": "redis://127.0.0.1:6379/0",
        "workers": "3",
        "granian": "true",
        "respawn": True,
        "kill_timeout": 7,  # SIGTERM: replies in flight get CHATKIT_SHUTDOWN_GRACE_SECONDS
    }
    alone = json.loads(_rxconfig(tmp_path).stdout.strip().splitlines()[-1])
    assert (alone["mode"], alone["redis_url"], alone["workers"]) == ("memory", None, "1")


def test_rxconfig_refuses_several_workers_without_redis_in_one_line(tmp_path: Path) -> None:
    done = _rxconfig(tmp_path, CHATKIT_WORKERS="4")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and lines[0].startswith("chatkit_app: settings:")
        and "CHATKIT_WORKERS=4 needs Redis" in lines[0]
    )
