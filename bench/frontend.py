"""Frontend weight of `/` against a floor: a blank Reflex page built and served the same way.

Run:  cd /work/main && .venv/bin/python -m bench.frontend [--rounds 9]     (about 40-60 s on 2 cores)

Two production sites, each `reflex run --env prod` (frontend and backend on one free
127.0.0.1 port, prerendered static build, as users deploy it) from its own temp dir:

- ours: a copy of the app's files (`chatkit_app/`, `assets/` without `assets/external`,
  `reflex.lock/`, `rxconfig.py`) with `CHATKIT_UI_MODE=native`, so no CDN is involved, a
  random `CHATKIT_SECRET` and a fresh data dir and database;
- floor: the least a Reflex page with a text box needs: app `blank` with the same
  `rxconfig.py` settings as ours (RadixThemesPlugin theme, SitemapPlugin disabled, no
  "built with Reflex" badge) and one page `/` holding `rx.text_area(data_testid="composer-input")`.
  It gets a copy of our `reflex.lock/` so bun resolves the same versions offline; unused
  packages are not bundled, so they cost the floor nothing.

Each round opens `/` of floor and ours, in an order drawn at random for that round, each in
a fresh Playwright context of headless Chromium (/usr/bin/chromium, cold HTTP cache), and
measures:

- JavaScript bytes: the decoded body length of every response whose resource type is
  `script` or whose content-type is JavaScript, until the network is idle (no request for
  500 ms) after the composer is usable; also the bytes on the wire (`responseBodySize`,
  gzip when the server sends it), for reference;
- time to a usable composer: from navigation start (`performance.now()` of the page) until
  the `composer-input` textarea is visible, enabled and hydrated by React (its DOM node
  carries React's props, so a prerendered but inert box does not count), and a character
  typed into it appears in its value.

Figures are medians over rounds, with quartiles: runs of identical builds differ by about
±0.1x on this 2-core machine, so one run's figure says less than it seems (the spread line
shows how much). The final lines are `frontend js bytes ours/floor = X`
(target <= 1.3) and `frontend time to usable composer ours/floor = Y`; ours' largest
scripts are listed so we know what to trim. The exit status is 1 only when something
failed to run (a site that does not build or start, a composer that never becomes usable),
not for missing the target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.issuance import BenchError, free_port
from tests.e2e.prod_site import CHROMIUM, CHROMIUM_ARGS, copy_site  # as the browser tests deploy and drive it

REPO_ROOT = Path(__file__).resolve().parent.parent
REFLEX = str(Path(sys.executable).with_name("reflex"))
LOCAL_BUN = REPO_ROOT / ".tools" / "node_modules" / ".bin" / "bun"
STARTUP_TIMEOUT_S = 240.0  # production build (bun install from cache + vite build) included
PAGE_TIMEOUT_MS = 30_000
TYPED = "x"
TOP_SCRIPTS = 5
KILLED = " (status 0: stopped by a signal from outside this benchmark, e.g. a `pkill reflex`)"

BLANK_RXCONFIG = """\
import reflex as rx
from reflex_base.plugins.sitemap import SitemapPlugin

config = rx.Config(
    app_name="blank",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="blue", radius="large"))],
    disable_plugins=[SitemapPlugin],
)
"""

BLANK_APP = """\
import reflex as rx


def index() -> rx.Component:
    return rx.text_area(data_testid="composer-input")


