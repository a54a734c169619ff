"""Validate, refresh (rotation and reuse detection), revoke, and cross-session access
(docs/api.md, Session API; docs/security.md, Tokens and sessions)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from chatkit_app.services import Services
from tests.api.conftest import token_claims
from tests.conftest import api_key_headers, bearer, create_session

BASE = "/api/chatkit/session"


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def assert_invalid(response: httpx.Response, code: str) -> None:
    """The validate route's 401: the error envelope plus `valid: false`."""
    assert response.status_code == 401, response.text
    body = response.json()
    assert set(body) == {"valid", "error"}
    assert body["valid"] is False
    assert body["error"]["code"] == code and body["error"]["message"]
    assert response.headers["www-authenticate"].lower().startswith("bearer")


async def validate(client: httpx.AsyncClient, session_id: str, token: str | None) -> httpx.Response:
    headers = bearer(token) if token is not None else {}
    return await client.get(f"{BASE}/{session_id}/validate", headers=headers)


async def refresh(client: httpx.AsyncClient, session_id: str, token: str) -> httpx.Response:
    return await client.post(f"{BASE}/{session_id}/refresh", headers=bearer(token))


def session_row(services: Services, session_id: str) -> Any:
    with services.engine.connect() as connection:
        return connection.execute(
            text("SELECT current_jti, revoked_at, revoked_reason, refresh_count FROM chatkit_session WHERE id = :id"),
            {"id": session_id},
        ).one()


async def test_validate_returns_the_session(client: httpx.AsyncClient) -> None:
    created = await create_session(client, "user-v")
    response = await validate(client, created["sessionId"], created["token"])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "valid": True,
        "sessionId": created["sessionId"],
        "userId": "user-v",
        "workflowId": "assistant",
        "expiresAt": created["expiresAt"],
    }


async def test_validate_without_credentials_is_401_invalid(client: httpx.AsyncClient) -> None:
    created = await create_session(client)
    assert_invalid(await validate(client, created["sessionId"], None), "missing_credentials")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 5000])
async def test_validate_with_bad_token_is_401_invalid(client: httpx.AsyncClient, token: str) -> None:
    created = await create_session(client)
    assert_invalid(await validate(client, created["sessionId"], token), "invalid_token")


async def test_validate_with_the_api_key_is_401_invalid(client: httpx.AsyncClient) -> None:
    created = await create_session(client)
    assert_invalid(
        await validate(client, created["sessionId"], api_key_headers()["Authorization"][7:]), "invalid_token"
    )


