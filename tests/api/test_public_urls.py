"""Absolute URLs we hand out (upload descriptors, image previews) come from
CHATKIT_PUBLIC_URL, else the configured backend address, with X-Forwarded-Proto/-Host
believed only from trusted proxies and the Host header never; signed preview URLs expire
with the token lifetime and die with their session."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from chatkit_app.api.app import create_api
from chatkit_app.services import Services, build_services
from tests.api.chatkit_client import ChatKitClient
from tests.api.conftest import Clock
from tests.conftest import api_key_headers, bearer, create_session, make_settings

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@asynccontextmanager
async def client_for(services: Services, peer: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api(lambda: services), client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def upload_url(http: httpx.AsyncClient, headers: dict[str, str] | None = None) -> str:
    user = await ChatKitClient.for_user(http, "alice")
    response = await http.post(
        "/api/chatkit",
        json={"type": "attachments.create", "params": {"name": "a.txt", "size": 3, "mime_type": "text/plain"}},
        headers={**bearer(user.token), **(headers or {})},
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["upload_descriptor"]["url"]
    return url


async def test_the_host_header_never_decides_an_absolute_url(tmp_path: Path) -> None:
    services = build_services(make_settings(tmp_path), production=False)
    try:
        async with client_for(services) as http:
            url = await upload_url(http, {"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
        assert url.startswith("http://localhost:8000/api/chatkit/attachments/")  # Reflex's api_url
    finally:
        services.close()


async def test_the_public_url_wins(tmp_path: Path) -> None:
    services = build_services(make_settings(tmp_path, chatkit_public_url="https://chat.example.com/"), production=False)
    try:
        async with client_for(services) as http:
            url = await upload_url(http, {"Host": "evil.example"})
        assert url.startswith("https://chat.example.com/api/chatkit/attachments/")
    finally:
        services.close()


async def test_forwarded_proto_and_host_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    services = build_services(make_settings(tmp_path, chatkit_trusted_proxies="10.0.0.0/8"), production=False)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "chat.example.org"}
    try:
        async with client_for(services, peer="10.1.2.3") as http:
            assert (await upload_url(http, forwarded)).startswith("https://chat.example.org/api/chatkit/")
        async with client_for(services, peer="192.0.2.7") as http:
            assert (await upload_url(http, forwarded)).startswith("http://localhost:8000/api/chatkit/")
        async with client_for(services, peer="10.1.2.3") as http:
            bad = {"X-Forwarded-Proto": "gopher", "X-Forwarded-Host": "evil.example/path?x"}
            assert (await upload_url(http, bad)).startswith("http://localhost:8000/api/chatkit/")
    finally:
        services.close()


async def _image(http: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    session = await create_session(http, user_id="alice")
    user = ChatKitClient(http, session["token"])
    attachment: dict[str, Any] = await user.call(
        "attachments.create", name="p.png", size=len(PNG), mime_type="image/png"
    )
    uploaded = await http.post(
        attachment["upload_descriptor"]["url"], files={"file": ("p.png", PNG)}, headers=bearer(user.token)
    )
    assert uploaded.status_code == 200, uploaded.text
    return session, attachment


async def test_a_preview_url_expires_with_the_token_lifetime(
    clocked_client: httpx.AsyncClient, clock: Clock, clocked_services: Services
) -> None:
    _, attachment = await _image(clocked_client)
    preview = attachment["preview_url"]
    assert (await clocked_client.get(preview)).content == PNG
    ttl = clocked_services.settings.chatkit_token_ttl_seconds
    clock.set(clock.now + ttl - 1)
    assert (await clocked_client.get(preview)).status_code == 200
    clock.set(clock.now + 2)
    assert (await clocked_client.get(preview)).status_code == 404
    # the expiry is part of what is signed: moving it forward breaks the signature
    owner, sid, expires, mac = preview.split("sig=")[1].split(".")
    forged = preview.split("sig=")[0] + f"sig={owner}.{sid}.{int(expires) + 3600}.{mac}"
    assert (await clocked_client.get(forged)).status_code == 404


async def test_a_preview_url_dies_with_its_session(client: httpx.AsyncClient) -> None:
    session, attachment = await _image(client)
    preview = attachment["preview_url"]
    assert (await client.get(preview)).status_code == 200
    revoked = await client.delete(f"/api/chatkit/session/{session['sessionId']}", headers=api_key_headers())
    assert revoked.status_code == 204
    assert (await client.get(preview)).status_code == 404


async def test_loaded_items_carry_previews_signed_for_the_readers_session(client: httpx.AsyncClient) -> None:
    session, attachment = await _image(client)
    user = ChatKitClient(client, session["token"])
    events = await user.stream(
        "threads.create",
        input={
            "content": [{"type": "input_text", "text": "look"}],
            "attachments": [attachment["id"]],
            "inference_options": {},
        },
    )
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    await client.delete(f"/api/chatkit/session/{session['sessionId']}", headers=api_key_headers())

    # the same user, a new session: the stored preview is re-signed for it
    fresh = ChatKitClient(client, (await create_session(client, user_id="alice"))["token"])
    items = await fresh.call("items.list", thread_id=thread_id, order="asc")
    [image] = [a for item in items["data"] for a in item.get("attachments", [])]
    assert image["preview_url"] != attachment["preview_url"]
    assert (await client.get(image["preview_url"])).content == PNG
    assert (await client.get(attachment["preview_url"])).status_code == 404
