"""What an uploaded file is, decided from its bytes (never the client's header or name),
and how a multipart upload is streamed to disk under a size limit."""

from __future__ import annotations

import codecs
import json
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header

from chatkit_app.core.attachment_limits import SUPPORTED
from chatkit_app.errors import BadRequest, ChatKitAppError, PayloadTooLarge

IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
TEXT_TYPES = {"text/plain", "text/csv", "application/json", "text/markdown"}
ALLOWED_TYPES = IMAGE_TYPES | TEXT_TYPES | {"application/pdf"}
assert ALLOWED_TYPES == set(SUPPORTED), "every type sniffed here has its name and extensions there"
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


class UnsupportedMediaType(ChatKitAppError):
    status = 415
    default_code = "unsupported_media_type"


def normalize_mime(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def sniff(path: Path, declared: str) -> str:
    """The file's real type within the allowlist, or `UnsupportedMediaType`."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if not _is_utf8_text(path):
        raise UnsupportedMediaType("This file type is not allowed (images, PDF and text files are).")
    declared = normalize_mime(declared)
    if declared == "application/json":
        try:
            with open(path, encoding="utf-8") as handle:
                json.load(handle)
        except ValueError:
            return "text/plain"
    return declared if declared in TEXT_TYPES else "text/plain"


def _is_utf8_text(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as handle:
        while chunk := handle.read(64 * 1024):
            if b"\x00" in chunk:
                return False
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def random_storage_name() -> str:
    return secrets.token_urlsafe(24)


async def receive_upload(chunks: AsyncIterator[bytes], content_type: str, destination: Path, limit: int) -> int:
    """Writes the upload's file bytes to `destination` (created with mode 0600) and
    returns their size. Multipart bodies use their `file` part; any other body is the
    file itself. Stops with 413 as soon as the file passes `limit` bytes."""
    fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        mime, options = parse_options_header(content_type)
        if mime != b"multipart/form-data":
            size = 0
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"The file is larger than {limit} bytes.")
                out.write(chunk)
            return size
        return await _receive_multipart(chunks, options.get(b"boundary"), out, limit)


class _FilePart:
    """Multipart callbacks that copy the first `file` part into `out`, counting bytes."""

    def __init__(self, out: BinaryIO, limit: int) -> None:
        self.out, self.limit = out, limit
        self.field = self.value = b""
        self.in_file = self.seen_file = False
        self.size = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def on_header_end(self) -> None:
        if self.field.lower() == b"content-disposition":
            _, params = parse_options_header(self.value)
            self.in_file = params.get(b"name") == b"file" and not self.seen_file
        self.field = self.value = b""

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            return
        self.size += end - start
        if self.size > self.limit:
            raise PayloadTooLarge(f"The file is larger than {self.limit} bytes.")
        self.out.write(data[start:end])

    def on_part_end(self) -> None:
        self.seen_file = self.seen_file or self.in_file
        self.in_file = False


async def _receive_multipart(chunks: AsyncIterator[bytes], boundary: bytes | None, out: BinaryIO, limit: int) -> int:
    if not boundary:
        raise BadRequest("The multipart upload has no boundary.")
    part = _FilePart(out, limit)
    parser = MultipartParser(
        boundary,
        callbacks={
            "on_header_field": part.on_header_field,
            "on_header_value": part.on_header_value,
            "on_header_end": part.on_header_end,
            "on_part_data": part.on_part_data,
            "on_part_end": part.on_part_end,
        },
    )
    async for chunk in chunks:
        parser.write(chunk)
    parser.finalize()
    if not part.seen_file:
        raise BadRequest("The upload has no `file` part.")
    return part.size
