"""CORS for our API (`/api/chatkit*`): only `CHATKIT_CORS_ORIGINS` and the site's own
frontend origin may call it from a browser.

Reflex adds Starlette's `CORSMiddleware` with its config's `cors_allowed_origins` (default
`*`, and it echoes any origin with credentials allowed) around the whole backend, outside
every `api_transformer`. So this middleware has to sit outside Reflex's app (see
`chatkit_app/shell.py`): it answers preflights for our paths itself, and on our actual
responses it replaces whatever `Access-Control-*` headers Reflex's middleware wrote.
Reflex's own routes (`/_event`, `/_upload`, `/ping`) keep Reflex's CORS behaviour.

Our frontend origin: in development the page comes from the frontend server (Reflex's
`deploy_url`, e.g. http://localhost:3000) and calls the backend on another port with an
`Authorization` header; behind a public URL it is `CHATKIT_PUBLIC_URL`'s origin. In
production on one port the page is same-origin and needs no CORS at all. Credentials are
bearer tokens, never cookies, so `Access-Control-Allow-Credentials` is never sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatkit_app.api.security_headers import origin_of
from chatkit_app.net import headers_of

API_PREFIX = "/api/chatkit"
ALLOWED_METHODS = b"GET, POST, DELETE, OPTIONS"
MAX_AGE = b"600"
EXPOSED = b"Retry-After, WWW-Authenticate"


def reflex_frontend_origin() -> str | None:
    """Reflex's `deploy_url`, read per call: the test harness sets it once the frontend runs."""
    from reflex_base.config import get_config

    deploy_url = get_config().deploy_url
    return origin_of(deploy_url) if deploy_url else None


class ApiCors:
    def __init__(
        self,
        app: ASGIApp,
        *,
        origins: list[str],
        public_url: str | None,
        frontend_origin: Callable[[], str | None] = reflex_frontend_origin,
    ) -> None:
        self.app = app
        public = origin_of(public_url) if public_url else None
        self._fixed = {origin.lower() for origin in [*origins, *([public] if public else [])]}
        self._frontend_origin = frontend_origin

    def allows(self, origin: str) -> bool:
        origin = origin.lower()
        if origin in self._fixed:
            return True
        frontend = self._frontend_origin()
        return frontend is not None and origin == frontend.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        headers = headers_of(scope.get("headers", []))
        origin = headers.get("origin")
        allowed = origin is not None and self.allows(origin)
        if scope["method"] == "OPTIONS" and origin is not None and "access-control-request-method" in headers:
            await self._preflight(send, origin if allowed else None, headers)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                kept = [
                    (name, value)
                    for name, value in headers
                    if not name.lower().startswith(b"access-control-") and name.lower() != b"vary"
                ]
                kept.append((b"vary", _vary_with_origin(value for name, value in headers if name.lower() == b"vary")))
                if allowed and origin is not None:
                    kept.append((b"access-control-allow-origin", origin.encode()))
                    kept.append((b"access-control-expose-headers", EXPOSED))
                message = {**message, "headers": kept}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    async def _preflight(send: Send, origin: str | None, headers: dict[str, str]) -> None:
        response: list[tuple[bytes, bytes]] = [(b"vary", b"Origin"), (b"content-length", b"0")]
        if origin is None:
            await send({"type": "http.response.start", "status": 403, "headers": response})
        else:
            requested = headers.get("access-control-request-headers", "")
            response += [
                (b"access-control-allow-origin", origin.encode()),
                (b"access-control-allow-methods", ALLOWED_METHODS),
                (b"access-control-allow-headers", requested.encode("latin-1")),
                (b"access-control-max-age", MAX_AGE),
            ]
            await send({"type": "http.response.start", "status": 204, "headers": response})
        await send({"type": "http.response.body", "body": b""})


def _vary_with_origin(values: Iterable[bytes]) -> bytes:
    """One `Vary` with the response's own entries (Reflex repeats `Origin`) and `Origin`."""
    entries = [part.strip() for value in values for part in value.split(b",") if part.strip()]
    unique: dict[bytes, bytes] = {}
    for entry in [*entries, b"Origin"]:
        unique.setdefault(entry.lower(), entry)
    return b", ".join(unique.values())
