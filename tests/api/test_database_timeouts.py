"""PostgreSQL that hangs: requests answer 503 `database_unavailable` within about
`CHATKIT_DB_TIMEOUT_SECONDS` instead of waiting, and the site recovers when it answers
again. The database sits behind a loopback proxy the test freezes (accepts, forwards
nothing), as a frozen server or a cut network looks to the client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from chatkit_app.api.app import create_api
from chatkit_app.services import Services, build_services
from tests.conftest import LIMITS_OFF, api_key_headers, make_settings
from tests.fakes.frozen_proxy import FrozenProxy

TIMEOUT = 2.0
# The most a request may take with the database frozen: the timeout, its grace (1 s: the
# pool's ping, or a statement's wait beyond the server's timeout), and scheduling slack.
BOUND = TIMEOUT + 1.0 + 1.5


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[FrozenProxy]:
    url = make_url(postgres_url)
    frozen = FrozenProxy(url.host or "127.0.0.1", url.port or 5432)
    yield frozen
    frozen.close()


@pytest.fixture
def services(tmp_path: Path, postgres_url: str, proxy: FrozenProxy) -> Iterator[Services]:
    through_proxy = make_url(postgres_url).set(port=proxy.port).render_as_string(hide_password=False)
    settings = make_settings(
        tmp_path,
        database_url=through_proxy,
        chatkit_db_timeout_seconds=TIMEOUT,
        chatkit_db_pool_size=2,
        **LIMITS_OFF,
    )
    built = build_services(settings, production=False)
    yield built
    built.close()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api(lambda: services))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as http:
        yield http


async def _create(client: httpx.AsyncClient, user: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.post("/api/chatkit/session", json={"userId": user}, headers=api_key_headers())
    return response, time.monotonic() - started


def _assert_unavailable(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"
    assert response.headers["retry-after"]
    assert elapsed < BOUND, f"took {elapsed:.1f} s"


async def test_a_frozen_database_answers_503_within_the_timeout_then_recovers(
    client: httpx.AsyncClient, services: Services, proxy: FrozenProxy
) -> None:
    # Warm: both pooled connections open and returned.
    warm = await asyncio.gather(*(_create(client, f"warm-{i}") for i in range(2)))
    assert [response.status_code for response, _ in warm] == [201, 201]

    proxy.freeze()
    # One request at a time: the pooled connection's ping gets no answer, then a new
    # connection gets none either.
    response, elapsed = await _create(client, "alone")
    _assert_unavailable(response, elapsed)
    # More requests at once than the pool holds (2 + 2 overflow): every one answers in time,
    # those waiting for a connection included.
    results = await asyncio.gather(*(_create(client, f"many-{i}") for i in range(6)))
    for response, elapsed in results:
        _assert_unavailable(response, elapsed)

    proxy.thaw()
    deadline = time.monotonic() + 30
    while True:
        response, _ = await _create(client, "after")
        if response.status_code == 201:
            break
        assert response.status_code == 503 and time.monotonic() < deadline, response.text
    again = await asyncio.gather(*(_create(client, f"again-{i}") for i in range(4)))
    assert [response.status_code for response, _ in again] == [201] * 4


async def test_freezing_mid_request_is_bounded_too(
    client: httpx.AsyncClient, services: Services, proxy: FrozenProxy
) -> None:
    """A connection in use when the database stops answering (no ping on the way): the
    statement's wait ends at the deadline."""
    first, _ = await _create(client, "first")
    assert first.status_code == 201
    token = first.json()["token"]
    session_id = first.json()["sessionId"]

    def frozen_validate() -> tuple[int, str, float]:
        with services.engine.connect() as connection:  # checked out (and pinged) before the freeze
            proxy.freeze()
            started = time.monotonic()
            try:
                connection.exec_driver_sql("SELECT 1")
            except Exception as exc:  # the type is what is checked
                return 0, type(exc).__name__, time.monotonic() - started
            return 1, "", time.monotonic() - started

    ok, error, elapsed = await asyncio.to_thread(frozen_validate)
    assert (ok, error) == (0, "OperationalError")
    assert TIMEOUT <= elapsed < BOUND, f"took {elapsed:.1f} s"
    proxy.thaw()
    check = await client.get(
        f"/api/chatkit/session/{session_id}/validate", headers={"Authorization": f"Bearer {token}"}
    )
    assert check.status_code == 200 and check.json()["valid"] is True
