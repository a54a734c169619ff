"""With sign-in required (CHATKIT_AUTH=oidc or header), nothing of the app reaches a
visitor who is not signed in: pages redirect to sign-in, Reflex's event socket and its
upload route refuse the connection (401), before any handler runs. `/api/chatkit*` has
its own bearer tokens; `/auth/*`, health checks and static build files stay open.

Anonymous mode needs no gate: every visitor is someone (their cookie) and every handler
decides who from the cookie, per event.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from chatkit_app.auth.visitor import identify
from chatkit_app.net import headers_of
from chatkit_app.services import Services, get_services
from chatkit_app.urls import backend_base, with_next

GUARDED_PREFIXES = ("/_event", "/_upload")
OPEN_PREFIXES = ("/api/", "/auth/", "/ping", "/_health", "/healthz", "/readyz", "/metrics", "/_next/", "/assets/")


def _is_page(path: str) -> bool:
    """A page route (HTML), not a build file such as `/favicon.ico` or `/_next/x.js`."""
    last = path.rsplit("/", 1)[-1]
    return not path.startswith(OPEN_PREFIXES) and not path.startswith("/_") and "." not in last


class SignInGate:
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
        visitor = await identify(services, headers_of(scope.get("headers", [])), client[0] if client else None)
        if visitor is not None:
            await self.app(scope, receive, send)
            return
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 4401})
            return
        if page:
            query = scope.get("query_string", b"").decode("latin-1")
            target = backend_base(services.settings) + with_next("/auth/login", path + (f"?{query}" if query else ""))
            headers = [(b"location", target.encode()), (b"cache-control", b"no-store")]
            await send({"type": "http.response.start", "status": 303, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = b'{"error":{"code":"missing_credentials","message":"Sign in first."}}'
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def sign_in_gate(app: ASGIApp) -> ASGIApp:
    """`api_transformer` step: the gate when sign-in is required, else the app as is."""
    from chatkit_app.settings import get_settings

    return app if get_settings().chatkit_auth == "anonymous" else SignInGate(app)
