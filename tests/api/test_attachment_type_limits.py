"""Per-type attachment limits on the server (CHATKIT_UPLOAD_LIMITS, ChatKit 1.9's per-MIME
`maxSize`): refused when declared and again after the bytes are sniffed, with the file's
name and the limit in the message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from chatkit_app.api.app import create_api
from chatkit_app.services import Services
from tests.api.chatkit_client import ChatKitClient
from tests.conftest import bearer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(2048)


@pytest.fixture
async def alice(services_with: Callable[..., Services]) -> AsyncIterator[ChatKitClient]:
    services = services_with(chatkit_upload_limits="image/*=1KB, application/pdf=0")
    transport = httpx.ASGITransport(app=create_api(lambda: services))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield await ChatKitClient.for_user(http, "alice")


async def _create(user: ChatKitClient, name: str, mime: str, size: int) -> httpx.Response:
    return await user.raw({"type": "attachments.create", "params": {"name": name, "size": size, "mime_type": mime}})


async def test_a_declared_image_over_its_types_limit_is_refused_with_the_limit(alice: ChatKitClient) -> None:
    response = await _create(alice, "big.png", "image/png", 3 * 1024)
    assert response.status_code == 413
    assert response.json()["error"]["message"] == "big.png: 3 KB is over the 1 KB limit"
    text = await _create(alice, "notes.txt", "text/plain", 3 * 1024)  # other types keep the site's cap
    assert text.status_code == 200, text.text


async def test_a_type_set_to_zero_is_not_allowed(alice: ChatKitClient) -> None:
    response = await _create(alice, "doc.pdf", "application/pdf", 10)
    assert response.status_code == 415
    assert response.json()["error"]["message"] == (
        "doc.pdf: this type is not allowed (images, text, CSV, JSON, Markdown)"
    )


async def test_the_sniffed_type_has_its_own_limit(alice: ChatKitClient) -> None:
    """A PNG declared as text passes the text limit while it streams, then meets the image one."""
    created: dict[str, Any] = (await _create(alice, "sneaky.txt", "text/plain", len(PNG))).json()
    url = created["upload_descriptor"]["url"]
    response = await alice.http.post(url, files={"file": ("x", PNG)}, headers=bearer(alice.token))
    assert response.status_code == 413
    assert response.json()["error"]["message"] == "sneaky.txt: 2 KB is over the 1 KB limit"
