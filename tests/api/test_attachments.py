"""Attachments over HTTP: two-phase upload, sniffed types, limits, owner-only access,
deletion of the bytes, image previews (docs/api.md, Attachments)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatkit_app.services import Services
from tests.api.chatkit_client import ChatKitClient, reply_text, user_input
from tests.conftest import bearer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n"


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> ChatKitClient:
    return await ChatKitClient.for_user(client, "alice")


@pytest.fixture
async def mallory(client: httpx.AsyncClient) -> ChatKitClient:
    return await ChatKitClient.for_user(client, "mallory")


async def create(user: ChatKitClient, name: str, mime: str, size: int) -> dict[str, Any]:
    result: dict[str, Any] = await user.call("attachments.create", name=name, size=size, mime_type=mime)
    return result


async def upload(
    user: ChatKitClient, attachment: dict[str, Any], content: bytes, *, multipart: bool = True
) -> httpx.Response:
    url = attachment["upload_descriptor"]["url"]
    if multipart:
        return await user.http.post(url, files={"file": ("x", content)}, headers=bearer(user.token))
    return await user.http.post(
        url, content=content, headers={**bearer(user.token), "Content-Type": "application/octet-stream"}
    )


def uploads(services: Services) -> list[Path]:
    return sorted(services.settings.uploads_dir.iterdir())


async def test_two_phase_upload_download_and_a_message_about_it(alice: ChatKitClient, services: Services) -> None:
    content = b"name,score\nada,10\n"
    attachment = await create(alice, "scores.csv", "text/csv", len(content))
    assert attachment["type"] == "file" and attachment["upload_descriptor"]["method"] == "POST"
    # the server's configured address (Reflex's api_url), not the Host the client sent
    assert attachment["upload_descriptor"]["url"].startswith("http://localhost:8000/api/chatkit/attachments/")
    uploaded = await upload(alice, attachment, content)
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["mime_type"] == "text/csv" and uploaded.json()["upload_descriptor"] is None

    download = await alice.http.get(f"/api/chatkit/attachments/{attachment['id']}", headers=bearer(alice.token))
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"

    events = await alice.stream("threads.create", input=user_input("", attachments=[attachment["id"]]))
    text = reply_text(events)
    assert "scores.csv" in text and "text/csv" in text and f"{len(content)} bytes" in text
    # the client's name is display metadata: on disk there is one file with a random name
    [stored] = uploads(services)
    assert stored.name != "scores.csv" and stored.read_bytes() == content


async def test_raw_body_upload_is_accepted(alice: ChatKitClient) -> None:
    attachment = await create(alice, "doc.pdf", "application/pdf", len(PDF))
    response = await upload(alice, attachment, PDF, multipart=False)
    assert response.status_code == 200 and response.json()["mime_type"] == "application/pdf"


async def test_image_gets_a_signed_preview(alice: ChatKitClient, client: httpx.AsyncClient) -> None:
    attachment = await create(alice, "pic.png", "image/png", len(PNG))
    assert attachment["type"] == "image"
    assert (await upload(alice, attachment, PNG)).status_code == 200
    preview = await client.get(attachment["preview_url"])  # no bearer: <img> tags cannot send one
    assert preview.status_code == 200 and preview.content == PNG
    assert preview.headers["content-type"] == "image/png"
    tampered = attachment["preview_url"][:-3] + ("AAA" if not attachment["preview_url"].endswith("AAA") else "BBB")
    assert (await client.get(tampered)).status_code == 404


async def test_declared_size_over_the_limit_is_refused_up_front(alice: ChatKitClient, services: Services) -> None:
    too_big = services.settings.chatkit_max_upload_bytes + 1
    response = await alice.raw(
        {"type": "attachments.create", "params": {"name": "a.txt", "size": too_big, "mime_type": "text/plain"}}
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


async def test_upload_over_the_limit_stops_and_leaves_no_file(alice: ChatKitClient, services: Services) -> None:
    attachment = await create(alice, "a.txt", "text/plain", 10)
    content = b"a" * (services.settings.chatkit_max_upload_bytes + 1)
    response = await upload(alice, attachment, content)
    assert response.status_code == 413
    assert uploads(services) == []
    assert (
        await alice.http.get(f"/api/chatkit/attachments/{attachment['id']}", headers=bearer(alice.token))
    ).status_code == 404


@pytest.mark.parametrize(
    ("declared", "content", "status", "stored_as"),
    [
        ("image/png", b"just some text pretending", 415, None),
        ("text/plain", PNG, 200, "image/png"),
        ("application/json", b"{not json", 200, "text/plain"),
        ("text/plain", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\xff\xff", 415, None),
        ("text/markdown", b"# Title\n\nbody", 200, "text/markdown"),
        ("image/jpeg", PNG, 200, "image/png"),
    ],
)
async def test_the_type_comes_from_the_bytes(
    alice: ChatKitClient, services: Services, declared: str, content: bytes, status: int, stored_as: str | None
) -> None:
    attachment = await create(alice, "file", declared, len(content))
    response = await upload(alice, attachment, content)
    assert response.status_code == status, response.text
    if stored_as:
        assert response.json()["mime_type"] == stored_as
    else:
        assert response.json()["error"]["code"] == "unsupported_media_type"
        assert uploads(services) == []


async def test_disallowed_declared_type_is_refused(alice: ChatKitClient) -> None:
    response = await alice.raw(
        {"type": "attachments.create", "params": {"name": "x.exe", "size": 10, "mime_type": "application/x-msdownload"}}
    )
    assert response.status_code == 415


async def test_path_traversal_names_are_display_only(alice: ChatKitClient, services: Services) -> None:
    attachment = await create(alice, "../../../etc/passwd", "text/plain", 5)
    assert attachment["name"] == "passwd"
    assert (await upload(alice, attachment, b"hello")).status_code == 200
    [stored] = uploads(services)
    assert stored.parent == services.settings.uploads_dir and stored.name != "passwd"
    response = await alice.http.get(f"/api/chatkit/attachments/{attachment['id']}", headers=bearer(alice.token))
    assert "filename*=UTF-8''passwd" in response.headers["content-disposition"]


async def test_another_user_can_do_nothing_with_an_attachment(alice: ChatKitClient, mallory: ChatKitClient) -> None:
    attachment = await create(alice, "secret.txt", "text/plain", 6)
    assert (await upload(mallory, attachment, b"pwned!")).status_code == 404
    assert (await upload(alice, attachment, b"secret")).status_code == 200
    url = f"/api/chatkit/attachments/{attachment['id']}"
    assert (await mallory.http.get(url, headers=bearer(mallory.token))).status_code == 404
    deleting = await mallory.raw({"type": "attachments.delete", "params": {"attachment_id": attachment["id"]}})
    assert deleting.status_code == 404
    sending = await mallory.raw({"type": "threads.create", "params": {"input": user_input("hi", [attachment["id"]])}})
    assert sending.status_code == 404
    assert (await alice.http.get(url, headers=bearer(alice.token))).content == b"secret"


async def test_delete_removes_the_bytes(alice: ChatKitClient, services: Services) -> None:
    attachment = await create(alice, "gone.txt", "text/plain", 4)
    assert (await upload(alice, attachment, b"gone")).status_code == 200
    assert len(uploads(services)) == 1
    assert await alice.call("attachments.delete", attachment_id=attachment["id"]) == {}
    assert uploads(services) == []
    url = f"/api/chatkit/attachments/{attachment['id']}"
    assert (await alice.http.get(url, headers=bearer(alice.token))).status_code == 404


async def test_uploading_twice_and_sending_before_upload_are_refused(alice: ChatKitClient) -> None:
    attachment = await create(alice, "a.txt", "text/plain", 1)
    early = await alice.raw({"type": "threads.create", "params": {"input": user_input("hi", [attachment["id"]])}})
    assert early.status_code == 400 and early.json()["error"]["code"] == "attachment_not_uploaded"
    assert (await upload(alice, attachment, b"a")).status_code == 200
    again = await upload(alice, attachment, b"b")
    assert again.status_code == 409


async def test_two_uploads_of_one_attachment_at_once_store_one_file(alice: ChatKitClient, services: Services) -> None:
    """Both start before either has finished (each saw the attachment without its file):
    the second to finish is refused (409), its bytes are not kept, and the attachment
    keeps the first one's file and type."""
    attachment = await create(alice, "a.png", "image/png", len(PNG))
    url = attachment["upload_descriptor"]["url"]
    gates = [asyncio.Event(), asyncio.Event()]
    started = [asyncio.Event(), asyncio.Event()]

    async def body(n: int, content: bytes) -> AsyncIterator[bytes]:
        yield content[:8]
        started[n].set()
        await gates[n].wait()
        yield content[8:]

    headers = {**bearer(alice.token), "Content-Type": "application/octet-stream"}
    first = asyncio.ensure_future(alice.http.post(url, content=body(0, PNG), headers=headers))
    second = asyncio.ensure_future(alice.http.post(url, content=body(1, PNG[:8] + bytes(80)), headers=headers))
    await asyncio.wait_for(asyncio.gather(started[0].wait(), started[1].wait()), 10)
    gates[0].set()
    assert (await first).status_code == 200
    gates[1].set()
    late = await second
    assert late.status_code == 409 and late.json()["error"]["code"] == "already_uploaded"
    assert [path.read_bytes() for path in uploads(services)] == [PNG]
    stored = await alice.http.get(f"/api/chatkit/attachments/{attachment['id']}", headers=bearer(alice.token))
    assert stored.status_code == 200 and stored.content == PNG


