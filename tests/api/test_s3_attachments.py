"""Attachments in an S3 bucket, through two app instances ("hosts") with data directories
of their own sharing PostgreSQL and the bucket (a real S3-compatible server on loopback):
a file uploaded through one downloads, previews, feeds the model and is deleted through
the other; the unsent-upload sweep and a thread's deletion remove the objects; an upload
over the limit leaves none; the store down answers 503 naming the file storage and
nothing is half-saved."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from chatkit_app.api.app import create_api
from chatkit_app.core.context import RequestContext
from chatkit_app.services import Services, build_services
from tests.api.chatkit_client import ChatKitClient, user_input
from tests.conftest import LIMITS_OFF, bearer, make_settings
from tests.s3_server import SECRET_KEY, Bucket

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)

Host = tuple[Services, httpx.AsyncClient]


@pytest.fixture
async def open_host(tmp_path: Path, postgres_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Opens an app instance with its own data directory on the shared database."""
    async with AsyncExitStack() as stack:
        count = 0

        async def open_one(**overrides: Any) -> Host:
            nonlocal count
            count += 1
            settings = make_settings(
                tmp_path / f"host{count}", database_url=postgres_url, **{**LIMITS_OFF, **overrides}
            )
            services = build_services(settings, production=False)
            stack.callback(services.close)
            transport = httpx.ASGITransport(app=create_api(lambda: services))
            http = await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url=f"http://h{count}"))
            return services, http

        yield open_one


@pytest.fixture
async def hosts(open_host: Callable[..., Any], s3_bucket: Bucket) -> tuple[Host, Host]:
    return await open_host(**s3_bucket.settings()), await open_host(**s3_bucket.settings())


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def upload(user: ChatKitClient, name: str, mime: str, content: bytes) -> dict[str, Any]:
    created: dict[str, Any] = await user.call("attachments.create", name=name, size=len(content), mime_type=mime)
    url = path_of(created["upload_descriptor"]["url"])
    response = await user.http.post(url, files={"file": (name, content)}, headers=bearer(user.token))
    assert response.status_code == 200, response.text
    return created


async def test_a_file_uploaded_through_one_host_is_served_by_the_other(
    hosts: tuple[Host, Host], s3_bucket: Bucket
) -> None:
    (one, http_one), (two, http_two) = hosts
    assert not (one.settings.uploads_dir.exists() and any(one.settings.uploads_dir.iterdir()))
    alice_one = await ChatKitClient.for_user(http_one, "alice")
    alice_two = ChatKitClient(http_two, alice_one.token)  # the same session, through the other host
    content = b"name,score\nada,10\n" * 100
    attachment = await upload(alice_one, "scores.csv", "text/csv", content)
    assert len(s3_bucket.keys()) == 1  # in the bucket, not on either host's disk
    assert not one.settings.uploads_dir.exists() and not two.settings.uploads_dir.exists()

    url = f"/api/chatkit/attachments/{attachment['id']}"
    download = await http_two.get(url, headers=bearer(alice_one.token))
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-length"] == str(len(content))
    assert download.headers["content-disposition"].startswith("attachment;")
    part = await http_two.get(url, headers={**bearer(alice_one.token), "Range": "bytes=5-9"})
    assert part.status_code == 206 and part.content == content[5:10]
    assert part.headers["content-range"] == f"bytes 5-9/{len(content)}"
    beyond = await http_two.get(url, headers={**bearer(alice_one.token), "Range": f"bytes={len(content)}-"})
    assert beyond.status_code == 416

    # the model's input reads the bytes on the other host too
    context = RequestContext("alice", "", "assistant")
    assert await two.attachments.read_bytes(attachment["id"], context, limit=len(content)) == content

    # deleted through the other host: the object goes
    assert await alice_two.call("attachments.delete", attachment_id=attachment["id"]) == {}
    assert s3_bucket.keys() == []
    assert (await http_one.get(url, headers=bearer(alice_one.token))).status_code == 404


async def test_an_image_preview_through_the_other_host(hosts: tuple[Host, Host]) -> None:
    (_, http_one), (_, http_two) = hosts
    alice = await ChatKitClient.for_user(http_one, "alice")
    image = await upload(alice, "pic.png", "image/png", PNG)
    preview = await http_two.get(path_of(image["preview_url"]))  # no bearer: an <img> tag
    assert preview.status_code == 200 and preview.content == PNG
    assert preview.headers["content-type"] == "image/png"
    assert preview.headers["content-disposition"].startswith("inline;")


