"""The contract as an HTTP client sees it, against `reflex run --env prod --backend-only`
with a fresh database and data dir; plus the refusal to start with a weak secret."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.api.chatkit_client import user_input
from tests.e2e.prod_site import REFLEX, REPO_ROOT, free_port, running_reflex

pytestmark = pytest.mark.slow


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATKIT_", "DATABASE_URL"))}
    env.update(
        CHATKIT_DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite:///{data_dir / 'fresh.db'}",
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_CHECK_LATEST_VERSION="false",
    )
    env.update(extra)
    if "REDIS_URL" in extra or "REFLEX_REDIS_URL" in extra:
        # Every visitor of every run comes from 127.0.0.1, and the counter of new visitors
        # per address lives an hour in that Redis, which later runs share (CI's included).
        env.setdefault("CHATKIT_LIMIT_IDENTITIES_PER_HOUR", "0")
    return env


@dataclass
class ProdServer:
    url: str
    api_key: str
    secret: str
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_backend(data_dir: Path, env: dict[str, str]) -> Iterator[str]:
    """`reflex run --env prod --backend-only` on a free port; yields its URL."""
    arguments = ["--backend-only", "--backend-port", "{port}", "--loglevel", "debug"]
    log_path = data_dir / "server.log"
    with running_reflex(arguments, cwd=REPO_ROOT, env=env, log_path=log_path, ready=["/ping"], timeout=90) as url:
        yield url


@pytest.fixture(scope="module")
def prod_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProdServer]:
    data_dir = tmp_path_factory.mktemp("prod-data")
    api_key, secret = "ak-" + secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    env = _env(data_dir, CHATKIT_API_KEY=api_key, CHATKIT_SECRET=secret)
    with running_backend(data_dir, env) as url:
        yield ProdServer(url, api_key, secret, data_dir / "server.log")


def test_contract_over_http(prod_server: ProdServer) -> None:
    seen_bodies: list[str] = []
    tokens: list[str] = []

    def call(client: httpx.Client, method: str, path: str, token: str | None = None, **kw: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = client.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]
        seen_bodies.append(response.text)
        return response

    with httpx.Client(base_url=prod_server.url, timeout=30) as client:
        created = call(client, "POST", "/api/chatkit/session", prod_server.api_key, json={"userId": "alice"})
        assert created.status_code == 201, created.text
        session = created.json()
        sid, token = session["sessionId"], session["token"]
        tokens.append(token)
        assert session["expiresAt"].endswith("Z") and session["chatkit"]["mode"] == "self-hosted"
        assert created.headers["cache-control"] == "no-store"

        assert call(client, "GET", f"/api/chatkit/session/{sid}/validate", token).json()["valid"] is True
        workflow = call(client, "GET", "/api/chatkit/workflows/assistant", token)
        assert workflow.status_code == 200 and set(workflow.json()) == {"id", "name", "mode", "ui"}
        assert call(client, "GET", "/api/chatkit/workflows/nope", token).status_code == 404

        refreshed = call(client, "POST", f"/api/chatkit/session/{sid}/refresh", token)
        assert refreshed.status_code == 200
        new_token = refreshed.json()["token"]
        tokens.append(new_token)
        assert new_token != token
        stale = call(client, "GET", f"/api/chatkit/session/{sid}/validate", token)
        assert stale.status_code == 401 and stale.json()["valid"] is False

        replay = call(client, "POST", f"/api/chatkit/session/{sid}/refresh", token)
        assert replay.status_code == 401 and replay.json()["error"]["code"] == "token_reused"
        revoked = call(client, "GET", f"/api/chatkit/session/{sid}/validate", new_token)
        assert revoked.json()["error"]["code"] == "session_revoked"

        other = call(client, "POST", "/api/chatkit/session", prod_server.api_key, json={"userId": "bob"}).json()
        tokens.append(other["token"])
        assert call(client, "POST", f"/api/chatkit/session/{other['sessionId']}/refresh", new_token).status_code == 403
        assert call(client, "DELETE", f"/api/chatkit/session/{other['sessionId']}", other["token"]).status_code == 204
        dead = call(client, "GET", f"/api/chatkit/session/{other['sessionId']}/validate", other["token"])
        assert dead.status_code == 401

        too_big = call(client, "POST", "/api/chatkit/session", prod_server.api_key, content=b"{" + b" " * 1_100_000)
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
        assert call(client, "POST", "/api/chatkit/session", "wrong-key", json={"userId": "x"}).status_code == 401
        bad_user = call(client, "POST", "/api/chatkit/session", prod_server.api_key, json={"userId": "a b"})
        assert bad_user.status_code == 422

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=prod_server.url, timeout=60, limits=limits) as client:
            headers = {"Authorization": f"Bearer {prod_server.api_key}"}
            return await asyncio.gather(
                *(client.post("/api/chatkit/session", json={"userId": f"u{i}"}, headers=headers) for i in range(200))
            )

    # Own thread: another test's harness may have left an event loop on this one.
    with ThreadPoolExecutor(1) as runner:
        responses = runner.submit(asyncio.run, burst()).result()
    assert [r.status_code for r in responses] == [201] * 200
    assert len({r.json()["sessionId"] for r in responses}) == 200
    tokens.extend(r.json()["token"] for r in responses)

    logs = prod_server.logs()
    secret_values = [prod_server.secret, prod_server.api_key, *tokens]
    for value in secret_values:
        assert value not in logs
    for index, body in enumerate(seen_bodies):
        assert prod_server.secret not in body and prod_server.api_key not in body, index
    # a response only ever carries its own token
    for body in seen_bodies:
        assert sum(token in body for token in tokens) <= 1


def test_floods_get_429_at_the_default_rates(prod_server: ProdServer) -> None:
    """With the default limits: new anonymous identities per address (30 an hour),
    sessions per user (20 a minute) and messages per user (20 a minute), as a flooding
    visitor meets them; what was stored before the limit stays."""
    with httpx.Client(base_url=prod_server.url, timeout=30, follow_redirects=False) as client:

        def new_visitor() -> httpx.Response:
            client.cookies.clear()  # a new browser each time
            return client.get("/auth/anonymous", params={"next": "/"})

        minted = [new_visitor() for _ in range(31)]
        client.cookies.clear()
        assert [r.status_code for r in minted[:30]] == [303] * 30
        assert all(
            "chatkit_anon=" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"] for r in minted[:30]
        )
        assert minted[30].status_code == 429 and int(minted[30].headers["retry-after"]) > 0
        assert minted[30].json()["error"]["code"] == "rate_limited"

        key = {"Authorization": f"Bearer {prod_server.api_key}"}
        sessions = [client.post("/api/chatkit/session", json={"userId": "flood"}, headers=key) for _ in range(21)]
        assert [r.status_code for r in sessions] == [201] * 20 + [429]
        assert sessions[20].json()["error"]["code"] == "rate_limited" and sessions[20].headers["retry-after"]

        token = sessions[0].json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        created = client.post(
            "/api/chatkit", json={"type": "threads.create", "params": {"input": user_input("hi")}}, headers=bearer
        )
        assert created.status_code == 200
        thread_id = next(
            json.loads(line[6:])["thread"]["id"]
            for line in created.text.splitlines()
            if line.startswith("data: ") and '"thread.created"' in line
        )
        answers = [
            client.post(
                "/api/chatkit",
                json={
                    "type": "threads.add_user_message",
                    "params": {"thread_id": thread_id, "input": user_input(f"m{i}")},
                },
                headers=bearer,
            )
            for i in range(20)
        ]
        codes = [r.status_code for r in answers]
        assert codes == [200] * 19 + [429], codes
        assert answers[19].json()["error"]["code"] == "rate_limited"
        items = client.post(
            "/api/chatkit",
            json={"type": "items.list", "params": {"thread_id": thread_id, "limit": 100}},
            headers=bearer,
        ).json()["data"]
        assert sum(item["type"] == "user_message" for item in items) == 20  # nothing stored was lost


def test_prod_refuses_weak_or_missing_secret(tmp_path: Path) -> None:
    for secret in ("too-short", None):
        extra = {"CHATKIT_SECRET": secret} if secret else {}
        result = subprocess.run(
            [REFLEX, "run", "--env", "prod", "--backend-only", "--backend-port", str(free_port())],
            cwd=REPO_ROOT,
            env=_env(tmp_path, **extra),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode != 0
        reason = [line for line in (result.stdout + result.stderr).splitlines() if "refusing to start" in line]
        assert len(reason) == 1, result.stdout + result.stderr
        assert "CHATKIT_SECRET" in reason[0]
        if secret:
            assert secret not in result.stdout + result.stderr


def _chat(client: httpx.Client, token: str, request: dict[str, object]) -> httpx.Response:
    return client.post("/api/chatkit", json=request, headers={"Authorization": f"Bearer {token}"})


def test_self_hosted_chat_with_nothing_configured_survives_a_restart(tmp_path: Path) -> None:
    """Issue 3's bar: no key, no network; create, stream, list, second turn, attachment,
    a second user sees nothing, and the thread is still there after a restart."""
    api_key = "ak-" + secrets.token_urlsafe(32)
    env = _env(tmp_path, CHATKIT_API_KEY=api_key, CHATKIT_SECRET=secrets.token_urlsafe(48))
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    admin = {"Authorization": f"Bearer {api_key}"}
    with running_backend(tmp_path, env) as url, httpx.Client(base_url=url, timeout=30) as client:
        alice = client.post("/api/chatkit/session", json={"userId": "alice"}, headers=admin).json()["token"]
        mallory = client.post("/api/chatkit/session", json={"userId": "mallory"}, headers=admin).json()["token"]

        created = _chat(client, alice, {"type": "threads.create", "params": {"input": user_input("help")}})
        assert created.headers["content-type"].startswith("text/event-stream")
        frames = [json.loads(line[6:]) for line in created.text.splitlines() if line.startswith("data: ")]
        thread_id = frames[0]["thread"]["id"]
        deltas = [f for f in frames if f["type"] == "thread.item.updated"]
        assert len(deltas) > 10 and "offline demo agent" in "".join(f["update"]["delta"] for f in deltas)

        second = _chat(
            client,
            alice,
            {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_input("again")}},
        )
        assert "again" in second.text

        attachment = _chat(
            client,
            alice,
            {"type": "attachments.create", "params": {"name": "notes.txt", "size": 5, "mime_type": "text/plain"}},
        ).json()
        upload_url = attachment["upload_descriptor"]["url"]
        uploaded = client.post(
            upload_url, files={"file": ("notes.txt", b"hello")}, headers={"Authorization": f"Bearer {alice}"}
        )
        assert uploaded.status_code == 200, uploaded.text
        fetched = client.get(
            f"/api/chatkit/attachments/{attachment['id']}", headers={"Authorization": f"Bearer {alice}"}
        )
        assert fetched.content == b"hello"
        assert (
            client.get(
                f"/api/chatkit/attachments/{attachment['id']}", headers={"Authorization": f"Bearer {mallory}"}
            ).status_code
            == 404
        )

        for request in (
            {"type": "threads.get_by_id", "params": {"thread_id": thread_id}},
            {"type": "items.list", "params": {"thread_id": thread_id}},
            {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_input("x")}},
            {"type": "threads.delete", "params": {"thread_id": thread_id}},
        ):
            assert _chat(client, mallory, request).status_code == 404
        listed = _chat(client, mallory, {"type": "threads.list", "params": {}}).json()
        assert listed["data"] == []

    with running_backend(tmp_path, env) as url, httpx.Client(base_url=url, timeout=30) as client:
        items = _chat(
            client, alice, {"type": "items.list", "params": {"thread_id": thread_id, "limit": 20, "order": "asc"}}
        ).json()
        assert [i["type"] for i in items["data"]] == ["user_message", "assistant_message"] * 2
