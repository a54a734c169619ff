"""Token expiry and the absolute session lifetime, driven by the SessionService clock
instead of sleeping (docs/security.md, Tokens and sessions: refresh never extends past the max age).

The token codec judges iat/nbf/exp by the same clock, so the clock may move freely.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from chatkit_app.api.app import create_api
from chatkit_app.services import Services
from tests.api.conftest import Clock, asgi_client, token_claims
from tests.conftest import api_key_headers, bearer, create_session

BASE = "/api/chatkit/session"


def lifetimes(services: Services) -> tuple[int, int]:
    return services.settings.chatkit_token_ttl_seconds, services.settings.chatkit_session_max_age_seconds


async def refresh(client: httpx.AsyncClient, session_id: str, token: str) -> httpx.Response:
    return await client.post(f"{BASE}/{session_id}/refresh", headers=bearer(token))


async def validate(client: httpx.AsyncClient, session_id: str, token: str) -> httpx.Response:
    return await client.get(f"{BASE}/{session_id}/validate", headers=bearer(token))


async def expired_session(
    client: httpx.AsyncClient, clock: Clock, services: Services
) -> tuple[dict[str, str], int, int]:
    """A session whose token expired 10 s ago; returns it, the token TTL and now."""
    ttl, _ = lifetimes(services)
    now = clock.now
    clock.set(now - ttl - 10)
    created = await create_session(client)
    clock.set(now)
    return created, ttl, now


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def test_expired_token_fails_validate_as_token_expired(
    clocked_client: httpx.AsyncClient, clock: Clock, clocked_services: Services
) -> None:
    created, _, _ = await expired_session(clocked_client, clock, clocked_services)
    response = await validate(clocked_client, created["sessionId"], created["token"])
    assert response.status_code == 401
    assert response.json()["valid"] is False
    assert error_code(response) == "token_expired"


async def test_refresh_accepts_an_expired_but_current_token(
    clocked_client: httpx.AsyncClient, clock: Clock, clocked_services: Services
) -> None:
    created, ttl, now = await expired_session(clocked_client, clock, clocked_services)
    response = await refresh(clocked_client, created["sessionId"], created["token"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expiresIn"] == ttl
    assert token_claims(body["token"])["exp"] == now + ttl
    assert (await validate(clocked_client, created["sessionId"], body["token"])).status_code == 200


async def test_expired_rotated_away_token_is_still_token_reused(
    clocked_client: httpx.AsyncClient, clock: Clock, clocked_services: Services
) -> None:
    ttl, _ = lifetimes(clocked_services)
    now = clock.now
    clock.set(now - 3 * ttl)
    created = await create_session(clocked_client)
    clock.set(now - 2 * ttl)
    assert (await refresh(clocked_client, created["sessionId"], created["token"])).status_code == 200
    clock.set(now)
    response = await refresh(clocked_client, created["sessionId"], created["token"])
    assert response.status_code == 401
    assert error_code(response) == "token_reused"


async def test_expired_token_of_a_revoked_session_cannot_refresh(
    clocked_client: httpx.AsyncClient, clock: Clock, clocked_services: Services
) -> None:
    created, _, _ = await expired_session(clocked_client, clock, clocked_services)
    deleted = await clocked_client.delete(f"{BASE}/{created['sessionId']}", headers=api_key_headers())
    assert deleted.status_code == 204
    response = await refresh(clocked_client, created["sessionId"], created["token"])
    assert response.status_code == 401
    assert error_code(response) == "session_revoked"


async def test_refresh_never_extends_past_the_absolute_lifetime(
    clocked_client: httpx.AsyncClient, clock: Clock, clocked_services: Services
) -> None:
    ttl, max_age = lifetimes(clocked_services)
    now = clock.now
    started = now - max_age + ttl // 2  # less than one token lifetime of the session is left
    clock.set(started)
    created = await create_session(clocked_client)
    absolute_end = started + max_age
    clock.set(now - 5)
    response = await refresh(clocked_client, created["sessionId"], created["token"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expiresIn"] == absolute_end - (now - 5) < ttl
    assert token_claims(body["token"])["exp"] == absolute_end
    assert datetime.fromisoformat(body["expiresAt"]).timestamp() == absolute_end
    validated = await validate(clocked_client, created["sessionId"], body["token"])
    assert validated.status_code == 200, validated.text
    assert validated.json()["expiresAt"] == body["expiresAt"]


@pytest.mark.parametrize("after_end", [0, 1, 3600])
async def test_refresh_after_the_absolute_lifetime_is_session_expired(
    clocked_client: httpx.AsyncClient, clock: Clock, clocked_services: Services, after_end: int
) -> None:
    ttl, max_age = lifetimes(clocked_services)
    now = clock.now
    started = now - max_age + ttl // 2
    clock.set(started)
    created = await create_session(clocked_client)
    clock.set(now - 5)
    latest = (await refresh(clocked_client, created["sessionId"], created["token"])).json()["token"]
    clock.set(started + max_age + after_end)
    response = await refresh(clocked_client, created["sessionId"], latest)
    assert response.status_code == 401
    assert error_code(response) == "session_expired"


async def test_first_token_is_capped_when_max_age_is_shorter_than_ttl(
    services_with: Callable[..., Services],
) -> None:
    short = services_with(chatkit_token_ttl_seconds=3600, chatkit_session_max_age_seconds=600)
    async with asgi_client(create_api(lambda: short)) as http:
        created = await create_session(http)
    assert created["expiresIn"] == 600
    claims = token_claims(created["token"])
    assert claims["exp"] - claims["iat"] == 600


async def test_token_ttl_setting_is_used(services_with: Callable[..., Services]) -> None:
    custom = services_with(chatkit_token_ttl_seconds=90)
    async with asgi_client(create_api(lambda: custom)) as http:
        created = await create_session(http)
        refreshed = (await refresh(http, created["sessionId"], created["token"])).json()
    assert created["expiresIn"] == refreshed["expiresIn"] == 90


async def test_sessions_work_with_a_clock_ahead_of_the_wall_clock(
    clocked_client: httpx.AsyncClient, clock: Clock
) -> None:
    clock.set(clock.now + 2 * 86400)
    created = await create_session(clocked_client)
    response = await validate(clocked_client, created["sessionId"], created["token"])
    assert response.status_code == 200, response.text
