"""Shared fixtures: real SQLite files (or Postgres when configured) and the real
FastAPI app driven over httpx's ASGI transport. Nothing of ours is mocked."""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from chatkit_app.api.app import create_api
from chatkit_app.services import Services, build_services
from chatkit_app.settings import Settings
from chatkit_app.workflows.registry import Workflow, bind, build_registry

pytest_plugins = ("tests.s3_server",)  # the loopback S3 server and its buckets

# Every limit off (0), for tests of other things that legitimately make many requests.
LIMITS_OFF = {
    "chatkit_limit_identities_per_hour": 0,
    "chatkit_limit_sessions_per_minute": 0,
    "chatkit_limit_messages_per_minute": 0,
    "chatkit_limit_lookups_per_minute": 0,
    "chatkit_limit_threads_per_day": 0,
    "chatkit_limit_upload_bytes_per_day": 0,
    "chatkit_limit_pending_uploads": 0,
    "chatkit_limit_model_tokens_per_day": 0,
    "chatkit_limit_answers_in_flight": 0,
    "chatkit_limit_uploads_at_once": 0,
}
API_KEY = "test-api-key-" + "k" * 32
SECRET = "test-secret-" + secrets.token_urlsafe(32)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "chatkit_data_dir": tmp_path / "data",
        "chatkit_api_key": API_KEY,
        "chatkit_secret": SECRET,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def model_settings(tmp_path: Path, base_url: str, api: str = "responses", **overrides: Any) -> Settings:
    """Settings of a site whose assistant runs a model at `base_url` (the loopback fake)
    over `api` (`responses` or `chat_completions`)."""
    values: dict[str, Any] = {
        "openai_api_key": "sk-test-" + "x" * 20,
        "openai_base_url": base_url,
        "chatkit_openai_api": api,
        "chatkit_upstream_timeout_seconds": 5,
    }
    return make_settings(tmp_path, **{**values, **overrides})


@contextlib.asynccontextmanager
async def api_with_workflows(settings: Settings, *workflows: Workflow) -> AsyncIterator[httpx.AsyncClient]:
    """The JSON API of a site with `settings` and `workflows` registered besides the
    built-in ones; its model clients and services closed after."""
    from chatkit_app.fast_paths import close_shared_clients

    registry = build_registry(settings)
    for workflow in workflows:
        registry.register(bind(workflow))
    services = build_services(settings, registry=registry, production=False)
    try:
        transport = httpx.ASGITransport(app=create_api(lambda: services))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client
    finally:
        await close_shared_clients()
        services.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings, production=False)
    yield built
    built.close()


@pytest.fixture
def api(services: Services) -> FastAPI:
    return create_api(lambda: services)


@pytest.fixture
async def client(api: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def services_with(tmp_path: Path) -> Iterator[Callable[..., Services]]:
    """Builds services from `make_settings(**overrides)`; closes them afterwards."""
    built: list[Services] = []

    def build(**overrides: Any) -> Services:
        services = build_services(make_settings(tmp_path, **overrides), production=False)
        built.append(services)
        return services

    yield build
    for services in built:
        services.close()


def api_key_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_session(
    client: httpx.AsyncClient, user_id: str = "user-1", workflow_id: str = "assistant", **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/chatkit/session", json={"userId": user_id, "workflowId": workflow_id, **extra}, headers=api_key_headers()
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """The URL of a fresh schema in the test Postgres (dropped after); skips when
    CHATKIT_TEST_DATABASE_URL is unset."""
    base = os.environ.get("CHATKIT_TEST_DATABASE_URL")
    if not base:
        pytest.skip("set CHATKIT_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run")
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test Postgres; skips when CHATKIT_TEST_DATABASE_URL is unset."""
    with postgres_schema() as url:
        yield url


def redis_or_skip() -> str:
    """The test Redis's URL; skips when CHATKIT_TEST_REDIS_URL is unset."""
    url = os.environ.get("CHATKIT_TEST_REDIS_URL")
    if not url:
        pytest.skip("set CHATKIT_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run")
    return url


@pytest.fixture
def redis_url() -> str:
    """The test Redis; skips when CHATKIT_TEST_REDIS_URL is unset. Tests that write to it
    use keys of their own (a random prefix), as other test runs may share it."""
    return redis_or_skip()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser and server-process tests run last: Reflex's AppHarness leaves an event
    loop marked as running on the main thread, which later asyncio tests would trip on."""
    items.sort(key=lambda item: "/tests/e2e/" in str(item.path))
