"""The operator's view of a real `reflex run --env prod --backend-only` with two workers:
the metrics directory is set up by itself, a scrape through either worker counts the
requests of both, `/readyz` names a Redis that is gone, and with CHATKIT_LOG_FORMAT=json
the workers log JSON lines carrying the request id."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict

from tests.e2e.prod_site import REPO_ROOT, OwnRedis, free_port, redis_server, running_reflex, wait_until
from tests.ops_helpers import metric

pytestmark = pytest.mark.slow
BANNERS = ("Starting Reflex App", "App Running", "App running at", "Reflex app stopped")


@dataclass
class Backend:
    url: str
    data_dir: Path
    log_path: Path

    def log_lines(self) -> list[str]:
        return [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def own_redis() -> Iterator[OwnRedis]:
    """A Redis of this module's own: the readiness test stops it for a while."""
    with redis_server(free_port()) as own:
        yield own


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory, own_redis: OwnRedis) -> Iterator[Backend]:
    data_dir = tmp_path_factory.mktemp("ops-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATKIT_", "DATABASE_URL", "PROMETHEUS_"))}
    env.update(
        CHATKIT_DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite:///{data_dir / 'ops.db'}",
        CHATKIT_SECRET=secrets.token_urlsafe(48),
        CHATKIT_LOG_FORMAT="json",
        CHATKIT_TRUSTED_PROXIES="127.0.0.1",  # the test stands in for the proxy (its request ids are kept)
        REDIS_URL=f"redis://127.0.0.1:{own_redis.port}/0",  # Reflex's state, the limits, /readyz
        CHATKIT_WORKERS="2",
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_CHECK_LATEST_VERSION="false",
    )
    log_path = data_dir / "server.log"
    arguments = ["--backend-only", "--backend-port", "{port}"]
    with running_reflex(arguments, cwd=REPO_ROOT, env=env, log_path=log_path, ready=["/healthz"], timeout=90) as url:
        yield Backend(url, data_dir, log_path)


def _counts_by_process(directory: Path, route: str) -> dict[int, float]:
    """Requests to `route` counted in each process's own file."""
    counts: dict[int, float] = {}
    for file in directory.glob("counter_*.db"):
        pid = int(file.stem.rsplit("_", 1)[1])
        for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(file)):
            name, _sample, labels, *_ = json.loads(key)
            if name == "chatkit_http_requests" and labels.get("route") == route:
                counts[pid] = counts.get(pid, 0) + value
    return counts


def test_a_scrape_through_either_worker_counts_the_requests_of_both(backend: Backend) -> None:
    directory = backend.data_dir / "metrics"
    sent = 0

    def both_workers_counted() -> bool:
        nonlocal sent
        with ThreadPoolExecutor(16) as pool, httpx.Client(base_url=backend.url, timeout=30) as http:
            statuses = list(pool.map(lambda _: http.get("/auth/me").status_code, range(40)))
        sent += len(statuses)
        return len([count for count in _counts_by_process(directory, "/auth/me").values() if count]) >= 2

    wait_until(both_workers_counted, timeout=60)
    for _ in range(6):  # scrapes land on either worker; each sees the whole host
        text = httpx.get(f"{backend.url}/metrics", timeout=10).text
        total = sum(
            metric(text, "chatkit_http_requests_total", method="GET", route="/auth/me", status=status)
            for status in ("200", "401")
        )
        assert total == sent


def test_readyz_names_the_missing_redis_in_a_json_line_with_the_request_id(
    backend: Backend, own_redis: OwnRedis
) -> None:
    assert httpx.get(f"{backend.url}/readyz", timeout=10).status_code == 200
    own_redis.stop()  # Redis goes away while the site runs
    try:
        # Each worker keeps its result for a second: ask until one has checked again. The
        # worker that notices logs the change, under the request's id.
        def probe() -> httpx.Response:
            return httpx.get(f"{backend.url}/readyz", headers={"X-Request-ID": "ops-e2e-1"}, timeout=10)

        seen: list[httpx.Response] = []
        wait_until(lambda: seen.append(probe()) or seen[-1].status_code == 503, timeout=20)
        response = seen[-1]
        assert response.json()["failed"] == ["redis"]
        assert response.headers["x-request-id"] == "ops-e2e-1"
    finally:
        own_redis.start()  # back for the module's other test, whichever order they run in

    def logged() -> bool:
        records = [json.loads(line) for line in backend.log_lines() if line.startswith("{")]
        return any(r.get("request_id") == "ops-e2e-1" and "not ready: redis" in r["message"] for r in records)

    wait_until(logged, timeout=10)
    for line in backend.log_lines():  # the workers' lines are all JSON; the CLI's banners aside
        if not any(banner in line for banner in BANNERS):
            record = json.loads(line)
            assert {"time", "level", "logger", "message", "pid"} <= set(record), line