async def test_a_thread_deleted_and_an_unsent_upload_swept_take_their_objects(
    hosts: tuple[Host, Host], s3_bucket: Bucket
) -> None:
    (_, http_one), (two, http_two) = hosts
    alice = await ChatKitClient.for_user(http_one, "alice")
    sent = await upload(alice, "notes.txt", "text/plain", b"notes")
    unsent = await upload(alice, "draft.txt", "text/plain", b"draft")
    events = await alice.stream("threads.create", input=user_input("read this", attachments=[sent["id"]]))
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    assert len(s3_bucket.keys()) == 2

    assert await two.attachments.sweep_unsent(now=time.time() + 25 * 3600) == 1
    assert len(s3_bucket.keys()) == 1
    await ChatKitClient(http_two, alice.token).call("threads.delete", thread_id=thread_id)
    assert s3_bucket.keys() == []
    for attachment in (sent, unsent):
        gone = await http_one.get(f"/api/chatkit/attachments/{attachment['id']}", headers=bearer(alice.token))
        assert gone.status_code == 404


async def test_an_upload_over_the_limit_leaves_no_object(open_host: Callable[..., Any], s3_bucket: Bucket) -> None:
    """Big enough for a multipart upload, whose parts are dropped when it stops."""
    limit = 9 * 1024 * 1024
    _, http = await open_host(**s3_bucket.settings(), chatkit_max_upload_bytes=limit)
    alice = await ChatKitClient.for_user(http, "alice")
    created = await alice.call("attachments.create", name="big.txt", size=1000, mime_type="text/plain")

    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"a" * (1024 * 1024)

    url = path_of(created["upload_descriptor"]["url"])
    response = await http.post(url, content=body(), headers={**bearer(alice.token), "Content-Type": "text/plain"})
    assert response.status_code == 413
    assert s3_bucket.keys() == [] and s3_bucket.incomplete_uploads() == []
    assert (await http.get(f"/api/chatkit/attachments/{created['id']}", headers=bearer(alice.token))).status_code == 404


async def test_a_refused_type_leaves_no_object(hosts: tuple[Host, Host], s3_bucket: Bucket) -> None:
    (_, http), _ = hosts
    alice = await ChatKitClient.for_user(http, "alice")
    created = await alice.call("attachments.create", name="x.png", size=5, mime_type="image/png")
    url = path_of(created["upload_descriptor"]["url"])
    response = await http.post(
        url, files={"file": ("x.png", b"plain text, not a picture")}, headers=bearer(alice.token)
    )
    assert response.status_code == 415
    assert s3_bucket.keys() == []


async def test_the_store_down_is_a_clear_503_and_nothing_is_half_saved(
    open_host: Callable[..., Any], s3_bucket: Bucket, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.unit.test_file_storage import _closed_port

    (_, http_up) = await open_host(**s3_bucket.settings())
    alice = await ChatKitClient.for_user(http_up, "alice")
    kept = await upload(alice, "kept.txt", "text/plain", b"kept")
    events = await alice.stream("threads.create", input=user_input("keep this", attachments=[kept["id"]]))
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    # A second host whose storage is out of reach (the same bucket name, nothing listening).
    down = Bucket(f"http://127.0.0.1:{_closed_port()}", s3_bucket.name, s3_bucket.prefix)
    (services_down, http_down) = await open_host(**down.settings())
    alice_down = ChatKitClient(http_down, alice.token)

    created = await alice_down.call("attachments.create", name="new.txt", size=3, mime_type="text/plain")
    response = await http_down.post(
        path_of(created["upload_descriptor"]["url"]), files={"file": ("new.txt", b"new")}, headers=bearer(alice.token)
    )
    assert response.status_code == 503 and response.headers["retry-after"]
    error = response.json()["error"]
    assert error["code"] == "storage_unavailable" and "file storage" in error["message"]
    row = await services_down.store.load_attachment_file(created["id"], RequestContext("alice", "", "assistant"))
    assert not row.uploaded and row.storage_name is None  # the attachment is as it was

    download = await http_down.get(f"/api/chatkit/attachments/{kept['id']}", headers=bearer(alice.token))
    assert download.status_code == 503 and download.json()["error"]["code"] == "storage_unavailable"
    deleting = await alice_down.raw({"type": "attachments.delete", "params": {"attachment_id": kept["id"]}})
    assert deleting.status_code == 503
    deleting_thread = await alice_down.raw({"type": "threads.delete", "params": {"thread_id": thread_id}})
    assert deleting_thread.status_code == 503
    # still whole: the thread, the row through the other host, and the object
    assert (await alice.call("threads.get_by_id", thread_id=thread_id))["id"] == thread_id
    again = await http_up.get(f"/api/chatkit/attachments/{kept['id']}", headers=bearer(alice.token))
    assert again.status_code == 200 and again.content == b"kept" and len(s3_bucket.keys()) == 1
    for body in (response.text, download.text, deleting.text, deleting_thread.text):
        assert SECRET_KEY not in body and "127.0.0.1" not in body
    assert "file storage unavailable" in caplog.text and SECRET_KEY not in caplog.text
