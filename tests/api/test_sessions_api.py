"""POST /api/chatkit/session: the session object and every way creation can fail
(docs/api.md, Session API). Lifecycle routes are in test_session_lifecycle_api.py."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from chatkit_app.api.app import create_api
from chatkit_app.api.deps import DRAIN_FACTOR
from chatkit_app.services import Services
from tests.api.conftest import asgi_client, token_claims
from tests.conftest import API_KEY, api_key_headers, bearer, create_session

SESSION_PATH = "/api/chatkit/session"
SESSION_ID = re.compile(r"^cks_[A-Za-z0-9_-]{32,}$")
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body


async def test_create_returns_the_session_object(client: httpx.AsyncClient, services: Services) -> None:
    response = await client.post(
        SESSION_PATH,
        json={"userId": "user-1", "workflowId": "assistant", "metadata": {"plan": "pro", "n": [1, 2]}},
        headers=api_key_headers(),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "sessionId",
        "token",
        "tokenType",
        "expiresAt",
        "expiresIn",
        "userId",
        "workflowId",
        "metadata",
        "chatkit",
    }
    assert SESSION_ID.match(body["sessionId"])
    assert body["tokenType"] == "Bearer"
    assert (body["userId"], body["workflowId"]) == ("user-1", "assistant")
    assert body["metadata"] == {"plan": "pro", "n": [1, 2]}
    assert body["chatkit"]["mode"] == "self-hosted"
    assert body["chatkit"]["apiUrl"].rstrip("/").endswith("/api/chatkit")
    assert "clientSecret" not in body["chatkit"]
    claims = token_claims(body["token"])
    assert (claims["sid"], claims["sub"], claims["wid"]) == (body["sessionId"], "user-1", "assistant")
    assert ISO_UTC.match(body["expiresAt"])
    assert datetime.fromisoformat(body["expiresAt"]).timestamp() == claims["exp"]
    assert body["expiresIn"] == claims["exp"] - claims["iat"] == services.settings.chatkit_token_ttl_seconds


async def test_session_ids_carry_at_least_128_random_bits(client: httpx.AsyncClient) -> None:
    ids = [(await create_session(client))["sessionId"] for _ in range(20)]
    assert len(set(ids)) == len(ids)
    for session_id in ids:
        assert SESSION_ID.match(session_id)
        assert len(session_id.removeprefix("cks_")) * 6 >= 128  # base64url: 6 bits per character


async def test_create_stores_the_session_row(client: httpx.AsyncClient, services: Services) -> None:
    body = await create_session(client, "user-9", metadata={"a": "b"})
    with services.engine.connect() as connection:
        row = connection.execute(
            text("SELECT user_id, workflow_id, metadata, current_jti, revoked_at FROM chatkit_session WHERE id = :id"),
            {"id": body["sessionId"]},
        ).one()
    assert (row.user_id, row.workflow_id, row.revoked_at) == ("user-9", "assistant", None)
    metadata = json.loads(row.metadata) if isinstance(row.metadata, str) else row.metadata
    assert metadata == {"a": "b"}
    assert row.current_jti == token_claims(body["token"])["jti"]


async def test_create_without_workflow_uses_the_default(client: httpx.AsyncClient, services: Services) -> None:
    response = await client.post(SESSION_PATH, json={"userId": "u"}, headers=api_key_headers())
    assert response.status_code == 201, response.text
    assert response.json()["workflowId"] == services.registry.default_id
    assert response.json()["metadata"] == {}


async def test_create_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(SESSION_PATH, json={"userId": "u", "workflowId": "assistant"})
    assert_error(response, 401, "missing_credentials")
    assert response.headers["www-authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", API_KEY, "Token " + API_KEY])
async def test_create_with_malformed_authorization_is_401(client: httpx.AsyncClient, authorization: str) -> None:
    response = await client.post(SESSION_PATH, json={"userId": "u"}, headers={"Authorization": authorization})
    assert_error(response, 401, "missing_credentials")


@pytest.mark.parametrize("key", ["wrong-key", API_KEY + "x", API_KEY[:-1], API_KEY.upper()])
async def test_create_with_wrong_api_key_is_401(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post(SESSION_PATH, json={"userId": "u"}, headers=bearer(key))
    assert_error(response, 401, "invalid_api_key")


async def test_create_with_a_session_token_instead_of_the_api_key_is_401(client: httpx.AsyncClient) -> None:
    token = (await create_session(client))["token"]
    response = await client.post(SESSION_PATH, json={"userId": "u"}, headers=bearer(token))
    assert_error(response, 401, "invalid_api_key")


async def test_create_without_a_configured_api_key_is_503(services_with: Callable[..., Services]) -> None:
    keyless = services_with(chatkit_api_key=None)
    async with asgi_client(create_api(lambda: keyless)) as http:
        response = await http.post(SESSION_PATH, json={"userId": "u"}, headers=api_key_headers())
    assert_error(response, 503, "api_key_not_configured")


@pytest.mark.parametrize("user_id", ["has space", "x" * 129, "", 42, None, ["u"], {"id": "u"}, "tab\tuser", "ü"])
async def test_create_with_invalid_user_id_is_422(client: httpx.AsyncClient, user_id: Any) -> None:
    response = await client.post(SESSION_PATH, json={"userId": user_id}, headers=api_key_headers())
    assert_error(response, 422, "validation_error")


async def test_create_accepts_a_128_character_user_id(client: httpx.AsyncClient) -> None:
    user_id = "a.b:c@d+e-f_" + "x" * 116
    assert (await create_session(client, user_id))["userId"] == user_id


async def test_create_without_user_id_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(SESSION_PATH, json={"workflowId": "assistant"}, headers=api_key_headers())
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize(
    "metadata",
    [
        ["not", "an", "object"],
        "text",
        7,
        {"big": "x" * 5000},
        {f"k{i}": i for i in range(33)},
        {"a": {"b": {"c": {"d": {"e": 1}}}}},
    ],
)
async def test_create_with_bad_metadata_is_422(client: httpx.AsyncClient, metadata: Any) -> None:
    response = await client.post(SESSION_PATH, json={"userId": "u", "metadata": metadata}, headers=api_key_headers())
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize("workflow_id", ["nope", "wf_unknown", "../assistant"])
async def test_create_for_unknown_workflow_is_404(client: httpx.AsyncClient, workflow_id: str) -> None:
    response = await client.post(
        SESSION_PATH, json={"userId": "u", "workflowId": workflow_id}, headers=api_key_headers()
    )
    assert_error(response, 404, "workflow_not_found")


@pytest.mark.parametrize("workflow_id", [5, ["assistant"], {"id": "assistant"}])
async def test_create_with_non_string_workflow_is_422(client: httpx.AsyncClient, workflow_id: Any) -> None:
    response = await client.post(
        SESSION_PATH, json={"userId": "u", "workflowId": workflow_id}, headers=api_key_headers()
    )
    assert_error(response, 422, "validation_error")


async def test_create_with_unknown_field_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        SESSION_PATH, json={"userId": "u", "workflowId": "assistant", "admin": True}, headers=api_key_headers()
    )
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize("raw", [b"{", b"{'userId': 'u'}", b"userId=u", b"\xff\xfe{}", b'{"userId": "u",}'])
async def test_create_with_invalid_json_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    headers = {**api_key_headers(), "Content-Type": "application/json"}
    response = await client.post(SESSION_PATH, content=raw, headers=headers)
    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize("raw", [b"", b"[]", b'"text"', b"null", b"42"])
async def test_create_with_non_object_json_is_rejected(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(SESSION_PATH, content=raw, headers=api_key_headers())
    assert_error(response, 422, "validation_error")


def oversized_json(services: Services) -> bytes:
    limit = services.settings.chatkit_max_body_bytes
    return json.dumps({"userId": "u", "metadata": {"pad": "x" * limit}}).encode()


async def test_body_over_the_limit_with_content_length_is_413(client: httpx.AsyncClient, services: Services) -> None:
    raw = oversized_json(services)
    response = await client.post(SESSION_PATH, content=raw, headers=api_key_headers())
    assert_error(response, 413, "payload_too_large")


async def test_streamed_body_over_the_limit_is_cut_off_while_reading(
    client: httpx.AsyncClient, services: Services
) -> None:
    chunk, total_chunks = b" " * 65536, 160  # 10 MiB of JSON whitespace, no Content-Length
    limit = services.settings.chatkit_max_body_bytes
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"userId": "u"'
        for _ in range(total_chunks):
            sent += 1
            yield chunk
        yield b"}"

    response = await client.post(SESSION_PATH, content=body(), headers=api_key_headers())
    assert_error(response, 413, "payload_too_large")
    # Past the limit the app reads at most a bounded excess (discarded, so the client can
    # read the 413 instead of a reset connection), never the whole body.
    assert sent * len(chunk) <= DRAIN_FACTOR * limit + 2 * len(chunk), "the app kept reading after the limit"
    assert sent < total_chunks


async def test_streamed_body_under_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b'{"userId": "streamed", '
        yield b'"workflowId": "assistant"}'

    response = await client.post(SESSION_PATH, content=body(), headers=api_key_headers())
    assert response.status_code == 201, response.text
    assert response.json()["userId"] == "streamed"


async def test_non_numeric_content_length_is_400(client: httpx.AsyncClient) -> None:
    headers = {**api_key_headers(), "Content-Length": "abc"}
    response = await client.post(SESSION_PATH, content=b"{}", headers=headers)
    assert_error(response, 400, "invalid_request")


async def test_errors_are_checked_before_the_body_is_trusted(client: httpx.AsyncClient, services: Services) -> None:
    response = await client.post(SESSION_PATH, content=oversized_json(services), headers=bearer("wrong"))
    assert_error(response, 401, "invalid_api_key")
