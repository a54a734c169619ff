"""Attachments waiting in the composer: uploaded through the same two phases as ChatKit's
(size limit and type sniffing included) and kept for the next message."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from typing import Any

import reflex as rx

from chatkit_app.errors import ChatKitAppError
from chatkit_app.settings import get_settings
from chatkit_app.ui.native.attach_rules import bounded, browser_limits, browser_refusals, limits_of, over_count
from chatkit_app.ui.native.chat_base import ChatBase
from chatkit_app.ui.native.message_model import Attachment
from chatkit_app.ui.native.protocol import call
from chatkit_app.ui.native.window import chip
from chatkit_app.ui.state import ChatSessionState, upload_visitor

UPLOAD_CHUNK = 64 * 1024


async def _chunks(file: rx.UploadFile) -> AsyncIterator[bytes]:
    """The file in pieces: the size limit is enforced while reading, never after
    loading a whole (possibly huge) upload into memory."""
    while chunk := await file.read(UPLOAD_CHUNK):
        yield chunk


class AttachState(ChatBase, mixin=True):
    pending: list[Attachment] = []  # attachments uploaded for the next message
    uploading: bool = False
    upload_percent: int = 0
    refused: list[str] = []  # why files were not attached, one line each, until dismissed
    # The workflow's limits as the browser checks them (`_adopt_limits`, on load).
    attach_enabled: bool = True
    attach_accept: dict[str, list[str]] = {}
    attach_largest: int = 0
    attach_sizes: dict[str, int] = {}
    attach_hint: str = ""

    @rx.var
    def has_pending(self) -> bool:
        return bool(self.pending)

    def _adopt_limits(self, ui: dict[str, Any]) -> None:
        settings = get_settings()
        shown = browser_limits(limits_of(ui, settings), settings.chatkit_max_upload_bytes)
        self.attach_enabled, self.attach_accept, self.attach_largest = shown.enabled, shown.accept, shown.largest
        self.attach_sizes, self.attach_hint = shown.sizes, shown.hint

    async def _limits(self) -> Any:
        return limits_of((await self.get_state(ChatSessionState)).workflow_ui, get_settings())

    @rx.event
    def dismiss_refused(self) -> None:
        self.refused = []

    @rx.event
    async def attach(self, files: list[rx.UploadFile]) -> None:
        """Files picked or dropped in the composer (the browser checked them first; the
        store checks again, by the bytes); a refused one gets a line saying why."""
        self.uploading = False
        try:
            with upload_visitor(self):  # the upload request's own visitor (the state keeps no cookie)
                services, context = await self._context()
        except ChatKitAppError as exc:
            self.error = exc.message
            return
        names = [str(file.name or file.filename or "file") for file in files]
        fitting, problems = over_count(names, len(self.pending), await self._limits())
        for file, name in zip(files[: len(fitting)], fitting, strict=True):
            mime = file.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
            size = file.size if file.size is not None else 0
            created: dict[str, Any] = {}
            try:
                created = await call(services, context, "attachments.create", name=name, size=size, mime_type=mime)
                stored = await services.attachments.store_upload(
                    created["id"], _chunks(file), "application/octet-stream", context
                )
            except ChatKitAppError as exc:
                problems.append(exc.message if exc.message.startswith(f"{name}:") else f"{name}: {exc.message}")
                if created:
                    await call(services, context, "attachments.delete", attachment_id=created["id"])
                continue
            self.pending = [*self.pending, chip(stored.model_dump(mode="json"))]
        self.refused = bounded([*self.refused, *problems])
        self.uploading = False

    @rx.event
    def upload_progress(self, progress: dict[str, Any]) -> None:
        fraction = float(progress.get("progress", 0))
        self.uploading, self.upload_percent = fraction < 1, int(fraction * 100)

    @rx.event
    async def upload_rejected(self, rejections: list[Any]) -> None:
        """The browser refused files before uploading them (type, size, count)."""
        self.refused = bounded([*self.refused, *browser_refusals(rejections, await self._limits())])

    @rx.event
    async def remove_attachment(self, attachment_id: str) -> None:
        self.pending = [a for a in self.pending if a.id != attachment_id]
        try:
            services, context = await self._context()
            await call(services, context, "attachments.delete", attachment_id=attachment_id)
        except ChatKitAppError:
            pass  # never sent: the hourly sweep removes it anyway
