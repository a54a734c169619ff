"""Attachments: ChatKit's two-phase upload with the bytes on our disk.

ChatKit does not protect attachments; every read, write and delete here goes through
the user-scoped store, so another user's attachment is simply not found. Files live
under `CHATKIT_DATA_DIR/uploads` with random names (the client's file name is display
metadata only). Image previews use a URL signed for one attachment and its owner, so
an `<img>` tag can load it without the session token. A model gets a file's bytes from
`read_bytes`, inline: never through a URL, which its server would have to fetch.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from chatkit.store import AttachmentStore, NotFoundError
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
    ThreadItem,
)
from pydantic import AnyUrl

from chatkit_app.chatkit_server.files import (
    IMAGE_TYPES,
    UnsupportedMediaType,
    normalize_mime,
    random_storage_name,
    receive_upload,
    sniff,
)
from chatkit_app.chatkit_server.store import SQLModelStore
from chatkit_app.core.attachment_limits import AttachmentLimits, attachment_limits, refused_file, size_text
from chatkit_app.core.context import RequestContext
from chatkit_app.errors import Conflict, NotFound, PayloadTooLarge
from chatkit_app.limits import LimitPolicy

API_PREFIX = "/api/chatkit/attachments"
UNSENT_MAX_AGE_SECONDS = 24 * 3600
logger = logging.getLogger("chatkit_app.attachments")


@dataclass(frozen=True, slots=True)
class PreviewGrant:
    """What a valid, unexpired preview signature vouches for."""

    user_id: str
    session_id: str
    expires_at: int


class DiskAttachmentStore(AttachmentStore[RequestContext]):
    def __init__(
        self,
        store: SQLModelStore,
        directory: Path,
        *,
        max_bytes: int,
        signing_key: bytes,
        preview_ttl_seconds: int = 3600,
        clock: Callable[[], float] = time.time,
        limits: LimitPolicy | None = None,
        limits_for: Callable[[str], AttachmentLimits] | None = None,
    ) -> None:
        self.store = store
        self.limits = limits
        self.directory = directory
        self.max_bytes = max_bytes
        # A workflow's types and sizes (its `composer.attachments`, the site's limits).
        self.limits_for = limits_for or (lambda _workflow_id: attachment_limits({}, max_bytes))
        self.preview_ttl_seconds = preview_ttl_seconds
        self._clock = clock
        self._key = hashlib.sha256(b"chatkit-preview:" + signing_key).digest()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        store.remove_files = self.remove_files
        store.fresh_previews = self.fresh_previews

    def remove_files(self, storage_names: list[str]) -> None:
        """Delete stored files whose rows are gone (a deleted thread, a sweep)."""
        for name in storage_names:
            try:
                self.path_of(name).unlink(missing_ok=True)
            except (NotFoundError, OSError):
                logger.warning("could not remove an attachment file")

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return self.store.generate_attachment_id(mime_type, context)

    async def create_attachment(self, input: AttachmentCreateParams, context: RequestContext) -> Attachment:
        mime = normalize_mime(input.mime_type)
        allowed = self.limits_for(context.workflow_id)
        refused = refused_file(_display_name(input.name), input.size, mime, allowed)
        if refused:
            raise (PayloadTooLarge if allowed.limit_for(mime) is not None else UnsupportedMediaType)(refused)
        if self.limits is not None:  # unsent uploads under the cap; the declared size fits today's bytes
            await self.limits.new_upload(context.user_id, input.size)
        attachment_id = self.generate_attachment_id(mime, context)
        descriptor = AttachmentUploadDescriptor(
            url=f"{context.base_url}{API_PREFIX}/{attachment_id}/upload",
            method="POST",
        )
        common = {
            "id": attachment_id,
            "name": _display_name(input.name),
            "mime_type": mime,
            "upload_descriptor": descriptor,
            "metadata": {"size": input.size, "uploaded": False},
        }
        attachment: Attachment
        if mime in IMAGE_TYPES:
            attachment = ImageAttachment(**common, preview_url=self.preview_url(attachment_id, context))
        else:
            attachment = FileAttachment(**common)
        await self.store.save_attachment(attachment, context)
        return attachment

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        row = await self.store.load_attachment_file(attachment_id, context)
        if row.storage_name:
            self.path_of(row.storage_name).unlink(missing_ok=True)

    async def store_upload(
        self, attachment_id: str, chunks: AsyncIterator[bytes], content_type: str, context: RequestContext
    ) -> Attachment:
        """Phase two of an upload: the bytes of the user's created attachment, limited
        while they stream in, typed by sniffing them, stored under a random name. The
        bytes count against the user's daily upload quota as they arrive; past it the
        upload stops (429) and its partial file is deleted, the attachment left as it was."""
        try:
            row = await self.store.load_attachment_file(attachment_id, context)
        except NotFoundError:
            raise NotFound("No attachment with that id.") from None
        if row.uploaded:
            raise Conflict("This attachment already has its file.", code="already_uploaded")
        temp = self.path_of("." + random_storage_name())
        allowed = self.limits_for(context.workflow_id)
        name, declared = row.attachment.name, row.attachment.mime_type
        limit = allowed.limit_for(declared) or self.max_bytes
        try:
            if self.limits is not None:
                chunks = _counted(chunks, self.limits, context.user_id)
            try:
                size = await receive_upload(chunks, content_type, temp, limit)
            except PayloadTooLarge:
                raise PayloadTooLarge(f"{name}: the file is over the {size_text(limit)} limit") from None
            try:
                mime = sniff(temp, declared)
            except UnsupportedMediaType:
                raise UnsupportedMediaType(f"{name}: this type is not allowed ({allowed.kinds()})") from None
            if declared in IMAGE_TYPES and mime != declared and mime not in IMAGE_TYPES:
                raise UnsupportedMediaType(f"{name}: the file's content does not match its declared image type")
            if refused := refused_file(name, size, mime, allowed):  # its real type has its own limit
                raise (PayloadTooLarge if allowed.limit_for(mime) is not None else UnsupportedMediaType)(refused)
            storage_name = random_storage_name()
            os.replace(temp, self.path_of(storage_name))
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        attachment = row.attachment.model_copy(
            update={"mime_type": mime, "upload_descriptor": None, "metadata": {"size": size, "uploaded": True}}
        )
        await self.store.mark_attachment_uploaded(attachment_id, storage_name=storage_name, size=size, context=context)
        await self.store.save_attachment(attachment, context)
        return attachment

    async def read_bytes(self, attachment_id: str, context: RequestContext, *, limit: int) -> bytes:
        """The file of one of `context`'s user's attachments, for an agent to hand to its
        model (`core.files.AttachmentReader`). Found through the same user-scoped row as
        every read here: another user's id, or one without its file, is `NotFoundError`.
        Over `limit` bytes it is `PayloadTooLarge`, from the stored size when that says so
        (the file is not opened), else from reading at most one byte more."""
        row = await self.store.load_attachment_file(attachment_id, context)
        if not row.uploaded or not row.storage_name:
            raise NotFoundError(f"attachment {attachment_id} has no file")
        if row.size is not None and row.size > limit:
            raise PayloadTooLarge(f"The file is larger than {limit} bytes.")
        path = self.path_of(row.storage_name)
        try:
            data = await anyio.to_thread.run_sync(_read_at_most, path, limit + 1)
        except FileNotFoundError:
            raise NotFoundError(f"attachment {attachment_id} has no file") from None
        if len(data) > limit:
            raise PayloadTooLarge(f"The file is larger than {limit} bytes.")
        return data

    async def sweep_unsent(self, max_age_seconds: float = UNSENT_MAX_AGE_SECONDS, *, now: float | None = None) -> int:
        """Remove uploads never sent in a message within `max_age_seconds`; how many."""
        cutoff = (time.time() if now is None else now) - max_age_seconds
        return await self.store.sweep_unsent_attachments(int(cutoff * 1_000_000))

    def path_of(self, storage_name: str) -> Path:
        path = (self.directory / storage_name).resolve()
        if path.parent != self.directory.resolve():
            raise NotFoundError("bad storage name")
        return path

    def preview_url(self, attachment_id: str, context: RequestContext) -> str:
        expires_at = int(self._clock()) + self.preview_ttl_seconds
        signature = self._sign(attachment_id, context.user_id, context.session_id, expires_at)
        return f"{context.base_url}{API_PREFIX}/{attachment_id}/preview?sig={signature}"

    def preview_owner(self, attachment_id: str, signature: str) -> PreviewGrant | None:
        """What a preview signature was made for, or None if it is not ours or expired.
        (The caller still checks that the session is live.)"""
        try:
            owner_b64, session_id, expires, _mac = signature.split(".")
            owner = base64.urlsafe_b64decode(owner_b64 + "=" * (-len(owner_b64) % 4)).decode()
            expires_at = int(expires)
        except (ValueError, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(self._sign(attachment_id, owner, session_id, expires_at), signature):
            return None
        if self._clock() >= expires_at:
            return None
        return PreviewGrant(owner, session_id, expires_at)

    def fresh_previews(self, item: ThreadItem, context: RequestContext) -> ThreadItem:
        """`item` with its image attachments' previews signed for `context`'s session."""
        attachments = getattr(item, "attachments", None)
        if not attachments or not context.session_id:
            return item
        if not any(isinstance(a, ImageAttachment) for a in attachments):
            return item
        fresh = [
            a.model_copy(update={"preview_url": AnyUrl(self.preview_url(a.id, context))})
            if isinstance(a, ImageAttachment)
            else a
            for a in attachments
        ]
        return item.model_copy(update={"attachments": fresh})

    def _sign(self, attachment_id: str, user_id: str, session_id: str, expires_at: int) -> str:
        payload = f"{attachment_id}\n{user_id}\n{session_id}\n{expires_at}".encode()
        mac = hmac.new(self._key, payload, hashlib.sha256).digest()
        owner = base64.urlsafe_b64encode(user_id.encode()).decode().rstrip("=")
        return f"{owner}.{session_id}.{expires_at}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def _read_at_most(path: Path, size: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


async def _counted(chunks: AsyncIterator[bytes], limits: LimitPolicy, user_id: str) -> AsyncIterator[bytes]:
    """The upload's body, each chunk counted against the daily upload bytes before it is
    written (multipart framing counts too: a little more than the file, never less)."""
    async for chunk in chunks:
        if chunk:
            await limits.reserve_upload(user_id, len(chunk))
        yield chunk


def _display_name(name: str) -> str:
    """The client's name, for display only: no path, no control characters, bounded."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip() or "file"
    return cleaned[:200]
