"""The file-storage contract, run the same against both stores: a local directory and an
S3 bucket on a real S3-compatible server on loopback (moto). Put within a limit, read
whole / bounded / by range, delete, list; a refused or failed put leaves nothing; a store
that cannot be reached says so (`StorageUnavailable`) without a credential in sight."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatkit_app.errors import PayloadTooLarge, QuotaExceeded, StorageBusy, StorageUnavailable
from chatkit_app.storage import FileStorage, StoredFileMissing
from chatkit_app.storage.build import build_storage
from chatkit_app.storage.local import LocalStorage
from chatkit_app.storage.s3 import PART_BYTES, S3Storage
from tests.conftest import make_settings
from tests.s3_server import SECRET_KEY, Bucket

NAME = "f" * 32
MB = 1024 * 1024
OTHER = "g" * 32


@pytest.fixture(params=["local", "s3"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def bucket(kind: str, request: pytest.FixtureRequest) -> Bucket | None:
    if kind != "s3":
        return None
    found: Bucket = request.getfixturevalue("s3_bucket")
    return found


@pytest.fixture
def storage(kind: str, bucket: Bucket | None, tmp_path: Path) -> FileStorage:
    """Built from the settings as the app builds it."""
    overrides = bucket.settings() if bucket is not None else {"chatkit_storage_url": str(tmp_path / "files")}
    return build_storage(make_settings(tmp_path, **overrides))


async def chunks_of(content: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(content), size):
        yield content[start : start + size]


async def names(storage: FileStorage) -> list[str]:
    return sorted([entry.name async for entry in storage.entries()])


async def collect(storage: FileStorage, name: str, **kwargs: int | None) -> bytes:
    opened = await storage.open(name, **kwargs)  # type: ignore[arg-type]
    data = b"".join([chunk async for chunk in opened])
    assert len(data) == opened.length
    return data


async def test_a_file_goes_in_and_comes_back(storage: FileStorage) -> None:
    content = bytes(range(256)) * 1000
    assert await storage.put(NAME, chunks_of(content), limit=len(content)) == len(content)
    assert await storage.size(NAME) == len(content)
    assert await collect(storage, NAME) == content
    assert await storage.read(NAME, limit=len(content)) == content
    assert await storage.read(NAME, limit=10) == content[:11]  # one byte more says "too big"
    [entry] = [entry async for entry in storage.entries()]
    assert entry.name == NAME and abs(entry.modified - time.time()) < 120
    await storage.ready()


async def test_byte_ranges(storage: FileStorage) -> None:
    content = b"0123456789" * 100
    await storage.put(NAME, chunks_of(content, 7), limit=len(content))
    assert await collect(storage, NAME, offset=10, length=5) == b"01234"
    assert await collect(storage, NAME, offset=995) == b"56789"
    assert await collect(storage, NAME, offset=0, length=1) == b"0"
    assert await collect(storage, NAME, offset=990, length=100) == b"0123456789"  # clipped at the end


async def test_delete_removes_the_file_and_a_missing_one_is_fine(storage: FileStorage) -> None:
    await storage.put(NAME, chunks_of(b"one"), limit=10)
    await storage.put(OTHER, chunks_of(b"two"), limit=10)
    await storage.delete(NAME)
    await storage.delete(NAME)
    assert await names(storage) == [OTHER]
    assert await storage.size(NAME) is None
    with pytest.raises(StoredFileMissing):
        await storage.open(NAME)
    with pytest.raises(StoredFileMissing):
        await storage.read(NAME, limit=10)


async def test_an_empty_file(storage: FileStorage) -> None:
    assert await storage.put(NAME, chunks_of(b""), limit=10) == 0
    assert await storage.size(NAME) == 0 and await collect(storage, NAME) == b""


async def test_over_the_limit_leaves_nothing(storage: FileStorage, bucket: Bucket | None) -> None:
    with pytest.raises(PayloadTooLarge):
        await storage.put(NAME, chunks_of(b"x" * 1001), limit=1000)
    assert await names(storage) == [] and await storage.size(NAME) is None


async def test_a_big_file_goes_up_in_parts_and_over_the_limit_leaves_no_part(
    storage: FileStorage, bucket: Bucket | None
) -> None:
    """More than one S3 part (multipart upload); past the limit after the first part was
    sent, the multipart upload is aborted: no object and no incomplete upload."""
    content = hashlib.sha256(b"seed").digest() * ((PART_BYTES + PART_BYTES // 2) // 32)
    assert await storage.put(NAME, chunks_of(content, 1 << 20), limit=len(content)) == len(content)
    assert hashlib.sha256(await collect(storage, NAME)).digest() == hashlib.sha256(content).digest()
    assert await collect(storage, NAME, offset=PART_BYTES - 2, length=4) == content[PART_BYTES - 2 : PART_BYTES + 2]

    with pytest.raises(PayloadTooLarge):
        await storage.put(OTHER, chunks_of(content + b"!", 1 << 20), limit=len(content))
    assert await names(storage) == [NAME]
    if bucket is not None:
        assert bucket.incomplete_uploads() == []


async def test_a_failing_source_leaves_nothing(storage: FileStorage, bucket: Bucket | None) -> None:
    """The upload's own stream stops it (a quota, a client that went away) mid-way."""

    async def broken() -> AsyncIterator[bytes]:
        yield b"y" * PART_BYTES
        yield b"y" * 1024
        raise QuotaExceeded("daily bytes used up", retry_after=60)

    with pytest.raises(QuotaExceeded):
        await storage.put(NAME, broken(), limit=10 * PART_BYTES)
    assert await names(storage) == []
    if bucket is not None:
        assert bucket.incomplete_uploads() == []