app = rx.App()
app.add_page(index, route="/", title="blank")
"""

# Visible, enabled and hydrated (React 19 attaches `__reactProps$<key>` to the DOM nodes it owns).
READY_JS = """() => {
    const box = document.querySelector('[data-testid="composer-input"]');
    if (!box || box.disabled || box.readOnly) return false;
    const rect = box.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0 || getComputedStyle(box).visibility === "hidden") return false;
    return Object.keys(box).some((key) => key.startsWith("__reactProps$"));
}"""
STATE_JS = """() => {
    const box = document.querySelector('[data-testid="composer-input"]');
    const keys = box ? Object.keys(box).filter((key) => key.startsWith("__react")) : [];
    return JSON.stringify({readyState: document.readyState, box: !!box, disabled: box && box.disabled,
        value: box && box.value, active: document.activeElement && document.activeElement.outerHTML.slice(0, 200),
        reactKeys: keys, url: location.href});
}"""
TYPED_JS = f"""() => document.querySelector('[data-testid="composer-input"]').value.includes({TYPED!r})"""


# --------------------------------------------------------------------------- sites


def prepare_floor(root: Path) -> None:
    shutil.copytree(REPO_ROOT / "reflex.lock", root / "reflex.lock")
    (root / "blank").mkdir()
    (root / "blank" / "__init__.py").write_text("")
    (root / "blank" / "blank.py").write_text(BLANK_APP)
    (root / "rxconfig.py").write_text(BLANK_RXCONFIG)


def site_env(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CHATKIT_", "DATABASE_URL", "REFLEX_ENV_MODE", "PYTHONPATH"))
    }
    env.update(
        CHATKIT_SECRET=secrets.token_urlsafe(48),
        CHATKIT_DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite:///{data_dir / 'bench.db'}",
        CHATKIT_UI_MODE="native",
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_CHECK_LATEST_VERSION="false",
    )
    if not env.get("REFLEX_BUN_PATH") and not shutil.which("bun") and LOCAL_BUN.exists():
        env["REFLEX_BUN_PATH"] = str(LOCAL_BUN)
    return env


class Site:
    """`reflex run --env prod` on one port in `root`; always stopped by `stop()`."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "site.log"
        (root / "data").mkdir(exist_ok=True)
        self._log = open(self.log_path, "wb")  # closed in stop()
        self.process = subprocess.Popen(
            [REFLEX, "run", "--env", "prod", "--frontend-port", str(self.port), "--backend-port", str(self.port)],
            cwd=root,
            env=site_env(root / "data"),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, deadline: float) -> None:
        while True:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name}: reflex exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (
                    httpx.get(self.url, timeout=2).status_code == 200
                    and httpx.get(f"{self.url}/ping", timeout=2).status_code == 200
                ):
                    return
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name}: site not up after {STARTUP_TIMEOUT_S:.0f}s:\n{self.log_tail()}")
            time.sleep(0.5)

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """SIGTERM to the whole process group (reflex, its server, any bun), SIGKILL after 15 s."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # stragglers left in the group
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self._log.close()


# --------------------------------------------------------------------------- browser


@dataclass
class Visit:
    name: str
    usable_ms: float
    scripts: dict[str, int] = field(default_factory=dict)  # path -> decoded body bytes
    wire_bytes: int = 0  # encoded body bytes of the same responses
    failed: list[str] = field(default_factory=list)

    @property
    def js_bytes(self) -> int:
        return sum(self.scripts.values())


def is_script(response: Any) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    return response.request.resource_type == "script" or "javascript" in content_type


async def visit(browser: Any, name: str, url: str) -> Visit:
    context = await browser.new_context()  # fresh context: empty HTTP cache
    try:
        page = await context.new_page()
        responses: list[Any] = []
        failed: list[str] = []
        page.on("response", lambda response: responses.append(response))
        page.on("requestfailed", lambda request: failed.append(f"{request.url} ({request.failure})"))
        step = "navigating"
        try:
            await page.goto(url, wait_until="commit", timeout=PAGE_TIMEOUT_MS)
            step = "waiting for a visible, enabled, hydrated composer"
            await page.wait_for_function(READY_JS, polling="raf", timeout=PAGE_TIMEOUT_MS)
            step = "typing"
            await page.get_by_test_id("composer-input").press_sequentially(TYPED, timeout=PAGE_TIMEOUT_MS)
            step = "waiting for the typed character"
            await page.wait_for_function(TYPED_JS, polling="raf", timeout=PAGE_TIMEOUT_MS)
            usable_ms = float(await page.evaluate("performance.now()"))
            step = "waiting for the network to be idle"
            await page.wait_for_load_state("networkidle", timeout=PAGE_TIMEOUT_MS)
        except Exception as exc:
            state = "?"
            with contextlib.suppress(Exception):
                state = await page.evaluate(STATE_JS)
            raise BenchError(f"{name}: {step} at {url}: {exc}\npage: {state}\nfailed: {failed}") from exc
        result = Visit(name, usable_ms, failed=failed)
        for response in list(responses):
            if not is_script(response) or response.status != 200:
                continue
            body = await response.body()
            path = urlsplit(response.url).path
            result.scripts[path] = result.scripts.get(path, 0) + len(body)
            sizes = await response.request.sizes()
            result.wire_bytes += int(sizes.get("responseBodySize") or 0)
        if not result.scripts:
            raise BenchError(f"{name}: no JavaScript responses recorded for {url}")
        return result
    finally:
        await context.close()


async def measure(sites: list[Site], rounds: int) -> dict[str, list[Visit]]:
    from playwright.async_api import async_playwright

    visits: dict[str, list[Visit]] = {site.name: [] for site in sites}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for site in sites:  # one unmeasured visit each: the server's first request is not a user's
                await visit(browser, site.name, site.url)
            order = random.Random(0)  # the same sequence of orders in every run
            for round_number in range(1, rounds + 1):
                # Each round in its own random order: a fixed one (floor, then ours) would
                # give one site whatever the other leaves behind (caches, a busy CPU).
                for site in order.sample(sites, len(sites)):
                    if site.process.poll() is not None:
                        raise BenchError(f"{site.name}: reflex exited with {site.process.returncode} mid-run{KILLED}")
                    result = await visit(browser, site.name, site.url)
                    visits[site.name].append(result)
                    print(
                        f"  round {round_number} {site.name:<5} js {result.js_bytes / 1024:7.1f} KB"
                        f" ({len(result.scripts)} files, {result.wire_bytes / 1024:6.1f} KB on the wire)"
                        f"  usable composer {result.usable_ms:6.0f} ms",
                        flush=True,
                    )
                    for failure in result.failed:
                        print(f"    {site.name} request failed: {failure}", flush=True)
        finally:
            await browser.close()
    return visits


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.frontend", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="floor+ours visits, in random order (default 9)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` that stops the sites


def quartiles(values: list[float]) -> tuple[float, float]:
    """First and third quartiles (both the value itself for a single round)."""
    if len(values) < 2:
        return values[0], values[0]
    low, _, high = statistics.quantiles(values, n=4, method="inclusive")
    return low, high


def chunk_name(path: str) -> str:
    """`/assets/root-_ImoUyem.js` -> `root.js`: Vite's content hash dropped, to pair builds' files."""
    return re.sub(r"-[\w-]{8}(\.m?js)$", r"\1", path.rsplit("/", 1)[-1])


def summarize(visits: dict[str, list[Visit]]) -> None:
    medians: dict[str, tuple[float, float, float]] = {}
    for name, runs in visits.items():
        js = statistics.median(run.js_bytes for run in runs)
        wire = statistics.median(run.wire_bytes for run in runs)
        usable = statistics.median(run.usable_ms for run in runs)
        low, high = quartiles([run.usable_ms for run in runs])
        medians[name] = (js, wire, usable)
        print(
            f"{name:<5} median js {js / 1024:7.1f} KB ({wire / 1024:6.1f} KB on the wire)"
            f"  usable {usable:6.0f} ms (quartiles {low:.0f}-{high:.0f})"
        )
    paired = [ours.usable_ms / floor.usable_ms for ours, floor in zip(visits["ours"], visits["floor"], strict=True)]
    low, high = quartiles(paired)
    print(f"time to usable composer ours/floor per round: quartiles {low:.2f}-{high:.2f} (spread of one run)")
    floor_sizes = {chunk_name(path): size for path, size in visits["floor"][-1].scripts.items()}
    print("ours' largest scripts (the floor's script of the same name):")
    for path, size in sorted(visits["ours"][-1].scripts.items(), key=lambda item: -item[1])[:TOP_SCRIPTS]:
        floor_size = floor_sizes.get(chunk_name(path))
        floor = f"{floor_size / 1024:.1f} KB" if floor_size is not None else "none"
        print(f"  {size / 1024:7.1f} KB  {path}  (floor: {floor})")
    (js_o, wire_o, use_o), (js_f, wire_f, use_f) = medians["ours"], medians["floor"]
    kb = 1024
    print(f"frontend js bytes ours/floor = {js_o / js_f:.2f} ({js_o / kb:.1f} KB vs {js_f / kb:.1f} KB; target <= 1.3)")
    print(f"frontend js wire bytes ours/floor = {wire_o / wire_f:.2f} ({wire_o / kb:.1f} KB vs {wire_f / kb:.1f} KB)")
    print(f"frontend time to usable composer ours/floor = {use_o / use_f:.2f} ({use_o:.0f} ms vs {use_f:.0f} ms)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        print(f"error: Chromium not found at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _terminate)
    print(f"frontend: `/` of two `reflex run --env prod` sites, {args.rounds} rounds, {os.cpu_count()} cpus")
    workdir = Path(tempfile.mkdtemp(prefix="bench-frontend-"))
    sites: list[Site] = []
    try:
        began = time.monotonic()
        for name, prepare in (("floor", prepare_floor), ("ours", copy_site)):
            root = workdir / name
            root.mkdir()
            prepare(root)
            sites.append(Site(name, root))  # both build at once; measuring waits for both
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        for site in sites:
            site.wait_ready(deadline)
        print(f"  both sites built and up in {time.monotonic() - began:.0f} s", flush=True)
        visits = asyncio.run(measure(sites, args.rounds))
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        for site in sites:
            with contextlib.suppress(Exception):
                status = site.process.poll()
                state = "still running" if status is None else f"reflex exited with {status}"
                state += KILLED if status == 0 else ""
                print(f"--- {site.name} ({state}) site.log:\n{site.log_tail()}", file=sys.stderr)
        return 1
    finally:
        for site in sites:
            site.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    summarize(visits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
