"""Several worker processes, one metrics directory (chatkit_app/ops/multiproc.py): a scrape
sums every process's counters, drops the open streams of a process that died, and the
directory of a run starts clean without touching the files of live processes.

Each process here is a real Python process importing the app's metrics module with
`PROMETHEUS_MULTIPROC_DIR` set, as a worker does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatkit_app.ops import multiproc
from tests.ops_helpers import metric

REPO = Path(__file__).resolve().parents[2]
DELTA = 'data: {"type":"thread.item.updated","item_id":"m","update":{"type":"assistant_message.content_part.text_delta","content_index":0,"delta":"x"}}\n\n'  # noqa: E501
WORKER = f"""
import sys, time
from chatkit_app.ops import metrics
metrics.session_issued("new")
meter = metrics.answer_meter(time.perf_counter())
meter.opened()
for _ in range(int(sys.argv[1])):
    meter.chunk({DELTA.encode()!r})
if sys.argv[2] == "finish":
    meter.closed("completed")
print("ready", flush=True)
sys.stdin.readline()  # stays alive (a worker still streaming) until told
"""
SCRAPE = "import sys; from chatkit_app.ops import metrics; sys.stdout.write(metrics.render().decode())"


def _env(directory: Path) -> dict[str, str]:
    return {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(REPO)}


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def _worker(directory: Path, tokens: int, end: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(tokens), end],
        env=_env(directory),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def _scrape(directory: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRAPE], env=_env(directory), capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def test_a_scrape_sums_the_processes_and_forgets_the_streams_of_dead_ones(
    tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    workers.append(_worker(directory, 3, "finish"))
    workers.append(_worker(directory, 5, "streaming"))  # an answer still open in this one

    text = _scrape(directory)
    assert metric(text, "chatkit_sessions_issued_total", kind="new") == 2
    assert metric(text, "chatkit_streamed_tokens_total") == 3  # counted when an answer ends
    assert metric(text, "chatkit_time_to_first_token_seconds_count") == 2
    assert metric(text, "chatkit_answers_total", outcome="completed") == 1
    assert metric(text, "chatkit_open_streams") == 1

    workers[1].kill()  # the worker dies mid-answer
    workers[1].wait()
    text = _scrape(directory)
    assert metric(text, "chatkit_open_streams") == 0
    assert metric(text, "chatkit_sessions_issued_total", kind="new") == 2  # what it counted stays


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_run_starts_with_a_clean_directory_and_its_workers_leave_it_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: list[subprocess.Popen[str]]
) -> None:
    monkeypatch.delenv(multiproc.MULTIPROC_ENV, raising=False)
    monkeypatch.delenv(multiproc.READY_ENV, raising=False)
    data_dir = tmp_path / "data"
    (data_dir / "metrics").mkdir(parents=True)
    stale = data_dir / "metrics" / f"counter_{_dead_pid()}.db"
    stale.write_bytes(b"x")
    live = _worker(data_dir / "metrics", 1, "streaming")  # another live process's files are kept
    workers.append(live)
    live_files = sorted(p.name for p in (data_dir / "metrics").iterdir() if p.name.endswith(f"_{live.pid}.db"))
    assert live_files

    path = multiproc.prepare(data_dir)
    assert path == data_dir / "metrics" and os.environ[multiproc.MULTIPROC_ENV] == str(path)
    assert not stale.exists()
    assert sorted(p.name for p in path.iterdir()) == live_files

    again = path / f"counter_{_dead_pid()}.db"  # a worker replaced mid-run keeps the run's counts
    again.write_bytes(b"x")
    assert multiproc.prepare(data_dir) == path and again.exists()


def test_an_operator_directory_is_used_and_cleaned_of_previous_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = tmp_path / "prom"
    chosen.mkdir()
    stale, unrelated = chosen / f"histogram_{_dead_pid()}.db", chosen / "notes.txt"
    stale.write_bytes(b"x")
    unrelated.write_text("not ours")
    monkeypatch.setenv(multiproc.MULTIPROC_ENV, str(chosen))
    monkeypatch.delenv(multiproc.READY_ENV, raising=False)
    assert multiproc.prepare(tmp_path / "data") == chosen
    assert not stale.exists() and unrelated.exists()
    assert not (tmp_path / "data" / "metrics").exists()
