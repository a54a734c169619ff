"""Attachments: ChatKit's two-phase upload with the bytes in our file storage.

ChatKit does not protect attachments; every read, write and delete here goes through
the user-scoped store, so another user's attachment is simply not found. The bytes live
in the configured `FileStorage` (a local directory or an S3 bucket shared by every host)
under random names (the client's file name is display metadata only). Image previews
use a URL signed for one attachment and its owner (`previews`). A model gets a file's
bytes from `read_bytes`, inline: never through a URL, which its server would have to fetch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable

import anyio
from chatkit.store import AttachmentStore, NotFoundError
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
    ThreadItem,
)

from chatkit_app.chatkit_server.file_sweep import sweep_orphans
from chatkit_app.chatkit_server.files import (
    IMAGE_TYPES,
    Sniffer,
    UnsupportedMediaType,
    file_chunks,
    is_json,
    normalize_mime,
    random_storage_name,
)
from chatkit_app.chatkit_server.previews import API_PREFIX, PreviewGrant, PreviewSigner
from chatkit_app.chatkit_server.store import AttachmentFile, SQLModelStore
from chatkit_app.core.attachment_limits import AttachmentLimits, attachment_limits, refused_file, size_text
from chatkit_app.core.context import RequestContext
from chatkit_app.errors import Conflict, NotFound, PayloadTooLarge, RateLimited, StorageUnavailable
from chatkit_app.limits import LimitPolicy
from chatkit_app.limits.in_flight import InFlight
from chatkit_app.storage import FileStorage, Opened, StoredFileMissing

__all__ = ["API_PREFIX", "UNSENT_MAX_AGE_SECONDS", "PreviewGrant", "StoredAttachments"]
UNSENT_MAX_AGE_SECONDS = 24 * 3600
logger = logging.getLogger("chatkit_app.attachments")


class StoredAttachments(AttachmentStore[RequestContext]):
    def __init__(
        self,
        store: SQLModelStore,
        storage: FileStorage,
        *,
        max_bytes: int,
        signing_key: bytes,
        preview_ttl_seconds: int = 3600,
        clock: Callable[[], float] = time.time,
        limits: LimitPolicy | None = None,
        limits_for: Callable[[str], AttachmentLimits] | None = None,
        uploads_at_once: int = 0,
    ) -> None:
        self.store = store
        # Per user, in this process (0: no cap): a client that trickles its bytes holds
        # memory (an S3 part) and a connection for as long as it likes.
        self.uploading = InFlight(uploads_at_once, "uploads_at_once", _too_many_uploads)
        self.storage = storage
        self.limits = limits
        self.max_bytes = max_bytes
        # A workflow's types and sizes (its `composer.attachments`, the site's limits).
        self.limits_for = limits_for or (lambda _workflow_id: attachment_limits({}, max_bytes))
        self.previews = PreviewSigner(signing_key, ttl_seconds=preview_ttl_seconds, clock=clock)
        self.preview_url = self.previews.preview_url
        self.preview_owner = self.previews.preview_owner
        self.fresh_previews: Callable[[ThreadItem, RequestContext], ThreadItem] = self.previews.fresh_previews
        store.remove_files = self.remove_files
        store.fresh_previews = self.fresh_previews
        self._orphans_due = 0.0  # when the next sweep of files no row names is due

    async def remove_files(self, storage_names: list[str]) -> None:
        """Delete stored files (a deleted thread's, swept uploads'); `StorageUnavailable`
        when the storage is down (the store decides what then: `SQLModelStore`)."""
        for name in storage_names:
            try:
                await self.storage.delete(name)
            except StoredFileMissing:
                continue

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
        """The bytes go first (ChatKit deletes the row after): with the storage down the
        request fails (503) and the attachment stays whole."""
        row = await self.store.load_attachment_file(attachment_id, context)
        if row.storage_name:
            await self.storage.delete(row.storage_name)

    async def store_upload(
        self, attachment_id: str, chunks: AsyncIterator[bytes], content_type: str, context: RequestContext
    ) -> Attachment:
        """Phase two of an upload: the bytes of the user's created attachment, limited
        while they stream to the storage, typed by sniffing them on the way, stored under
        a random name. The bytes count against the user's daily upload quota as they
        arrive; past it the upload stops (429). Whatever stops it (too big, the quota,
        a refused type, the storage or database failing) leaves no stored file and the
        attachment as it was."""
        release = self.uploading.enter(context.user_id)
        try:
            return await self._store_upload(attachment_id, chunks, content_type, context)
        finally:
            release()

    async def _store_upload(
        self, attachment_id: str, chunks: AsyncIterator[bytes], content_type: str, context: RequestContext
    ) -> Attachment:
        try:
            row = await self.store.load_attachment_file(attachment_id, context)
        except NotFoundError:
            raise NotFound("No attachment with that id.") from None
        if row.uploaded:
            raise Conflict("This attachment already has its file.", code="already_uploaded")
        allowed = self.limits_for(context.workflow_id)
        name, declared = row.attachment.name, row.attachment.mime_type
        limit = allowed.limit_for(declared) or self.max_bytes
        if self.limits is not None:
            chunks = _counted(chunks, self.limits, context.user_id)
        sniffer = Sniffer()
        storage_name = random_storage_name()
        try:
            size = await self.storage.put(storage_name, sniffer.watch(file_chunks(chunks, content_type)), limit=limit)
        except PayloadTooLarge:
            raise PayloadTooLarge(f"{name}: the file is over the {size_text(limit)} limit") from None
        try:
            mime = await self._checked_type(storage_name, sniffer, name, declared, size, allowed)
            attachment = row.attachment.model_copy(
                update={"mime_type": mime, "upload_descriptor": None, "metadata": {"size": size, "uploaded": True}}
            )
            await self.store.mark_attachment_uploaded(
                attachment_id, storage_name=storage_name, size=size, context=context
            )
            await self.store.save_attachment(attachment, context)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._discard(storage_name)
            raise
        return attachment

    async def _discard(self, storage_name: str) -> None:
        try:
            await self.storage.delete(storage_name)
        except StorageUnavailable:  # nothing names it: the sweep of files no row names removes it
            logger.warning("could not remove a refused upload: the file storage is unavailable")

    async def _checked_type(
        self, storage_name: str, sniffer: Sniffer, name: str, declared: str, size: int, allowed: AttachmentLimits
    ) -> str:
        try:
            mime = sniffer.mime(declared)
        except UnsupportedMediaType:
            raise UnsupportedMediaType(f"{name}: this type is not allowed ({allowed.kinds()})") from None
        if mime == "application/json" and not is_json(await self.storage.read(storage_name, limit=size)):
            mime = "text/plain"
        if declared in IMAGE_TYPES and mime != declared and mime not in IMAGE_TYPES:
            raise UnsupportedMediaType(f"{name}: the file's content does not match its declared image type")
        if refused := refused_file(name, size, mime, allowed):  # its real type has its own limit
            raise (PayloadTooLarge if allowed.limit_for(mime) is not None else UnsupportedMediaType)(refused)
        return mime

    async def uploaded_file(self, attachment_id: str, context: RequestContext) -> AttachmentFile:
        """The user's attachment whose bytes arrived; `NotFoundError` otherwise."""
        row = await self.store.load_attachment_file(attachment_id, context)
        if not row.uploaded or not row.storage_name:
            raise NotFoundError(f"attachment {attachment_id} has no file")
        return row

    async def open_file(self, row: AttachmentFile, *, offset: int = 0, length: int | None = None) -> Opened:
        """The stored bytes of `row` (from `uploaded_file`), streamed; `NotFoundError`
        when the storage no longer holds them."""
        try:
            return await self.storage.open(str(row.storage_name), offset=offset, length=length)
        except StoredFileMissing:
            raise NotFoundError(f"attachment {row.attachment.id} has no file") from None

    async def read_bytes(self, attachment_id: str, context: RequestContext, *, limit: int) -> bytes:
        """The file of one of `context`'s user's attachments, for an agent to hand to its
        model (`core.files.AttachmentReader`). Found through the same user-scoped row as
        every read here: another user's id, or one without its file, is `NotFoundError`.
        Over `limit` bytes it is `PayloadTooLarge`, from the stored size when that says so
        (the file is not opened), else from reading at most one byte more."""
        row = await self.uploaded_file(attachment_id, context)
        if row.size is not None and row.size > limit:
            raise PayloadTooLarge(f"The file is larger than {limit} bytes.")
        try:
            data = await self.storage.read(str(row.storage_name), limit=limit)
        except StoredFileMissing:
            raise NotFoundError(f"attachment {attachment_id} has no file") from None
        if len(data) > limit:
            raise PayloadTooLarge(f"The file is larger than {limit} bytes.")
        return data

    async def sweep_unsent(self, max_age_seconds: float = UNSENT_MAX_AGE_SECONDS, *, now: float | None = None) -> int:
        """Remove uploads never sent in a message within `max_age_seconds`; how many.
        Also, at most once a day, stored files that no row names (`file_sweep`)."""
        now = time.time() if now is None else now
        swept = await self.store.sweep_unsent_attachments(int((now - max_age_seconds) * 1_000_000))
        if now >= self._orphans_due:
            self._orphans_due = now + 24 * 3600
            try:
                await self.sweep_orphans(now=now)
            except StorageUnavailable:
                self._orphans_due = now  # the storage is down: try again at the next sweep
        return swept

    async def sweep_orphans(self, *, now: float | None = None, min_age_seconds: float = UNSENT_MAX_AGE_SECONDS) -> int:
        """Remove stored files older than `min_age_seconds` that no attachment row names."""
        now = time.time() if now is None else now
        removed = await sweep_orphans(self.storage, self.store, older_than=now - min_age_seconds)
        if removed:
            logger.info("removed %d stored file(s) that no attachment names", removed)
        return removed


async def _counted(chunks: AsyncIterator[bytes], limits: LimitPolicy, user_id: str) -> AsyncIterator[bytes]:
    """The upload's body, each chunk counted against the daily upload bytes before it is
    stored (multipart framing counts too: a little more than the file, never less)."""
    async for chunk in chunks:
        if chunk:
            await limits.reserve_upload(user_id, len(chunk))
        yield chunk


def _display_name(name: str) -> str:
    """The client's name, for display only: no path, no control characters, bounded."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip() or "file"
    return cleaned[:200]


def _too_many_uploads(limit: int) -> RateLimited:
    return RateLimited(
        f"You can send {limit} file{'s' if limit > 1 else ''} at once; try this one again when one has finished.",
        retry_after=5,
        code="too_many_uploads",
    )
