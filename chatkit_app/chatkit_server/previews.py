"""Signed image-preview URLs: an `<img>` tag cannot send the session token, so a preview
URL carries a signature made for one attachment, its owner and one of their sessions,
valid for a while (the caller still checks that the session is live)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from chatkit.types import ImageAttachment, ThreadItem
from pydantic import AnyUrl

from chatkit_app.core.context import RequestContext

API_PREFIX = "/api/chatkit/attachments"


@dataclass(frozen=True, slots=True)
class PreviewGrant:
    """What a valid, unexpired preview signature vouches for."""

    user_id: str
    session_id: str
    expires_at: int


class PreviewSigner:
    def __init__(self, signing_key: bytes, *, ttl_seconds: int = 3600, clock: Callable[[], float] = time.time) -> None:
        self._key = hashlib.sha256(b"chatkit-preview:" + signing_key).digest()
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def preview_url(self, attachment_id: str, context: RequestContext) -> str:
        expires_at = int(self._clock()) + self.ttl_seconds
        signature = self._sign(attachment_id, context.user_id, context.session_id, expires_at)
        return f"{context.base_url}{API_PREFIX}/{attachment_id}/preview?sig={signature}"

    def preview_owner(self, attachment_id: str, signature: str) -> PreviewGrant | None:
        """What a preview signature was made for, or None if it is not ours or expired."""
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
