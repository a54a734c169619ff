"""Concurrent requests through the real ASGI app against a real database file (and
Postgres when CHATKIT_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from chatkit_app.api.app import create_api
from chatkit_app.services import Services, build_services
from tests.api.conftest import asgi_client
from tests.conftest import api_key_headers, bearer, create_session, make_settings

BASE = "/api/chatkit/session"
CREATES = 200
REFRESHES = 20


@pytest.fixture
def postgres_services(tmp_path: Path, postgres_url: str) -> Iterator[Services]:
    built = build_services(make_settings(tmp_path, database_url=postgres_url), production=False)
    yield built
    built.engine.dispose()


def count_rows(services: Services) -> int:
    with services.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM chatkit_session")).scalar_one())


async def create_many(client: httpx.AsyncClient, services: Services) -> None:
    async def one(index: int) -> httpx.Response:
        body = {"userId": f"user-{index}", "workflowId": "assistant", "metadata": {"i": index}}
        return await client.post(BASE, json=body, headers=api_key_headers())

    responses = await asyncio.gather(*(one(index) for index in range(CREATES)))
    assert Counter(response.status_code for response in responses) == {201: CREATES}, [
        response.text for response in responses if response.status_code != 201
    ][:3]
    bodies = [response.json() for response in responses]
    assert len({body["sessionId"] for body in bodies}) == CREATES
    assert len({body["token"] for body in bodies}) == CREATES
    assert sorted(body["metadata"]["i"] for body in bodies) == list(range(CREATES))
    assert count_rows(services) == CREATES


async def refresh_race(client: httpx.AsyncClient) -> None:
    """One token refreshed 20 times at once: exactly one rotation may win.

    The losers must all be 401 token_reused, whichever order they read the row in.
    """
    created = await create_session(client)
    session_id, token = created["sessionId"], created["token"]
    path = f"{BASE}/{session_id}/refresh"
    responses = await asyncio.gather(*(client.post(path, headers=bearer(token)) for _ in range(REFRESHES)))
    winners = [response for response in responses if response.status_code == 200]
    losers = [response for response in responses if response.status_code != 200]
    assert len(winners) == 1, Counter(response.status_code for response in responses)
    assert {response.status_code for response in losers} == {401}
    codes = Counter(response.json()["error"]["code"] for response in losers)
    assert codes == Counter({"token_reused": REFRESHES - 1}), codes
    # Reuse detection revoked the session: the winner's new token is dead too.
    validated = await client.get(f"{BASE}/{session_id}/validate", headers=bearer(winners[0].json()["token"]))
    assert (validated.status_code, validated.json()["error"]["code"]) == (401, "session_revoked")


async def test_200_concurrent_creates_on_sqlite(client: httpx.AsyncClient, services: Services) -> None:
    assert services.engine.dialect.name == "sqlite"
    await create_many(client, services)


async def test_concurrent_refreshes_with_one_token_have_one_winner_on_sqlite(client: httpx.AsyncClient) -> None:
    await refresh_race(client)


async def test_200_concurrent_creates_on_postgres(postgres_services: Services) -> None:
    assert postgres_services.engine.dialect.name == "postgresql"
    async with asgi_client(create_api(lambda: postgres_services)) as http:
        await create_many(http, postgres_services)


async def test_concurrent_refreshes_with_one_token_have_one_winner_on_postgres(postgres_services: Services) -> None:
    async with asgi_client(create_api(lambda: postgres_services)) as http:
        await refresh_race(http)


async def test_a_locked_sqlite_database_is_waited_for_off_the_event_loop(
    services: Services, client: httpx.AsyncClient
) -> None:
    """Another process holding the write lock: the fast on-loop attempt fails at once,
    the request waits in the database thread, the event loop keeps serving, and the
    session is created once the lock is released."""
    import sqlite3

    from sqlalchemy.engine import make_url

    database = make_url(services.settings.resolved_database_url).database
    assert database
    blocker = sqlite3.connect(database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        pending = asyncio.create_task(client.post(BASE, json={"userId": "waiting"}, headers=api_key_headers()))
        await asyncio.sleep(0.3)
        assert not pending.done()
        served_meanwhile = await client.get("/api/chatkit/workflows/assistant", headers=api_key_headers())
        assert served_meanwhile.status_code == 200
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    response = await asyncio.wait_for(pending, timeout=10)
    assert response.status_code == 201, response.text


async def test_chat_requests_wait_off_the_loop_while_another_process_writes(
    services: Services, client: httpx.AsyncClient
) -> None:
    """The store's on-loop fast path gives way to the waiting path under a foreign lock."""
    import sqlite3

    from sqlalchemy.engine import make_url

    from tests.api.chatkit_client import ChatKitClient, reply_text, user_input

    alice = await ChatKitClient.for_user(client, "alice")
    database = make_url(services.settings.resolved_database_url).database
    assert database
    blocker = sqlite3.connect(database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        pending = asyncio.create_task(alice.stream("threads.create", input=user_input("ping me")))
        await asyncio.sleep(0.3)
        assert not pending.done()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    events = await asyncio.wait_for(pending, timeout=10)
    assert "ping me" in reply_text(events)
