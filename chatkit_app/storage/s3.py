"""Files in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, ...): `s3://bucket/prefix`.

boto3's client is thread-safe; each call runs in a worker thread, never on the event loop.
Credentials, region and endpoint come from the standard AWS variables (or boto3's usual
chain: ~/.aws, an instance role). Uploads go up in parts of `PART_BYTES`: one part in
memory per upload, and all uploads together within the process's `buffer` (else
`StorageBusy`, before the bytes are taken); a small file in one PUT, a larger one as a
multipart upload that is aborted on any failure, so an upload refused half-way (too big,
quota, a broken connection, a full buffer) leaves no object. Errors are logged with the S3 error code only (no
credentials, no request) and surface as `StorageUnavailable`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeVar

import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chatkit_app.core.byte_budget import ByteBudget
from chatkit_app.errors import StorageBusy, StorageUnavailable
from chatkit_app.storage.base import CHUNK_BYTES, Opened, SizeCounter, StoredEntry, StoredFileMissing, check_name

logger = logging.getLogger("chatkit_app.storage")
_T = TypeVar("_T")
PART_BYTES = 8 * 1024 * 1024  # S3's smallest part is 5 MiB (except the last)
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Storage:
    def __init__(
        self, bucket: str, prefix: str, *, client_options: Mapping[str, Any], buffer: ByteBudget | None = None
    ) -> None:
        """`client_options`: keyword arguments of `boto3.session.Session.client` (endpoint,
        region, credentials when given explicitly); `buffer`: the bytes all uploads may hold
        in memory at once (default: no cap)."""
        self.buffer = buffer if buffer is not None else ByteBudget(0)
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.description = f"s3://{bucket}/{self.prefix}"
        session = boto3.session.Session()
        endpoint = client_options.get("endpoint_url")
        # MinIO and most self-hosted stores need path-style URLs; AWS picks its own.
        style = "path" if endpoint else "auto"
        common = {"signature_version": "s3v4", "s3": {"addressing_style": style}}
        self._client = session.client(
            "s3",
            config=Config(
                connect_timeout=5, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"}, **common
            ),
            **client_options,
        )
        # The readiness check fails fast: one short try.
        self._probe = session.client(
            "s3",
            config=Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 1}, **common),
            **client_options,
        )

    def _key(self, name: str) -> str:
        return self.prefix + check_name(name)

    async def _run(self, fn: Callable[[], _T]) -> _T:
        try:
            return await anyio.to_thread.run_sync(fn)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise StoredFileMissing("no such object") from None
            raise self._unavailable(_code(exc)) from None
        except BotoCoreError as exc:
            raise self._unavailable(type(exc).__name__) from None

    def _unavailable(self, reason: str) -> StorageUnavailable:
        logger.error("file storage unavailable (%s): %s", self.description, reason)
        return StorageUnavailable()

    async def put(self, name: str, chunks: AsyncIterator[bytes], *, limit: int) -> int:
        key = self._key(name)
        counter = SizeCounter(limit)
        part = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        client = self._client
        held = 0  # bytes of `part`, taken from `self.buffer`
        try:
            async for chunk in chunks:
                counter.add(chunk)
                if not self.buffer.take(len(chunk)):
                    raise StorageBusy()
                held += len(chunk)
                part += chunk
                while len(part) >= PART_BYTES:
                    if upload_id is None:
                        created = await self._run(lambda: client.create_multipart_upload(Bucket=self.bucket, Key=key))
                        upload_id = str(created["UploadId"])
                    body, part = part[:PART_BYTES], part[PART_BYTES:]
                    parts.append(await self._upload_part(key, upload_id, len(parts) + 1, body))
                    self.buffer.give(len(body))
                    held -= len(body)
            # The buffer goes up as it is (no copy held beside it while S3 answers).
            if upload_id is None:
                await self._run(lambda: client.put_object(Bucket=self.bucket, Key=key, Body=part))
                return counter.size
            if part:
                parts.append(await self._upload_part(key, upload_id, len(parts) + 1, part))
            done = {"Parts": parts}
            await self._run(
                lambda: client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload=done
                )
            )
            return counter.size
        except BaseException:
            if upload_id is not None:
                await self._abort(key, upload_id)
            raise
        finally:
            self.buffer.give(held)

    async def _upload_part(self, key: str, upload_id: str, number: int, body: bytearray) -> dict[str, Any]:
        answer = await self._run(
            lambda: self._client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def _abort(self, key: str, upload_id: str) -> None:
        """Best effort (shielded from a cancelled request); a bucket lifecycle rule that
        aborts incomplete multipart uploads catches what is left when the store is down."""
        with anyio.CancelScope(shield=True):
            try:
                await self._run(
                    lambda: self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
                )
            except (StorageUnavailable, StoredFileMissing):
                logger.warning("could not abort an incomplete multipart upload in %s", self.description)

    async def open(self, name: str, *, offset: int = 0, length: int | None = None) -> Opened:
        key = self._key(name)
        extra: dict[str, str] = {}
        if offset or length is not None:
            if length == 0:
                return Opened(0, _empty(), _nothing)
            end = "" if length is None else str(offset + length - 1)
            extra["Range"] = f"bytes={offset}-{end}"
        answer = await self._run(lambda: self._client.get_object(Bucket=self.bucket, Key=key, **extra))
        body = answer["Body"]

        async def chunks() -> AsyncIterator[bytes]:
            while data := await self._run(lambda: body.read(CHUNK_BYTES)):
                yield data

        async def close() -> None:
            await anyio.to_thread.run_sync(body.close)

        return Opened(int(answer["ContentLength"]), chunks(), close)

    async def read(self, name: str, *, limit: int) -> bytes:
        opened = await self.open(name, offset=0, length=limit + 1)
        return b"".join([chunk async for chunk in opened])

    async def delete(self, name: str) -> None:
        key = self._key(name)
        await self._run(lambda: self._client.delete_object(Bucket=self.bucket, Key=key))

    async def size(self, name: str) -> int | None:
        key = self._key(name)
        try:
            answer = await self._run(lambda: self._client.head_object(Bucket=self.bucket, Key=key))
        except StoredFileMissing:
            return None
        return int(answer["ContentLength"])

    async def entries(self) -> AsyncIterator[StoredEntry]:
        paginator = self._client.get_paginator("list_objects_v2")
        pages = iter(paginator.paginate(Bucket=self.bucket, Prefix=self.prefix))
        while page := await self._run(lambda: next(pages, None)):
            for item in page.get("Contents", []):
                name = str(item["Key"])[len(self.prefix) :]
                if "/" not in name:
                    yield StoredEntry(name, item["LastModified"].timestamp())

    async def ready(self) -> None:
        try:
            await self._run(lambda: self._probe.head_bucket(Bucket=self.bucket))
        except StoredFileMissing:
            raise self._unavailable("no such bucket") from None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error"))


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""


async def _nothing() -> None:
    return None
