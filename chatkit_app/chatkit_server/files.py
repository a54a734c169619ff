"""What an uploaded file is, decided from its bytes as they stream past (never the client's
header or name), and the file bytes of an upload's body (raw or multipart)."""

from __future__ import annotations

import codecs
import json
import secrets
from collections.abc import AsyncIterator

from python_multipart.multipart import MultipartParser, parse_options_header

from chatkit_app.core.attachment_limits import SUPPORTED
from chatkit_app.errors import BadRequest, ChatKitAppError

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


class Sniffer:
    """Watches an upload's bytes as they stream past (to the storage): its first bytes,
    and whether it is all UTF-8 text without NUL bytes. Nothing else is kept."""

    def __init__(self) -> None:
        self.head = b""
        self.text = True
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < 16:
            self.head += chunk[: 16 - len(self.head)]
        if self.text and b"\x00" in chunk:
            self.text = False
        elif self.text:
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError:
                self.text = False

    async def watch(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.feed(chunk)
            yield chunk

    def mime(self, declared: str) -> str:
        """The file's real type within the allowlist, or `UnsupportedMediaType`. A text
        file declared as JSON comes back as `application/json` unparsed: `is_json` decides."""
        head = self.head
        for magic, mime in _MAGIC:
            if head.startswith(magic):
                return mime
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return "image/webp"
        if self.text:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.text = False
        if not self.text:
            raise UnsupportedMediaType("This file type is not allowed (images, PDF and text files are).")
        declared = normalize_mime(declared)
        return declared if declared in TEXT_TYPES else "text/plain"


def is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def random_storage_name() -> str:
    return secrets.token_urlsafe(24)


async def file_chunks(chunks: AsyncIterator[bytes], content_type: str) -> AsyncIterator[bytes]:
    """The upload's file bytes as they arrive: a multipart body's `file` part, or any
    other body whole. The caller (the storage's `put`) counts them against the limit."""
    mime, options = parse_options_header(content_type)
    if mime != b"multipart/form-data":
        async for chunk in chunks:
            if chunk:
                yield chunk
        return
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest("The multipart upload has no boundary.")
    part = _FilePart()
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
        for data in part.take():
            yield data
    parser.finalize()
    for data in part.take():
        yield data
    if not part.seen_file:
        raise BadRequest("The upload has no `file` part.")


class _FilePart:
    """Multipart callbacks that collect the first `file` part's bytes."""

    def __init__(self) -> None:
        self.field = self.value = b""
        self.in_file = self.seen_file = False
        self.pending: list[bytes] = []

    def take(self) -> list[bytes]:
        pending, self.pending = self.pending, []
        return pending

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
        if self.in_file and end > start:
            self.pending.append(bytes(data[start:end]))

    def on_part_end(self) -> None:
        self.seen_file = self.seen_file or self.in_file
        self.in_file = False
