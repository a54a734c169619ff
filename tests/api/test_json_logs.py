"""`CHATKIT_LOG_FORMAT=json` (chatkit_app/ops/logs.py): one JSON object per line, the
request id on every line logged during a request (also from a thread the request started),
and the log redaction still applied: no token or cookie reaches a JSON line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from chatkit_app import log_redaction
from chatkit_app.ops import logs
from chatkit_app.ops.layer import OpsLayer
from chatkit_app.services import Services, build_services
from tests.conftest import make_settings

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJlLXZhbHVl"
log = logging.getLogger("chatkit_app.test_json_logs")


async def _chatty(request: Request) -> PlainTextResponse:
    """Logs what a careless library might: the request's cookie header and a token."""
    log.warning("handling with headers %s", dict(request.headers))
    await run_in_threadpool(log.info, "session token %s", JWT)
    return PlainTextResponse("ok")


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """JSON logging installed on a root handler writing here; the handlers' formatters and
    Reflex's logger put back after."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    saved = [(h, h.formatter) for h in root.handlers]
    reflex = logging.getLogger("reflex")
    reflex_saved = (list(reflex.handlers), reflex.propagate)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    log_redaction.install()
    logs.install("json")
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for h, formatter in saved:
            h.setFormatter(formatter)
        for h in reflex_saved[0]:
            reflex.addHandler(h)
        reflex.propagate = reflex_saved[1]


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build_services(make_settings(tmp_path, chatkit_trusted_proxies="127.0.0.1"), production=False)
    yield built
    built.close()


async def test_every_line_of_a_request_carries_its_id_and_secrets_stay_redacted(
    lines: io.StringIO, services: Services
) -> None:
    app = OpsLayer(Starlette(routes=[Route("/chatty", _chatty)]), lambda: services)
    cookie = "chatkit_anon=" + "v" * 40
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        given = await http.get("/chatty", headers={"X-Request-ID": "req-42", "Cookie": cookie})
        fresh = await http.get("/chatty", headers={"Authorization": f"Bearer {JWT}"})
    log.info("outside any request")

    records = _records(lines)
    ours = [r for r in records if r["logger"] == log.name]
    generated = fresh.headers["x-request-id"]
    assert [r.get("request_id") for r in ours] == ["req-42", "req-42", generated, generated, None]
    assert given.headers["x-request-id"] == "req-42"
    assert {"time", "level", "logger", "message", "pid"} <= set(ours[0])
    assert ours[0]["level"] == "WARNING" and ours[-1]["message"] == "outside any request"
    text = lines.getvalue()
    assert JWT not in text and "v" * 40 not in text and "[redacted]" in text