async def test_attachment_routes_need_a_session_token(alice: ChatKitClient, client: httpx.AsyncClient) -> None:
    attachment = await create(alice, "a.txt", "text/plain", 1)
    assert (await client.post(attachment["upload_descriptor"]["url"], content=b"a")).status_code == 401
    assert (await client.get(f"/api/chatkit/attachments/{attachment['id']}")).status_code == 401


async def test_deleting_a_thread_deletes_its_attachments_and_their_bytes(
    alice: ChatKitClient, mallory: ChatKitClient, services: Services
) -> None:
    kept = await create(mallory, "other.txt", "text/plain", 5)
    assert (await upload(mallory, kept, b"other")).status_code == 200
    attachment = await create(alice, "notes.txt", "text/plain", 5)
    assert (await upload(alice, attachment, b"notes")).status_code == 200
    events = await alice.stream("threads.create", input=user_input("read this", attachments=[attachment["id"]]))
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    assert len(uploads(services)) == 2

    await alice.call("threads.delete", thread_id=thread_id)

    assert len(uploads(services)) == 1  # only mallory's file is left
    gone = await alice.http.get(f"/api/chatkit/attachments/{attachment['id']}", headers=bearer(alice.token))
    assert gone.status_code == 404
    still = await mallory.http.get(f"/api/chatkit/attachments/{kept['id']}", headers=bearer(mallory.token))
    assert still.status_code == 200 and still.content == b"other"


async def test_uploads_never_sent_are_swept_after_a_day(alice: ChatKitClient, services: Services) -> None:
    unsent = await create(alice, "draft.txt", "text/plain", 5)
    assert (await upload(alice, unsent, b"draft")).status_code == 200
    sent = await create(alice, "sent.txt", "text/plain", 4)
    assert (await upload(alice, sent, b"sent")).status_code == 200
    await alice.stream("threads.create", input=user_input("here", attachments=[sent["id"]]))
    assert len(uploads(services)) == 2

    assert await services.attachments.sweep_unsent() == 0  # not a day old yet
    assert await services.attachments.sweep_unsent(now=time.time() + 25 * 3600) == 1

    assert len(uploads(services)) == 1
    gone = await alice.http.get(f"/api/chatkit/attachments/{unsent['id']}", headers=bearer(alice.token))
    assert gone.status_code == 404
    kept = await alice.http.get(f"/api/chatkit/attachments/{sent['id']}", headers=bearer(alice.token))
    assert kept.status_code == 200 and kept.content == b"sent"