async def test_uploads_to_s3_hold_at_most_the_buffer_together(s3_bucket: Bucket, tmp_path: Path) -> None:
    """`CHATKIT_UPLOAD_BUFFER_MB`: two uploads paused while holding 6 MiB each; a third
    that would take the process past 16 MiB is refused (`StorageBusy`) and leaves
    nothing; the two finish, and every byte taken is given back."""
    storage = build_storage(make_settings(tmp_path, chatkit_upload_buffer_mb=16, **s3_bucket.settings()))
    assert isinstance(storage, S3Storage) and storage.buffer.capacity == 16 * MB
    go_on = asyncio.Event()

    async def held(fill: bytes) -> AsyncIterator[bytes]:
        yield fill * (6 * MB)
        await go_on.wait()
        yield fill

    first = asyncio.create_task(storage.put(NAME, held(b"a"), limit=10 * MB))
    second = asyncio.create_task(storage.put(OTHER, held(b"b"), limit=10 * MB))

    async def both_paused() -> None:  # holding their bytes
        while storage.buffer.used < 12 * MB:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(both_paused(), 10)
    with pytest.raises(StorageBusy) as refused:
        await storage.put("h" * 32, chunks_of(b"c" * (5 * MB), MB), limit=10 * MB)
    assert (refused.value.status, refused.value.code, refused.value.retry_after) == (503, "storage_busy", 10)
    assert storage.buffer.used == 12 * MB  # the refused upload gave back what it took
    go_on.set()
    assert await asyncio.gather(first, second) == [6 * MB + 1, 6 * MB + 1]
    assert storage.buffer.used == 0
    assert await names(storage) == [NAME, OTHER]


@pytest.mark.parametrize("name", ["../escape", "a/b" * 6, "", ".hidden-name", "x" * 200])
async def test_only_our_names(storage: FileStorage, name: str) -> None:
    with pytest.raises(StoredFileMissing):
        await storage.put(name, chunks_of(b"x"), limit=10)
    with pytest.raises(StoredFileMissing):
        await storage.open(name)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there any more


@pytest.fixture
def unavailable(kind: str, tmp_path: Path) -> FileStorage:
    """The same kind of store, out of reach: an S3 endpoint where nothing listens, or a
    directory path that is a file."""
    if kind == "s3":
        overrides = {
            **Bucket(f"http://127.0.0.1:{_closed_port()}", "gone-bucket").settings(),
        }
        return build_storage(make_settings(tmp_path, **overrides))
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    return LocalStorage(blocker / "files")


async def test_a_store_out_of_reach_says_so_quickly_and_names_no_secret(
    unavailable: FileStorage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as ready:
        await unavailable.ready()
    assert time.monotonic() - started < 5
    failures = [ready.value]
    for attempt in (
        unavailable.put(NAME, chunks_of(b"data"), limit=10),
        unavailable.open(NAME),
        unavailable.read(NAME, limit=10),
        unavailable.delete(NAME),
    ):
        with pytest.raises(StorageUnavailable) as failed:
            await attempt
        failures.append(failed.value)
    for failure in failures:
        assert failure.status == 503 and failure.code == "storage_unavailable" and failure.retry_after
        assert "file storage" in failure.message and "127.0.0.1" not in failure.message
    assert "file storage unavailable" in caplog.text
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert SECRET_KEY not in logged


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("", ("dir", "data/uploads")),
        ("/srv/chat-files", ("dir", "/srv/chat-files")),
        ("file:///srv/chat-files", ("dir", "/srv/chat-files")),
        ("s3://chat-files", ("s3", "chat-files", "")),
        ("s3://chat-files/site/uploads/", ("s3", "chat-files", "site/uploads")),
    ],
)
def test_the_storage_url(tmp_path: Path, value: str, where: tuple[str, ...]) -> None:
    location = make_settings(tmp_path, chatkit_storage_url=value).storage_location
    if where[0] == "dir":
        assert location.directory is not None and str(location.directory).endswith(where[1])
    else:
        assert (location.directory, location.bucket, location.prefix) == (None, *where[1:])


@pytest.mark.parametrize("value", ["s3://", "s3://Bad_Bucket/x", "gs://bucket/x", "s3://bucket/../x"])
def test_a_storage_url_that_cannot_be_used_is_refused_in_one_line(tmp_path: Path, value: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as refused:
        make_settings(tmp_path, chatkit_storage_url=value)
    assert "chatkit_storage_url" in str(refused.value)
