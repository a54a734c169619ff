"""The sweep of stored files that no attachment names (left by a storage outage during a
delete, or a process that died between storing an upload and recording it), in both
stores: old unnamed files go, named ones and young ones (an upload in progress) stay."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from chatkit_app.api.app import create_api
from chatkit_app.services import Services
from tests.api.chatkit_client import ChatKitClient
from tests.conftest import LIMITS_OFF, bearer
from tests.s3_server import Bucket

DAY = 24 * 3600


@pytest.fixture(params=["local", "s3"])
def storage_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "local":
        return {}
    bucket: Bucket = request.getfixturevalue("s3_bucket")
    return bucket.settings()


async def one(content: bytes) -> AsyncIterator[bytes]:
    yield content


async def test_files_no_row_names_are_swept_after_a_day(
    services_with: Callable[..., Services], storage_settings: dict[str, Any]
) -> None:
    services = services_with(**LIMITS_OFF, **storage_settings)
    storage = services.storage
    transport = httpx.ASGITransport(app=create_api(lambda: services))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        alice = await ChatKitClient.for_user(http, "alice")
        created = await alice.call("attachments.create", name="kept.txt", size=4, mime_type="text/plain")
        upload_path = created["upload_descriptor"]["url"].split("8000", 1)[1]
        response = await http.post(upload_path, files={"file": ("kept.txt", b"kept")}, headers=bearer(alice.token))
        assert response.status_code == 200, response.text
        await storage.put("orphan" + "x" * 20, one(b"nobody names me"), limit=100)
        before = sorted([entry.name async for entry in storage.entries()])
        assert len(before) == 2

        assert await services.attachments.sweep_orphans(now=time.time()) == 0  # all younger than a day
        assert await services.attachments.sweep_orphans(now=time.time() + 2 * DAY) == 1
        [left] = [entry.name async for entry in storage.entries()]
        assert left != "orphan" + "x" * 20
        download = await http.get(f"/api/chatkit/attachments/{created['id']}", headers=bearer(alice.token))
        assert download.status_code == 200 and download.content == b"kept"
