"""API-test fixtures: a session service on a controllable clock, and app builders for
non-default settings. Everything runs on the real app over real database files."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatkit_app.api.app import create_api
from chatkit_app.services import Services, build_services
from chatkit_app.settings import Settings


class Clock:
    """A clock the test moves by hand; starts at the wall-clock time."""

    def __init__(self, start: float | None = None) -> None:
        self.now = float(int(time.time()) if start is None else start)

    def __call__(self) -> float:
        return self.now

    def set(self, value: float) -> None:
        self.now = float(value)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clocked_services(settings: Settings, clock: Clock) -> Iterator[Services]:
    """The app's services with every session service reading `clock`."""
    built = build_services(settings, production=False, clock=clock)
    yield built
    built.close()


@pytest.fixture
async def clocked_client(clocked_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_api(lambda: clocked_services)) as http:
        yield http


@asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def token_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, decoded by hand (no signature check)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded
