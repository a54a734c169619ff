"""Sampling a running process with py-spy (requirements-dev.txt) and reading the result:
where its time goes, by package, and the functions of chatkit_app/ with the most samples."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from pathlib import Path

from bench.issuance import BenchError


class Sampler:
    """`py-spy record` on `pid` (200 samples/s of the thread holding the GIL, without
    stopping the process) until `stop()`; raw folded stacks in `out`."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        command = ["py-spy", "record", "--pid", str(pid), "--rate", "200", "--gil", "--nonblocking"]
        self.process = subprocess.Popen(
            [*command, "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"},
        )

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)
        if self.process.wait(timeout=30) != 0 or not self.out.exists():
            error = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
            raise BenchError(f"py-spy failed (it needs ptrace rights on the worker): {error}")
        return self.out.read_text()


def summarize(raw: str, top: int = 20) -> None:
    own_self: collections.Counter[str] = collections.Counter()
    own_total: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count, frames = int(count_text), stack.split(";")
        total += count
        packages[_package(frames[-1])] += count
        for name in {_function(frame) for frame in frames if "chatkit_app/" in frame}:
            own_total[name] += count
        if "chatkit_app/" in frames[-1]:
            own_self[_function(frames[-1])] += count
    print(f"profile: {total} samples (200/s, the thread holding the GIL); where they end, by package:")
    for name, count in packages.most_common(12):
        print(f"  {count / max(1, total):6.1%}  {name}")
    print("profile: chatkit_app/ functions, with callees (self)")
    for name, count in own_total.most_common(top):
        print(f"  {count / total:6.1%}  ({own_self[name] / total:5.1%})  {name}")


def _function(frame: str) -> str:
    """`fn (chatkit_app/x.py:12)` -> `chatkit_app/x.py:fn` (lines dropped)."""
    name, _, where = frame.partition(" (")
    return f"{where.rsplit(':', 1)[0]}:{name}"


def _package(frame: str) -> str:
    """`fn (starlette/routing.py:12)` -> `starlette` (py-spy names files by their package)."""
    return frame.partition(" (")[2].rsplit(":", 1)[0].split("/", 1)[0].removesuffix(".py")
