"""What every part of the native chat's state shares: the error line and the way to the
protocol (the session's request context). `NativeChatState` supplies `_context`."""

from __future__ import annotations

import reflex as rx

from chatkit_app.core.context import RequestContext
from chatkit_app.services import Services


class ChatBase(rx.State, mixin=True):
    error: str = ""

    async def _context(self) -> tuple[Services, RequestContext]:
        raise NotImplementedError  # NativeChatState's
