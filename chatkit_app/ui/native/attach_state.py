"""Attachments waiting in the composer: uploaded through the same two phases as ChatKit's
(size limit and type sniffing included) and kept for the next message."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from typing import Any

import reflex as rx

from chatkit_app.errors import ChatKitAppError
from chatkit_app.ui.native.chat_base import ChatBase
from chatkit_app.ui.native.protocol import call
from chatkit_app.ui.native.window import chip

UPLOAD_CHUNK = 64 * 1024


async def _chunks(file: rx.UploadFile) -> AsyncIterator[bytes]:
    """The file in pieces: the size limit is enforced while reading, never after
    loading a whole (possibly huge) upload into memory."""
    while chunk := await file.read(UPLOAD_CHUNK):
        yield chunk


class AttachState(ChatBase, mixin=True):
    pending: list[dict[str, str]] = []  # attachments uploaded for the next message
    uploading: bool = False
    upload_percent: int = 0

    @rx.var
    def has_pending(self) -> bool:
        return bool(self.pending)

    @rx.event
    async def attach(self, files: list[rx.UploadFile]) -> None:
        """Files picked or dropped in the composer."""
        self.uploading = False
        try:
            services, context = await self._context()
        except ChatKitAppError as exc:
            self.error = exc.message
            return
        problems = []
        for file in files:
            name = str(file.name or file.filename or "file")
            mime = file.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
            size = file.size if file.size is not None else 0
            created: dict[str, Any] = {}
            try:
                created = await call(services, context, "attachments.create", name=name, size=size, mime_type=mime)
                stored = await services.attachments.store_upload(
                    created["id"], _chunks(file), "application/octet-stream", context
                )
            except ChatKitAppError as exc:
                problems.append(f"{name}: {exc.message}")
                if created:
                    await call(services, context, "attachments.delete", attachment_id=created["id"])
                continue
            self.pending = [*self.pending, chip(stored.model_dump(mode="json"))]
        self.error = " ".join(problems)
        self.uploading = False

    @rx.event
    def upload_progress(self, progress: dict[str, Any]) -> None:
        fraction = float(progress.get("progress", 0))
        self.uploading, self.upload_percent = fraction < 1, int(fraction * 100)

    @rx.event
    def upload_rejected(self, files: list[Any]) -> None:
        """The browser refused files before uploading them (size or type limits)."""
        self.error = f"Not attached: {len(files)} file(s) over the size limit or of a type that is not allowed."

    @rx.event
    async def remove_attachment(self, attachment_id: str) -> None:
        self.pending = [a for a in self.pending if a["id"] != attachment_id]
        try:
            services, context = await self._context()
            await call(services, context, "attachments.delete", attachment_id=attachment_id)
        except ChatKitAppError:
            pass  # never sent: the hourly sweep removes it anyway