async def test_refresh_issues_a_new_token_for_the_same_session(client: httpx.AsyncClient, services: Services) -> None:
    created = await create_session(client, "user-r", metadata={"tier": "gold"})
    response = await refresh(client, created["sessionId"], created["token"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token"] != created["token"]
    assert token_claims(body["token"])["jti"] != token_claims(created["token"])["jti"]
    same = ("sessionId", "userId", "workflowId", "metadata", "tokenType", "chatkit")
    assert {key: body[key] for key in same} == {key: created[key] for key in same}
    assert body["expiresIn"] == services.settings.chatkit_token_ttl_seconds
    assert session_row(services, created["sessionId"]).current_jti == token_claims(body["token"])["jti"]
    assert (await validate(client, created["sessionId"], body["token"])).status_code == 200


async def test_old_token_fails_validate_after_refresh_without_killing_the_session(client: httpx.AsyncClient) -> None:
    created = await create_session(client)
    new_token = (await refresh(client, created["sessionId"], created["token"])).json()["token"]
    assert_invalid(await validate(client, created["sessionId"], created["token"]), "token_reused")
    assert (await validate(client, created["sessionId"], new_token)).status_code == 200


async def test_refresh_with_a_rotated_away_token_revokes_the_session(
    client: httpx.AsyncClient, services: Services
) -> None:
    created = await create_session(client)
    session_id = created["sessionId"]
    new_token = (await refresh(client, session_id, created["token"])).json()["token"]
    replay = await refresh(client, session_id, created["token"])
    assert_error(replay, 401, "token_reused")
    assert replay.headers["www-authenticate"].lower().startswith("bearer")
    assert_invalid(await validate(client, session_id, new_token), "session_revoked")
    assert_error(await refresh(client, session_id, new_token), 401, "session_revoked")
    row = session_row(services, session_id)
    assert row.revoked_at is not None and row.revoked_reason == "token_reused"


async def test_a_chain_of_refreshes_keeps_one_live_token(client: httpx.AsyncClient, services: Services) -> None:
    created = await create_session(client)
    tokens = [created["token"]]
    for _ in range(4):
        response = await refresh(client, created["sessionId"], tokens[-1])
        assert response.status_code == 200, response.text
        tokens.append(response.json()["token"])
    assert len(set(tokens)) == len(tokens)
    for old in tokens[:-1]:
        assert_invalid(await validate(client, created["sessionId"], old), "token_reused")
    assert (await validate(client, created["sessionId"], tokens[-1])).status_code == 200
    assert session_row(services, created["sessionId"]).refresh_count == 4


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic abc"}])
async def test_refresh_without_a_bearer_token_is_401(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    created = await create_session(client)
    assert_error(
        await client.post(f"{BASE}/{created['sessionId']}/refresh", headers=headers), 401, "missing_credentials"
    )


async def test_refresh_with_the_api_key_or_garbage_is_401(client: httpx.AsyncClient) -> None:
    created = await create_session(client)
    for token in (api_key_headers()["Authorization"][7:], "garbage", created["token"] + "x"):
        assert_error(await refresh(client, created["sessionId"], token), 401, "invalid_token")
    assert (await validate(client, created["sessionId"], created["token"])).status_code == 200


async def test_token_of_session_a_on_session_b_is_403(client: httpx.AsyncClient) -> None:
    a = await create_session(client, "alice")
    b = await create_session(client, "bob")
    path_b = f"{BASE}/{b['sessionId']}"
    assert_error(await client.get(f"{path_b}/validate", headers=bearer(a["token"])), 403, "forbidden")
    assert_error(await client.post(f"{path_b}/refresh", headers=bearer(a["token"])), 403, "forbidden")
    assert_error(await client.delete(path_b, headers=bearer(a["token"])), 403, "forbidden")
    for session in (a, b):  # neither session was harmed
        assert (await validate(client, session["sessionId"], session["token"])).status_code == 200


async def test_token_on_an_unknown_session_path_is_refused(client: httpx.AsyncClient) -> None:
    a = await create_session(client)
    unknown = "cks_" + "A" * 32
    assert_error(await client.post(f"{BASE}/{unknown}/refresh", headers=bearer(a["token"])), 403, "forbidden")
    assert_error(await client.delete(f"{BASE}/{unknown}", headers=bearer(a["token"])), 403, "forbidden")


async def test_delete_unknown_session_with_api_key_is_404(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{BASE}/cks_{'B' * 32}", headers=api_key_headers())
    assert_error(response, 404, "session_not_found")


async def test_delete_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    created = await create_session(client)
    assert_error(await client.delete(f"{BASE}/{created['sessionId']}"), 401, "missing_credentials")
    assert (await validate(client, created["sessionId"], created["token"])).status_code == 200


async def test_delete_with_the_session_token_kills_it(client: httpx.AsyncClient, services: Services) -> None:
    created = await create_session(client)
    session_id, token = created["sessionId"], created["token"]
    response = await client.delete(f"{BASE}/{session_id}", headers=bearer(token))
    assert response.status_code == 204
    assert response.content == b""
    assert_invalid(await validate(client, session_id, token), "session_revoked")
    assert_error(await refresh(client, session_id, token), 401, "session_revoked")
    assert_error(await client.delete(f"{BASE}/{session_id}", headers=bearer(token)), 401, "session_revoked")
    assert session_row(services, session_id).revoked_reason == "revoked"


async def test_delete_with_the_api_key_kills_the_token(client: httpx.AsyncClient) -> None:
    created = await create_session(client)
    session_id = created["sessionId"]
    response = await client.delete(f"{BASE}/{session_id}", headers=api_key_headers())
    assert response.status_code == 204
    assert_invalid(await validate(client, session_id, created["token"]), "session_revoked")
    assert_error(await refresh(client, session_id, created["token"]), 401, "session_revoked")
    assert (await client.delete(f"{BASE}/{session_id}", headers=api_key_headers())).status_code == 204


async def test_delete_only_kills_the_named_session(client: httpx.AsyncClient) -> None:
    a = await create_session(client, "same-user")
    b = await create_session(client, "same-user")
    assert (await client.delete(f"{BASE}/{a['sessionId']}", headers=api_key_headers())).status_code == 204
    assert (await validate(client, b["sessionId"], b["token"])).status_code == 200


async def test_delete_with_a_rotated_away_token_is_401(client: httpx.AsyncClient) -> None:
    created = await create_session(client)
    await refresh(client, created["sessionId"], created["token"])
    response = await client.delete(f"{BASE}/{created['sessionId']}", headers=bearer(created["token"]))
    assert_error(response, 401, "token_reused")


async def test_every_replay_of_a_rotated_away_token_is_token_reused(client: httpx.AsyncClient) -> None:
    created = await create_session(client)
    await refresh(client, created["sessionId"], created["token"])
    assert_error(await refresh(client, created["sessionId"], created["token"]), 401, "token_reused")
    assert_error(await refresh(client, created["sessionId"], created["token"]), 401, "token_reused")
