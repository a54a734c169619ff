"""The workflows route and rules that hold across every route: credentials only from
the Authorization header, no caching of tokens, one error envelope, no secret in any
response body (docs/api.md)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from chatkit_app.services import Services
from tests.conftest import API_KEY, SECRET, api_key_headers, bearer, create_session

BASE = "/api/chatkit/session"
WORKFLOWS = "/api/chatkit/workflows"


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code


async def test_workflow_with_a_session_token(client: httpx.AsyncClient, services: Services) -> None:
    created = await create_session(client)
    response = await client.get(f"{WORKFLOWS}/assistant", headers=bearer(created["token"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"id", "name", "mode", "ui"}
    assert body == services.registry.get("assistant").public()
    assert body["id"] == "assistant" and body["mode"] in {"agent", "hosted"}


async def test_workflow_with_the_api_key(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{WORKFLOWS}/assistant", headers=api_key_headers())
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"id", "name", "mode", "ui"}


async def test_workflow_public_view_has_no_server_side_fields(client: httpx.AsyncClient) -> None:
    text = (await client.get(f"{WORKFLOWS}/assistant", headers=api_key_headers())).text.lower()
    for word in ("instructions", "agent_factory", "api_key", "apikey", "secret"):
        assert word not in text


async def test_unknown_workflow_is_404(client: httpx.AsyncClient) -> None:
    created = await create_session(client)
    for headers in (api_key_headers(), bearer(created["token"])):
        assert_error(await client.get(f"{WORKFLOWS}/nope", headers=headers), 404, "workflow_not_found")


async def test_workflow_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(f"{WORKFLOWS}/assistant"), 401, "missing_credentials")


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
async def test_workflow_with_bad_token_is_401(client: httpx.AsyncClient, token: str) -> None:
    assert_error(await client.get(f"{WORKFLOWS}/assistant", headers=bearer(token)), 401, "invalid_token")


async def test_workflow_with_a_revoked_session_token_is_401(client: httpx.AsyncClient) -> None:
    created = await create_session(client)
    await client.delete(f"{BASE}/{created['sessionId']}", headers=api_key_headers())
    response = await client.get(f"{WORKFLOWS}/assistant", headers=bearer(created["token"]))
    assert_error(response, 401, "session_revoked")


async def test_token_in_the_query_string_is_ignored(client: httpx.AsyncClient) -> None:
    created = await create_session(client)
    session_id, token = created["sessionId"], created["token"]
    validate = await client.get(f"{BASE}/{session_id}/validate", params={"token": token, "access_token": token})
    assert validate.status_code == 401 and validate.json()["error"]["code"] == "missing_credentials"
    refresh = await client.post(f"{BASE}/{session_id}/refresh", params={"token": token, "access_token": token})
    assert_error(refresh, 401, "missing_credentials")
    workflow = await client.get(f"{WORKFLOWS}/assistant", params={"token": token, "access_token": token})
    assert_error(workflow, 401, "missing_credentials")
    create = await client.post(BASE, params={"api_key": API_KEY, "token": API_KEY}, json={"userId": "u"})
    assert_error(create, 401, "missing_credentials")
    delete = await client.delete(f"{BASE}/{session_id}", params={"token": token})
    assert_error(delete, 401, "missing_credentials")
    assert (await client.get(f"{BASE}/{session_id}/validate", headers=bearer(token))).status_code == 200


async def test_token_responses_are_not_cacheable(client: httpx.AsyncClient) -> None:
    created_response = await client.post(BASE, json={"userId": "u"}, headers=api_key_headers())
    created = created_response.json()
    session_id = created["sessionId"]
    validated = await client.get(f"{BASE}/{session_id}/validate", headers=bearer(created["token"]))
    refreshed = await client.post(f"{BASE}/{session_id}/refresh", headers=bearer(created["token"]))
    invalid = await client.get(f"{BASE}/{session_id}/validate", headers=bearer("garbage"))
    for response in (created_response, validated, refreshed, invalid):
        assert "no-store" in response.headers.get("cache-control", ""), response.request.url


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", BASE),
        ("PUT", BASE),
        ("PATCH", f"{BASE}/cks_x"),
        ("GET", f"{BASE}/cks_x/refresh"),
        ("POST", f"{BASE}/cks_x/validate"),
        ("POST", f"{WORKFLOWS}/assistant"),
    ],
)
async def test_wrong_method_is_405_with_the_envelope(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path, headers=api_key_headers())
    assert_error(response, 405, "method_not_allowed")
    assert "allow" in {name.lower() for name in response.headers}


async def test_unknown_route_is_404_with_the_envelope(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/chatkit/nothing-here", headers=api_key_headers()), 404, "not_found")


async def test_no_response_ever_contains_the_api_key_or_the_secret(
    client: httpx.AsyncClient, services: Services
) -> None:
    responses: list[httpx.Response] = []

    async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await client.request(method, path, **kwargs)
        responses.append(response)
        return response

    created = (await call("POST", BASE, json={"userId": "u", "metadata": {"m": 1}}, headers=api_key_headers())).json()
    session_id, token = created["sessionId"], created["token"]
    await call("POST", BASE, json={"userId": API_KEY + " !"}, headers=api_key_headers())  # 422: no echo
    await call("POST", BASE, json={"userId": "u", "workflowId": SECRET}, headers=api_key_headers())
    await call("POST", BASE, json={"userId": "u", "metadata": [SECRET]}, headers=api_key_headers())
    await call("POST", BASE, content=b"{" + API_KEY.encode(), headers=api_key_headers())
    await call("POST", BASE, json={"userId": "u"}, headers=bearer(API_KEY[:-1]))
    await call("POST", BASE, json={"userId": "u"})
    await call("GET", f"{BASE}/{session_id}/validate", headers=bearer(token))
    await call("GET", f"{BASE}/{session_id}/validate", headers=bearer(API_KEY))
    await call("GET", f"{BASE}/{session_id}/validate", headers=bearer(SECRET))
    new_token = (await call("POST", f"{BASE}/{session_id}/refresh", headers=bearer(token))).json()["token"]
    await call("POST", f"{BASE}/{session_id}/refresh", headers=bearer(token))
    await call("POST", f"{BASE}/{session_id}/refresh", headers=bearer(new_token))
    await call("GET", f"{WORKFLOWS}/assistant", headers=api_key_headers())
    await call("GET", f"{WORKFLOWS}/{SECRET}", headers=api_key_headers())
    await call("DELETE", f"{BASE}/{session_id}", headers=api_key_headers())
    await call("DELETE", f"{BASE}/cks_unknown", headers=api_key_headers())
    await call("PUT", BASE, headers=api_key_headers())

    assert len({response.status_code for response in responses}) >= 7
    secret_text = services.secret.decode()
    for response in responses:
        text = response.text + json.dumps(dict(response.headers))
        assert API_KEY not in text, (response.request.method, response.request.url)
        assert SECRET not in text and secret_text not in text, (response.request.method, response.request.url)
        assert "Traceback" not in text
        if response.status_code >= 400:
            assert set(response.json()) <= {"error", "valid"}
