"""The metrics directory shared by the worker processes of one host (one run).

`prometheus_client` keeps each process's metrics in files under `PROMETHEUS_MULTIPROC_DIR`
and sums them on a scrape. `prepare()` runs in `rxconfig.py`, which the `reflex` command
loads before it starts any worker, so the workers inherit the directory:

- the operator's `PROMETHEUS_MULTIPROC_DIR` when set, else `<CHATKIT_DATA_DIR>/metrics`;
- cleaned at start: files of processes that are gone (a previous run) are removed, so
  counters start from zero; files of live processes are kept;
- `CHATKIT_METRICS_DIR_READY` marks it prepared, so the workers (which load `rxconfig.py`
  again) leave it alone, and a worker that replaces a dead one keeps the run's counts.

Files are named `<kind>_<pid>.db`. Imports nothing of the app and not `prometheus_client`
(which must only be imported once the variable is set).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

logger = logging.getLogger("chatkit_app.ops")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
READY_ENV = "CHATKIT_METRICS_DIR_READY"
_FILE = re.compile(r"^(?P<kind>[a-z_]+)_(?P<pid>\d+)\.db$")
_LIVE_GAUGES = ("gauge_livesum_", "gauge_liveall_", "gauge_livemax_", "gauge_livemin_", "gauge_livemostrecent_")


def prepare(data_dir: Path) -> Path:
    """The run's metrics directory, created, cleaned and exported in the environment."""
    configured = os.environ.get(MULTIPROC_ENV, "").strip()
    if configured and os.environ.get(READY_ENV) == configured:
        return Path(configured)  # a worker of a run that prepared it
    path = Path(configured) if configured else data_dir / "metrics"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    removed = 0
    for pid, file in _files(path):
        if pid == os.getpid() or not _alive(pid):
            file.unlink(missing_ok=True)
            removed += 1
    if removed:
        logger.info("metrics directory %s: removed %d file(s) of a previous run", path, removed)
    os.environ[MULTIPROC_ENV] = str(path)
    os.environ[READY_ENV] = str(path)
    return path


def forget_dead_processes(path: str | Path) -> None:
    """Drop the live gauges (open streams) of processes that are gone; their counters and
    histograms stay (what they counted did happen)."""
    for pid, file in _files(Path(path)):
        if file.name.startswith(_LIVE_GAUGES) and not _alive(pid):
            file.unlink(missing_ok=True)


def _files(path: Path) -> list[tuple[int, Path]]:
    found = []
    try:
        entries = list(path.iterdir())
    except FileNotFoundError:
        return []
    for entry in entries:
        match = _FILE.match(entry.name)
        if match:
            found.append((int(match["pid"]), entry))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
