"""The Reflex app with our outermost ASGI layers around everything Reflex serves.

`api_transformer` steps run inside Reflex's own outer `CORSMiddleware` (which answers
preflights with its `cors_allowed_origins`, `*` by default) and cannot see requests
before it. Two policies must come first, so they wrap the ASGI app `rx.App` builds
(the server calls `app()` as a factory, and so does Reflex's test harness):

- `BodyTimeout`: a body that stops arriving is cut, for every route incl. `/_upload`;
- `ApiCors`: `/api/chatkit*` answers CORS for our allowlist only, never `*`.

Reflex's connection overlay (a pulsing icon and a "Cannot connect to server: … Check if
server is reachable at ws://…" toast) is left out: the page says itself what an outage
means for the visitor (`ui/native/connection_view.py`, the top bar's badge).

In production an event handler's exception is logged and answered with nothing
(`log_backend_error`): Reflex's default answer, an "An error occurred." toast sent as a
script, cannot run under the native UI's Content-Security-Policy (no `unsafe-eval`); the
page reported the refused script back as a frontend exception, and while Redis was down
that report failed too and brought the next toast: a tab and the server traded messages
without pause for as long as the outage lasted. A visitor learns nothing from that toast;
the chat says what went wrong its own way (banners, failure cards, `/readyz`). In
development (no CSP) Reflex's toast stays, with the exception for the developer.
"""

from __future__ import annotations

import logging
import traceback

import reflex as rx
from reflex.app import default_backend_exception_handler
from reflex.event import EventSpec
from starlette.types import ASGIApp

from chatkit_app.api.body_timeout import BodyTimeout
from chatkit_app.api.cors import ApiCors
from chatkit_app.settings import get_settings, is_production

logger = logging.getLogger(__name__)


def log_backend_error(exception: Exception) -> EventSpec | None:
    """Reflex's backend exception handler: in production the traceback to the log and
    nothing to the page; in development Reflex's own (log and toast)."""
    if not is_production():
        return default_backend_exception_handler(exception)
    logger.error("event handler failed:\n%s", "".join(traceback.format_exception(exception)).rstrip())
    return None


class ChatApp(rx.App):
    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[no-untyped-call]
        self.app_wraps[(5, "Overlay")] = lambda stateful: None

    def __call__(self) -> ASGIApp:
        settings = get_settings()
        inner = ApiCors(super().__call__(), origins=settings.cors_origins, public_url=settings.chatkit_public_url)
        return BodyTimeout(inner, seconds=settings.chatkit_body_timeout_seconds)
