"""Who may have the pages and Reflex's event socket, before any handler runs.

With sign-in required (CHATKIT_AUTH=oidc or header) nothing of the app reaches a visitor
who is not signed in: pages redirect to sign-in; Reflex's event socket and its upload
route refuse the connection (401). In anonymous mode a page request without a valid
identity cookie gets one minted with the page (HttpOnly, counted against
CHATKIT_LIMIT_IDENTITIES_PER_HOUR per address), so the socket that follows carries it.
`/api/chatkit*` has its own bearer tokens; `/auth/*`, health checks and static build files
stay open. Pages come from the backend only in production (`reflex run --env prod`); in
development the page's first event sends the visitor through `/auth/...` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatkit_app.auth.upload_visitors import holding
from chatkit_app.auth.visitor import identify, new_anonymous_cookie
from chatkit_app.errors import ChatKitAppError
from chatkit_app.net import headers_of
from chatkit_app.services import Services, get_services
from chatkit_app.urls import backend_base, frontend_base, with_next

GUARDED_PREFIXES = ("/_event", "/_upload")
OPEN_PREFIXES = ("/api/", "/auth/", "/ping", "/_health", "/healthz", "/readyz", "/metrics", "/_next/", "/assets/")


def _is_page(path: str) -> bool:
    """A page route (HTML), not a build file such as `/favicon.ico` or `/_next/x.js`."""
    last = path.rsplit("/", 1)[-1]
    return not path.startswith(OPEN_PREFIXES) and not path.startswith("/_") and "." not in last


class SignInGate:
    """The ASGI wrapper (see the module's docstring)."""

    def __init__(self, app: ASGIApp, services: Callable[[], Services] = get_services) -> None:
        self.app = app
        self._services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        kind = scope["type"]
        guarded = path.startswith(GUARDED_PREFIXES)
        page = kind == "http" and scope.get("method") in ("GET", "HEAD") and _is_page(path)
        if kind not in ("http", "websocket") or not (guarded or page):
            await self.app(scope, receive, send)
            return
        services = self._services()
        client = scope.get("client")
        peer = client[0] if client else None
        headers = headers_of(scope.get("headers", []))
        if guarded and not _same_site_origin(services, headers):
            # Another page (even on a sibling subdomain, where SameSite=Lax cookies still go)
            # must not drive a visitor's event socket or uploads with their cookie.
            await _refuse(kind, send, 403, b"forbidden", b"This page may not talk to the chat server.")
            return
        visitor = await identify(services, headers, peer)
        if visitor is not None:
            if kind == "http" and path.startswith("/_upload"):
                # Its handler sees no request headers: it takes the visitor from here.
                with holding(headers.get("reflex-client-token", ""), visitor):
                    await self.app(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if services.settings.chatkit_auth == "anonymous":
            if page:
                await self._mint(services, scope, receive, send, peer, headers)
            else:
                await self.app(scope, receive, send)  # each event handler decides, per event
            return
        if kind == "websocket":
            await _refuse(kind, send, 401, b"missing_credentials", b"Sign in first.")
            return
        if page and services.settings.chatkit_auth == "header":
            # Sign-in happens at the proxy: sending the visitor anywhere would only loop.
            from chatkit_app.api.auth_pages import page as auth_page

            header = services.settings.chatkit_auth_header
            message = f"This site signs you in through its proxy, and this request did not come with {header}."
            await auth_page("Not signed in", message, status=401)(scope, receive, send)
            return
        if page:
            query = scope.get("query_string", b"").decode("latin-1")
            target = backend_base(services.settings) + with_next("/auth/login", path + (f"?{query}" if query else ""))
            redirect = [(b"location", target.encode()), (b"cache-control", b"no-store")]
            await send({"type": "http.response.start", "status": 303, "headers": redirect})
            await send({"type": "http.response.body", "body": b""})
            return
        await _refuse(kind, send, 401, b"missing_credentials", b"Sign in first.")

    async def _mint(
        self, services: Services, scope: Scope, receive: Receive, send: Send, peer: str | None, headers: dict[str, str]
    ) -> None:
        """The page, with a new anonymous identity cookie (or a 429 page past the limit)."""
        try:
            cookie = await new_anonymous_cookie(services, peer, headers)
        except ChatKitAppError as exc:
            from chatkit_app.api.auth_pages import page

            await page("Too many new visitors", exc.message, status=exc.status)(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A page that sets an identity must never be cached and handed to someone else.
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _CACHE_HEADERS]
                extra = [(b"set-cookie", cookie.encode()), (b"cache-control", b"private, no-store")]
                message = {**message, "headers": [*kept, *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


_CACHE_HEADERS = {b"cache-control", b"etag", b"last-modified", b"expires"}


def _same_site_origin(services: Services, headers: dict[str, str]) -> bool:
    """No `Origin` (not a browser page) or one of ours: the host the request came to (a
    same-origin page), the public URL, the development frontend or CHATKIT_CORS_ORIGINS."""
    origin = headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    host = headers.get("host", "").lower()
    if host and origin in (f"http://{host}", f"https://{host}"):
        return True
    allowed = {value.rstrip("/").lower() for value in services.settings.cors_origins}
    for base in (services.settings.chatkit_public_url, frontend_base(services.settings)):
        if base:
            parts = urlsplit(base)
            allowed.add(f"{parts.scheme}://{parts.netloc}".lower())
    return origin in allowed


async def _refuse(kind: str, send: Send, status: int, code: bytes, message: bytes) -> None:
    if kind == "websocket":
        await send({"type": "websocket.close", "code": 4000 + status})
        return
    body = b'{"error":{"code":"' + code + b'","message":"' + message + b'"}}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def sign_in_gate(app: ASGIApp) -> ASGIApp:
    """`api_transformer` step."""
    return SignInGate(app)
