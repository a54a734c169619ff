"""The hourly sweep (`housekeeping.sweep`) on real SQLite and PostgreSQL: unsent uploads
a day old (rows and files), sessions past their absolute lifetime, and model-usage rows
that left the 24-hour window go; everything younger stays."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from chatkit.server import NonStreamingResult
from sqlalchemy import func, select

from chatkit_app.core.context import RequestContext
from chatkit_app.housekeeping import SweepReport, sweep
from chatkit_app.models import ChatKitAttachment, ChatSession, ModelUsage
from chatkit_app.services import Services, build_services
from tests.conftest import make_settings


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sweep.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def clock() -> Clock:
    return Clock(float(int(time.time())))


@pytest.fixture
def services(tmp_path: Path, database_url: str, clock: Clock) -> Iterator[Services]:
    settings = make_settings(tmp_path, database_url=database_url, chatkit_session_max_age_seconds=3600)
    built = build_services(settings, production=False, clock=clock)
    yield built
    built.close()


def _count(services: Services, table: type) -> int:
    with services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table.__table__)).scalar_one())  # type: ignore[attr-defined]


async def test_the_sweep_removes_what_has_expired_and_keeps_the_rest(services: Services, clock: Clock) -> None:
    t0 = clock.now
    await services.issuer.create("alice", "assistant")  # lives until t0 + 3600
    await services.limits.record_tokens("alice", "thr_1", "msg_1", 100)
    clock.now = t0 + 3000
    await services.issuer.create("alice", "assistant")  # until t0 + 6600
    await services.limits.record_tokens("alice", "thr_1", "msg_2", 100)
    signed_out = services.site_sessions.create("oidc_a", None, None)
    services.site_sessions.revoke(signed_out)
    signed_in = services.site_sessions.create("oidc_a", None, None)  # 7 days idle, 30 days in all
    context = RequestContext("alice", "cks_x", "assistant", "http://testserver")
    request = json.dumps(
        {"type": "attachments.create", "params": {"name": "a.txt", "size": 5, "mime_type": "text/plain"}}
    )
    result = await services.chatkit.process(request, context)
    assert isinstance(result, NonStreamingResult)
    attachment_id = json.loads(result.json)["id"]
    upload = await services.attachments.store_upload(attachment_id, _chunks(b"hello"), "text/plain", context)
    assert upload.id == attachment_id and len(list(services.settings.uploads_dir.iterdir())) == 1

    assert await sweep(services, now=t0 + 3700) == SweepReport(
        unsent_uploads=0, expired_sessions=1, old_usage=0, ended_sign_ins=1
    )
    assert services.site_sessions.resolve(signed_in) is not None
    assert _count(services, ChatSession) == 1 and _count(services, ModelUsage) == 2

    assert await sweep(services, now=t0 + 86_400 + 2000) == SweepReport(
        unsent_uploads=1, expired_sessions=1, old_usage=1
    )
    assert _count(services, ChatSession) == 0
    assert _count(services, ModelUsage) == 1  # the second answer is still inside its window
    assert _count(services, ChatKitAttachment) == 0
    assert list(services.settings.uploads_dir.iterdir()) == []
    assert await sweep(services, now=t0 + 86_400 + 2000) == SweepReport(0, 0, 0)
    assert await sweep(services, now=t0 + 8 * 86_400) == SweepReport(0, 0, 1, ended_sign_ins=1)  # idle a week


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data
