"""Hosted (Agent Builder `wf_...`) workflows through the session API, against a loopback
fake of OpenAI's ChatKit sessions API over real HTTP (docs/customising.md, Hosted workflows)."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from chatkit_app.api.app import create_api
from chatkit_app.services import Services, build_services
from chatkit_app.workflows.config import PublicConfig, WorkflowEntry
from chatkit_app.workflows.registry import build_registry
from tests.api.conftest import asgi_client
from tests.api.test_sessions_api import assert_error
from tests.conftest import api_key_headers, bearer, create_session, make_settings
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, running_fake

OPENAI_KEY = "sk-proj-hosted-" + secrets.token_hex(20)
WF = "wf_" + "a1" * 24
CONFIG_WF = "wf_" + "b2" * 24
SESSION_PATH = "/api/chatkit/session"
ATTACHMENTS_UI = {"composer": {"attachments": {"enabled": True, "maxSize": 5 * 1024 * 1024 + 1, "maxCount": 3}}}


class HostedApps:
    """Builds the real app for `CHATKIT_WORKFLOW_ID=wf_...` (plus a hosted config entry with
    attachments) pointed at the fake; `**overrides` are settings."""

    def __init__(self, fake: FakeOpenAI, tmp_path: Path, stack: AsyncExitStack) -> None:
        self._fake, self._tmp_path, self._stack = fake, tmp_path, stack
        self.services: dict[int, Services] = {}  # by id(client)

    async def __call__(self, **overrides: Any) -> httpx.AsyncClient:
        values = {"openai_api_key": OPENAI_KEY, "openai_base_url": self._fake.base_url, "chatkit_workflow_id": WF}
        settings = make_settings(self._tmp_path, **{**values, **overrides})
        config = PublicConfig(workflows={CONFIG_WF: WorkflowEntry(name="Support", mode="hosted", ui=ATTACHMENTS_UI)})
        services = build_services(settings, registry=build_registry(settings, config), production=False)
        self._stack.push_async_callback(services.aclose)
        client = await self._stack.enter_async_context(asgi_client(create_api(lambda: services)))
        self.services[id(client)] = services
        return client


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake()


@pytest.fixture
async def hosted_app(fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[HostedApps]:
    async with AsyncExitStack() as stack:
        yield HostedApps(fake, tmp_path, stack)


def upstream_id(services_fake: FakeOpenAI, client_secret: str) -> str:
    return next(sid for sid, s in services_fake.sessions.items() if s["client_secret"] == client_secret)


async def test_create_returns_a_hosted_session_with_openais_client_secret(
    hosted_app: HostedApps, fake: FakeOpenAI
) -> None:
    client = await hosted_app()
    body = await create_session(client, "user-7", workflow_id=WF)
    assert body["chatkit"]["mode"] == "hosted"
    assert set(body["chatkit"]) == {"mode", "clientSecret"}, "no apiUrl for hosted sessions"
    [request] = fake.session_requests()
    assert request.headers["openai-beta"] == "chatkit_beta=v1"
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert request.body["user"] == "user-7"
    assert request.body["workflow"] == {"id": WF}
    assert request.body["expires_after"] == {"anchor": "created_at", "seconds": body["expiresIn"]}
    assert "chatkit_configuration" not in request.body, "no attachments configured for this workflow"
    session_id = upstream_id(fake, body["chatkit"]["clientSecret"])
    assert fake.sessions[session_id]["status"] == "active"


async def test_the_default_workflow_is_the_hosted_one(hosted_app: HostedApps, fake: FakeOpenAI) -> None:
    client = await hosted_app()
    response = await client.post(SESSION_PATH, json={"userId": "user-1"}, headers=api_key_headers())
    assert response.status_code == 201, response.text
    assert (response.json()["workflowId"], response.json()["chatkit"]["mode"]) == (WF, "hosted")


async def test_the_row_keeps_the_upstream_id_but_never_the_client_secret(
    hosted_app: HostedApps, fake: FakeOpenAI
) -> None:
    client = await hosted_app()
    body = await create_session(client, workflow_id=WF)
    services = hosted_app.services[id(client)]
    with services.engine.connect() as connection:
        row = connection.execute(
            text("SELECT * FROM chatkit_session WHERE id = :id"), {"id": body["sessionId"]}
        ).mappings()
        values = dict(row.one())
    assert values["upstream_session_id"] == upstream_id(fake, body["chatkit"]["clientSecret"])
    assert body["chatkit"]["clientSecret"] not in repr(values)


async def test_file_upload_comes_from_the_workflows_public_ui_options(hosted_app: HostedApps, fake: FakeOpenAI) -> None:
    client = await hosted_app()
    await create_session(client, workflow_id=CONFIG_WF)
    [request] = fake.session_requests()
    assert request.body["workflow"] == {"id": CONFIG_WF}
    # maxSize is bytes in ChatKit, megabytes (rounded up) for OpenAI; maxCount is max_files.
    upload = {"enabled": True, "max_file_size": 6, "max_files": 3}
    assert request.body["chatkit_configuration"] == {"file_upload": upload}


async def test_refresh_returns_a_new_client_secret_and_cancels_the_old_upstream_session(
    hosted_app: HostedApps, fake: FakeOpenAI
) -> None:
    client = await hosted_app()
    first = await create_session(client, "user-3", workflow_id=WF)
    old_upstream = upstream_id(fake, first["chatkit"]["clientSecret"])
    response = await client.post(f"{SESSION_PATH}/{first['sessionId']}/refresh", headers=bearer(first["token"]))
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["chatkit"]["mode"] == "hosted"
    assert second["chatkit"]["clientSecret"] != first["chatkit"]["clientSecret"]
    assert second["token"] != first["token"]
    new_upstream = upstream_id(fake, second["chatkit"]["clientSecret"])
    assert fake.sessions[old_upstream]["status"] == "cancelled"
    assert fake.sessions[new_upstream]["status"] == "active"
    created = fake.session_requests()[-1].body
    assert (created["user"], created["expires_after"]["seconds"]) == ("user-3", second["expiresIn"])
    assert [r.path for r in fake.session_requests("/cancel")] == [f"/v1/chatkit/sessions/{old_upstream}/cancel"]


async def test_a_failed_upstream_refresh_leaves_the_old_token_working(hosted_app: HostedApps, fake: FakeOpenAI) -> None:
    client = await hosted_app()
    first = await create_session(client, workflow_id=WF)
    refresh = f"{SESSION_PATH}/{first['sessionId']}/refresh"
    fake.behavior = FakeBehavior(status=500)
    assert_error(await client.post(refresh, headers=bearer(first["token"])), 502, "upstream_error")
    fake.behavior = FakeBehavior()
    response = await client.post(refresh, headers=bearer(first["token"]))
    assert response.status_code == 200, response.text


async def test_a_failing_cancel_does_not_fail_the_refresh(hosted_app: HostedApps, fake: FakeOpenAI) -> None:
    client = await hosted_app()
    first = await create_session(client, workflow_id=WF)
    fake.behavior = FakeBehavior(cancel_status=500)
    response = await client.post(f"{SESSION_PATH}/{first['sessionId']}/refresh", headers=bearer(first["token"]))
    assert response.status_code == 200, response.text
    assert response.json()["chatkit"]["clientSecret"] != first["chatkit"]["clientSecret"]


async def test_replaying_a_rotated_token_also_cancels_the_live_upstream_session(
    hosted_app: HostedApps, fake: FakeOpenAI
) -> None:
    client = await hosted_app()
    first = await create_session(client, workflow_id=WF)
    refresh = f"{SESSION_PATH}/{first['sessionId']}/refresh"
    second = (await client.post(refresh, headers=bearer(first["token"]))).json()
    assert_error(await client.post(refresh, headers=bearer(first["token"])), 401, "token_reused")
    assert fake.sessions[upstream_id(fake, second["chatkit"]["clientSecret"])]["status"] == "cancelled"


@pytest.mark.parametrize("credential", ["api_key", "session_token"])
async def test_revoke_cancels_the_upstream_session(hosted_app: HostedApps, fake: FakeOpenAI, credential: str) -> None:
    client = await hosted_app()
    body = await create_session(client, workflow_id=WF)
    headers = api_key_headers() if credential == "api_key" else bearer(body["token"])
    response = await client.delete(f"{SESSION_PATH}/{body['sessionId']}", headers=headers)
    assert response.status_code == 204, response.text
    assert fake.sessions[upstream_id(fake, body["chatkit"]["clientSecret"])]["status"] == "cancelled"


async def test_upstream_server_error_is_502_and_no_session_is_stored(hosted_app: HostedApps, fake: FakeOpenAI) -> None:
    client = await hosted_app()
    fake.behavior = FakeBehavior(status=500)
    response = await client.post(SESSION_PATH, json={"userId": "u", "workflowId": WF}, headers=api_key_headers())
    assert_error(response, 502, "upstream_error")
    assert len(fake.session_requests()) == 2, "one SDK retry"
    services = hosted_app.services[id(client)]
    with services.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM chatkit_session")).scalar() == 0


async def test_upstream_timeout_is_504_within_the_bound(hosted_app: HostedApps, fake: FakeOpenAI) -> None:
    client = await hosted_app(chatkit_hosted_timeout_seconds=0.5)
    fake.behavior = FakeBehavior(hang=True)
    started = time.monotonic()
    response = await client.post(SESSION_PATH, json={"userId": "u", "workflowId": WF}, headers=api_key_headers())
    elapsed = time.monotonic() - started
    assert_error(response, 504, "upstream_timeout")
    assert elapsed < 0.5 + 0.5, f"took {elapsed:.2f} s"


@pytest.mark.parametrize(("upstream_header", "expected"), [(17, "17"), (None, "30")])
async def test_upstream_rate_limit_is_429_with_retry_after(
    hosted_app: HostedApps, fake: FakeOpenAI, upstream_header: int | None, expected: str
) -> None:
    client = await hosted_app()
    fake.behavior = FakeBehavior(status=429, retry_after=upstream_header)
    response = await client.post(SESSION_PATH, json={"userId": "u", "workflowId": WF}, headers=api_key_headers())
    assert_error(response, 429, "rate_limited")
    assert response.headers["retry-after"] == expected
    assert len(fake.session_requests()) == 1, "a 429 is handed back, not retried while the caller waits"


@pytest.mark.parametrize("behavior", [FakeBehavior(malformed=True), FakeBehavior(drop_client_secret=True)])
async def test_an_unusable_upstream_answer_is_502(
    hosted_app: HostedApps, fake: FakeOpenAI, behavior: FakeBehavior
) -> None:
    client = await hosted_app()
    fake.behavior = behavior
    response = await client.post(SESSION_PATH, json={"userId": "u", "workflowId": WF}, headers=api_key_headers())
    assert_error(response, 502, "upstream_error")
    if behavior.drop_client_secret:
        assert [s["status"] for s in fake.sessions.values()] == ["cancelled"], "the unusable session is cancelled"


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_openai_key_is_502_naming_the_setting_not_the_key(
    hosted_app: HostedApps, fake: FakeOpenAI, status: int
) -> None:
    client = await hosted_app()
    fake.behavior = FakeBehavior(status=status, error_message=f"Incorrect API key provided: {OPENAI_KEY}.")
    response = await client.post(SESSION_PATH, json={"userId": "u", "workflowId": WF}, headers=api_key_headers())
    body = assert_error(response, 502, "upstream_error")
    assert "OPENAI_API_KEY" in body["error"]["message"] and "refused" in body["error"]["message"]
    assert OPENAI_KEY not in response.text


async def test_without_an_openai_key_hosted_sessions_are_503_and_startup_warns(
    hosted_app: HostedApps, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="chatkit_app.services"):
        client = await hosted_app(openai_api_key=None)
    assert any(WF in r.getMessage() and "OPENAI_API_KEY" in r.getMessage() for r in caplog.records)
    response = await client.post(SESSION_PATH, json={"userId": "u", "workflowId": WF}, headers=api_key_headers())
    body = assert_error(response, 503, "upstream_not_configured")
    assert "OPENAI_API_KEY" in body["error"]["message"]
    assert (await create_session(client, workflow_id="assistant"))["chatkit"]["mode"] == "self-hosted"
    assert fake.requests == []


async def test_self_hosted_sessions_make_no_upstream_request(hosted_app: HostedApps, fake: FakeOpenAI) -> None:
    client = await hosted_app()
    body = await create_session(client, workflow_id="assistant")
    assert body["chatkit"] == {"mode": "self-hosted", "apiUrl": "/api/chatkit"}
    response = await client.post(f"{SESSION_PATH}/{body['sessionId']}/refresh", headers=bearer(body["token"]))
    assert response.status_code == 200
    assert "clientSecret" not in response.json()["chatkit"]
    token = response.json()["token"]
    assert (await client.delete(f"{SESSION_PATH}/{body['sessionId']}", headers=bearer(token))).status_code == 204
    assert fake.requests == []


async def test_the_openai_key_and_client_secrets_never_reach_responses_or_logs(
    hosted_app: HostedApps, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "chatkit_app"):
        caplog.set_level(logging.DEBUG, logger=name)
    client = await hosted_app(chatkit_hosted_timeout_seconds=0.5)
    texts: list[str] = []
    created = await client.post(SESSION_PATH, json={"userId": "u", "workflowId": WF}, headers=api_key_headers())
    body = created.json()
    refreshed = await client.post(f"{SESSION_PATH}/{body['sessionId']}/refresh", headers=bearer(body["token"]))
    texts += [created.text, refreshed.text]
    secrets_issued = [body["chatkit"]["clientSecret"], refreshed.json()["chatkit"]["clientSecret"]]
    failures = [
        FakeBehavior(status=401, error_message=f"Incorrect API key provided: {OPENAI_KEY}."),
        FakeBehavior(status=500, error_message=f"boom {OPENAI_KEY}"),
        FakeBehavior(status=429, retry_after=3),
        FakeBehavior(malformed=True),
        FakeBehavior(hang=True),
    ]
    for behavior in failures:
        fake.behavior = behavior
        response = await client.post(SESSION_PATH, json={"userId": "u", "workflowId": WF}, headers=api_key_headers())
        assert response.status_code in (429, 502, 504)
        texts.append(response.text + repr(dict(response.headers)))
    fake.behavior = FakeBehavior(cancel_status=401)
    token = refreshed.json()["token"]
    assert (await client.delete(f"{SESSION_PATH}/{body['sessionId']}", headers=bearer(token))).status_code == 204
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert any(r.name.startswith("openai") for r in caplog.records), "the SDK's debug logs were captured"
    assert OPENAI_KEY not in logged and OPENAI_KEY not in "\n".join(texts)
    for issued in secrets_issued:
        assert issued not in logged
