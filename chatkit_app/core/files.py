"""What an agent may ask of the attachment storage: a file's bytes, for its owner only."""

from __future__ import annotations

from typing import Protocol

from chatkit_app.core.context import RequestContext


class AttachmentReader(Protocol):
    async def read_bytes(self, attachment_id: str, context: RequestContext, *, limit: int) -> bytes:
        """The stored bytes of one of `context`'s user's attachments; raises
        `chatkit.store.NotFoundError` for any other, and `PayloadTooLarge` over `limit`."""
        ...
