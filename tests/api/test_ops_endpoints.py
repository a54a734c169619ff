"""`/healthz`, `/readyz` and `/metrics` on the backend's layers (chatkit_app/ops/layer.py):
open without a session even when sign-in is required, readiness checked against the real
PostgreSQL, Redis and upload directory (and against ones that are gone or hang), metrics
that move with real requests and streamed answers, and the metrics token."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from chatkit_app.fast_paths import close_shared_clients
from chatkit_app.ops.readiness import Readiness
from chatkit_app.services import Services, build_services
from tests.api.chatkit_client import ChatKitClient, reply_text, user_input
from tests.conftest import LIMITS_OFF, api_key_headers, bearer, create_session, make_settings, model_settings
from tests.fakes.openai_server import FakeBehavior, running_fake
from tests.live_server import serve
from tests.ops_helpers import backend, closed_port, metric, silent_server


def _client(services: Services) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=backend(services))
    return httpx.AsyncClient(transport=transport, base_url="http://t", timeout=30)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """Clients of sites built with `make_settings(**overrides)`."""
    built: list[Services] = []

    def make(**overrides: Any) -> httpx.AsyncClient:
        services = build_services(make_settings(tmp_path, **overrides), production=False)
        built.append(services)
        return _client(services)

    yield make
    for services in built:
        services.close()


OIDC = {"chatkit_auth": "oidc", "chatkit_oidc_issuer": "http://127.0.0.1:9", "chatkit_oidc_client_id": "c"}


async def test_healthz_answers_at_once_without_a_session_when_sign_in_is_required(site: Any) -> None:
    async with site(**OIDC) as http:
        page = await http.get("/c/abc", follow_redirects=False)
        assert page.status_code == 303  # the gate is on: a page sends a stranger to sign in
        started = time.perf_counter()
        health = await http.get("/healthz")
        assert time.perf_counter() - started < 0.5
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        assert health.headers["cache-control"] == "no-store"
        head = await http.head("/healthz")
        assert head.status_code == 200 and head.content == b""
        refused = await http.post("/healthz")
        assert refused.status_code == 405 and refused.json()["error"]["code"] == "method_not_allowed"
        for path in ("/readyz", "/metrics"):
            assert (await http.get(path)).status_code == 200, path


async def test_every_response_carries_a_request_id_and_a_trusted_proxys_safe_one_is_kept(site: Any) -> None:
    async with site() as http:  # no trusted proxy: the peer's id is never taken
        ignored = await http.get("/healthz", headers={"X-Request-ID": "lb-7f3a.9:1"})
        assert ignored.headers["x-request-id"] != "lb-7f3a.9:1" and len(ignored.headers["x-request-id"]) == 32
    async with site(chatkit_trusted_proxies="127.0.0.0/8") as http:  # the test client's address
        fresh = await http.get("/healthz")
        assert len(fresh.headers["x-request-id"]) == 32
        assert (await http.get("/healthz")).headers["x-request-id"] != fresh.headers["x-request-id"]
        kept = await http.get("/api/chatkit/workflows", headers={"X-Request-ID": "lb-7f3a.9:1"})
        assert kept.headers["x-request-id"] == "lb-7f3a.9:1"
        for unsafe in ("a" * 65, "has space", "semi;colon", "<script>"):
            replaced = await http.get("/healthz", headers={"X-Request-ID": unsafe})
            assert replaced.headers["x-request-id"] != unsafe and len(replaced.headers["x-request-id"]) == 32


async def test_readyz_checks_postgres_redis_and_storage(site: Any, postgres_url: str, redis_url: str) -> None:
    async with site(database_url=postgres_url, redis_url=redis_url) as http:
        response = await http.get("/readyz")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "ready"
        assert set(body["checks"]) == {"database", "redis", "storage"}
        assert all(check["ok"] for check in body["checks"].values()), body


async def test_readyz_without_redis_checks_only_what_is_configured(site: Any) -> None:
    async with site() as http:
        body = (await http.get("/readyz")).json()
        assert set(body["checks"]) == {"database", "storage"} and body["status"] == "ready"


async def test_readyz_names_redis_when_nothing_listens_on_its_port(site: Any, postgres_url: str) -> None:
    async with site(database_url=postgres_url, redis_url=f"redis://127.0.0.1:{closed_port()}/0") as http:
        started = time.perf_counter()
        response = await http.get("/readyz")
        assert time.perf_counter() - started < 2.5
        assert response.status_code == 503
        body = response.json()
        assert body["failed"] == ["redis"] and body["status"] == "unavailable"
        assert body["error"]["code"] == "not_ready" and "redis" in body["error"]["message"]
        assert body["checks"]["database"]["ok"] and body["checks"]["storage"]["ok"]
        assert response.headers["retry-after"] == "5"


async def test_readyz_fails_within_its_timeout_when_redis_hangs(site: Any) -> None:
    hung = silent_server()
    try:
        port = hung.getsockname()[1]
        async with site(redis_url=f"redis://127.0.0.1:{port}/0", chatkit_ready_timeout_seconds=1) as http:
            started = time.perf_counter()
            response = await http.get("/readyz")
            elapsed = time.perf_counter() - started
        assert response.status_code == 503 and response.json()["failed"] == ["redis"]
        assert 0.9 < elapsed < 1.8
        assert response.json()["checks"]["redis"]["error"] == "no answer within 1 s"
        assert str(port) not in response.text  # names the service, not its address
    finally:
        hung.close()


async def test_readyz_fails_within_its_timeout_when_the_database_hangs(tmp_path: Path) -> None:
    hung = silent_server()
    services = build_services(make_settings(tmp_path, chatkit_ready_timeout_seconds=1), production=False)
    port = hung.getsockname()[1]
    frozen = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test")
    try:
        # The same services, their engine pointed at a database that never answers.
        async with _client(dataclasses.replace(services, engine=frozen)) as http:
            started = time.perf_counter()
            response = await http.get("/readyz")
            assert time.perf_counter() - started < 1.8
            assert response.status_code == 503 and response.json()["failed"] == ["database"]
            assert (await http.get("/healthz")).status_code == 200
    finally:
        hung.close()
        frozen.dispose()
        services.close()


async def test_readyz_fails_within_its_timeout_when_the_s3_storage_hangs(tmp_path: Path) -> None:
    """The S3 client's own timeouts are longer than the check's: the probe does not wait
    for them, and while that check is still stuck no second one is started (each would
    hold a worker thread); once it has come back, the next probe checks again."""
    hung = silent_server()
    s3 = {
        "chatkit_storage_url": "s3://ready-check/uploads",
        "aws_endpoint_url": f"http://127.0.0.1:{hung.getsockname()[1]}",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    services = build_services(make_settings(tmp_path, **s3), production=False)
    now = [0.0]
    readiness = Readiness(lambda: services, clock=lambda: now[0])
    try:
        started = time.perf_counter()
        report = await readiness.report(0.5)
        assert 0.4 < time.perf_counter() - started < 1.2
        assert report.failed == ["storage"] and report.checks["storage"].error == "no answer within 0.5 s"
        now[0] += 5  # past the reuse of a result
        again = await readiness.report(0.5)
        assert again.checks["storage"].error == "the previous check has not come back yet"
        deadline = time.monotonic() + 15
        while again.checks["storage"].error != "no answer within 0.5 s":
            assert time.monotonic() < deadline, again
            await asyncio.sleep(0.1)
            now[0] += 5
            again = await readiness.report(0.5)
    finally:
        hung.close()
        services.close()


async def test_readyz_names_storage_when_the_upload_directory_cannot_be_written(site: Any, tmp_path: Path) -> None:
    async with site() as http:
        uploads = tmp_path / "data" / "uploads"
        if uploads.exists():
            uploads.rmdir()
        uploads.write_text("a file where the directory should be")
        response = await http.get("/readyz")
        assert response.status_code == 503, response.text
        assert response.json()["failed"] == ["storage"]


async def test_metrics_count_requests_by_route_template_sessions_and_refusals(site: Any) -> None:
    async with site(**{**LIMITS_OFF, "chatkit_limit_sessions_per_minute": 1}) as http:
        before = (await http.get("/metrics")).text
        session = await create_session(http, user_id="metrics-ann")
        refused = await http.post("/api/chatkit/session", json={"userId": "metrics-ann"}, headers=api_key_headers())
        assert refused.status_code == 429
        sid = session["sessionId"]
        assert (await http.get(f"/api/chatkit/session/{sid}/validate", headers=bearer(session["token"]))).is_success
        refreshed = await http.post(f"/api/chatkit/session/{sid}/refresh", headers=bearer(session["token"]))
        assert refreshed.status_code == 200
        await http.get("/no/such/page/x.js")
        response = await http.get("/metrics")
        after = response.text
    assert response.headers["content-type"].startswith("text/plain")

    def delta(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    requests = "chatkit_http_requests_total"
    assert delta(requests, method="POST", route="/api/chatkit/session", status="201") == 1
    assert delta(requests, method="POST", route="/api/chatkit/session", status="429") == 1
    template = "/api/chatkit/session/{session_id}/validate"
    assert delta(requests, method="GET", route=template, status="200") == 1
    assert delta(requests, method="GET", route="other", status="404") == 1
    assert delta(requests, method="GET", route="/metrics", status="200") == 1
    assert sid not in after  # raw paths never become labels
    assert delta("chatkit_sessions_issued_total", kind="new") == 1
    assert delta("chatkit_sessions_issued_total", kind="refresh") == 1
    assert delta("chatkit_rate_limit_refusals_total", limit="sessions") == 1


async def test_a_streamed_answer_moves_the_token_counter_and_the_latency_histograms(site: Any) -> None:
    async with site(**LIMITS_OFF) as http:
        before = (await http.get("/metrics")).text
        ann = await ChatKitClient.for_user(http, "metrics-bob")
        _, events = await ann.new_thread("hello")  # the offline assistant
        after = (await http.get("/metrics")).text
    deltas = [e for e in events if e["type"] == "thread.item.updated"]
    assert reply_text(events) and len(deltas) > 1

    def delta(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert delta("chatkit_streamed_tokens_total") == len(deltas)
    assert delta("chatkit_time_to_first_token_seconds_count") == 1
    assert delta("chatkit_answer_duration_seconds_count") == 1
    assert delta("chatkit_answers_total", outcome="completed") == 1
    assert metric(after, "chatkit_open_streams") == 0
    assert delta("chatkit_http_requests_total", method="POST", route="/api/chatkit", status="200") == 1


async def test_open_streams_while_answering_and_model_errors_by_kind(tmp_path: Path) -> None:
    fakes = running_fake(FakeBehavior(text="one two three four five six", delay=0.15))
    fake = next(fakes)
    services = build_services(model_settings(tmp_path, fake.base_url, **LIMITS_OFF), production=False)
    try:
        with serve(backend(services)) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                session = await create_session(http, user_id="metrics-cy")
                before = (await http.get("/metrics")).text
                request = {"type": "threads.create", "params": {"input": user_input("hi")}}
                async with http.stream("POST", "/api/chatkit", json=request, headers=bearer(session["token"])) as s:
                    lines = s.aiter_lines()
                    async for line in lines:
                        if "text_delta" in line:
                            break  # the answer is streaming now
                    during = (await http.get("/metrics")).text
                    async for _ in lines:
                        pass
                after = (await http.get("/metrics")).text
                fake.behavior = FakeBehavior(status=500)
                failed = await ChatKitClient(http, session["token"]).stream("threads.create", input=user_input("again"))
                errors = (await http.get("/metrics")).text
    finally:
        await close_shared_clients()
        services.close()
        next(fakes, None)
    assert metric(before, "chatkit_open_streams") == 0
    assert metric(during, "chatkit_open_streams") == 1
    assert metric(after, "chatkit_open_streams") == 0
    assert metric(after, "chatkit_streamed_tokens_total") - metric(before, "chatkit_streamed_tokens_total") >= 1
    assert any(e["type"] == "error" for e in failed), json.dumps(failed)[:500]
    name = "chatkit_model_errors_total"
    assert metric(errors, name, kind="server_error") > metric(after, name, kind="server_error")


async def test_metrics_need_the_token_when_one_is_set(site: Any) -> None:
    token = "metrics-" + "t" * 32
    async with site(chatkit_metrics_token=token) as http:
        missing = await http.get("/metrics")
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert missing.json()["error"]["code"] == "missing_credentials"
        assert (await http.get("/metrics", headers=bearer(token[:-1] + "x"))).status_code == 401
        assert (await http.get("/metrics", headers={"Authorization": f"Basic {token}"})).status_code == 401
        allowed = await http.get("/metrics", headers=bearer(token))
        assert allowed.status_code == 200 and "chatkit_http_requests_total" in allowed.text
        assert (await http.get("/healthz")).status_code == 200  # the probes stay open
        assert (await http.get("/readyz")).status_code == 200
