"""The outermost ASGI layer of the backend: request ids, request metrics, and the
operator's endpoints, served before the sign-in gate, the API and Reflex.

- `/healthz`: the process is alive (no I/O). `/readyz`: `readiness`, 200 or 503.
  `/metrics`: Prometheus text (`metrics.render`), behind `CHATKIT_METRICS_TOKEN` as a
  bearer token when set. None needs a session, and none is rate limited.
- Every request gets a request id (`logs.REQUEST_ID`, the `X-Request-ID` response header):
  a trusted proxy's (`CHATKIT_TRUSTED_PROXIES`), else a new one, so that nobody else can
  put their own text into our log lines or collide with another request's id.
- Every HTTP request is counted by method, route template (e.g.
  `/api/chatkit/session/{session_id}`, never the raw path) and status. The counting
  wraps `send` with a plain function (no extra coroutine per streamed chunk).
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatkit_app.api.app import api_routes
from chatkit_app.errors import error_envelope
from chatkit_app.net import Network, is_trusted
from chatkit_app.ops import metrics
from chatkit_app.ops.logs import REQUEST_ID, request_id_from
from chatkit_app.ops.readiness import Readiness, Report
from chatkit_app.services import Services, get_services

HEALTH, READY, METRICS = "/healthz", "/readyz", "/metrics"
OPS_PATHS = (HEALTH, READY, METRICS)
_KNOWN = ("/_event", "/_upload", "/_health", "/ping")


class OpsLayer:
    def __init__(self, app: ASGIApp, services: Callable[[], Services] = get_services) -> None:
        self.app = app
        self._services = services
        self.readiness = Readiness(services)
        self._trusted: list[Network] | None = None  # CHATKIT_TRUSTED_PROXIES, read on first use

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = request_id_from(given if given is not None and self._from_proxy(scope) else None)
        token = REQUEST_ID.set(request_id)
        try:
            if kind == "websocket":
                await self.app(scope, receive, send)
                return
            await self._http(scope, receive, send, request_id)
        finally:
            REQUEST_ID.reset(token)

    def _from_proxy(self, scope: Scope) -> bool:
        """Whether the peer is a trusted proxy. The networks are read once; a site whose
        services cannot be built yet trusts nobody (its /healthz still answers)."""
        if self._trusted is None:
            try:
                self._trusted = list(self._services().settings.trusted_proxies)
            except Exception:
                return False
        client = scope.get("client")
        return is_trusted(client[0] if client else None, self._trusted)

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        method, path = scope.get("method", "GET"), scope.get("path", "")
        status = [500]
        id_header = (b"x-request-id", request_id.encode())

        def observed(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            return send(message)

        try:
            if path in OPS_PATHS:
                await self._ops(path, method, scope, observed)
            else:
                await self.app(scope, receive, observed)
        finally:
            metrics.http_request(method, path if path in OPS_PATHS else route_of(scope), status[0])

    async def _ops(self, path: str, method: str, scope: Scope, send: Send) -> None:
        if method not in ("GET", "HEAD"):
            body = error_envelope("method_not_allowed", "Method Not Allowed")
            await _json(send, 405, body, method, [(b"allow", b"GET, HEAD")])
            return
        if path == HEALTH:
            await _json(send, 200, {"status": "ok"}, method)
            return
        settings = self._services().settings
        if path == READY:
            report = await self.readiness.report(settings.chatkit_ready_timeout_seconds)
            await _json(send, *_ready_response(report), method, [(b"retry-after", b"5")] if report.failed else [])
            return
        expected = settings.chatkit_metrics_token
        if expected is not None and not _bearer_matches(scope, expected.get_secret_value()):
            body = error_envelope("missing_credentials", "/metrics needs the metrics token (Authorization: Bearer).")
            await _json(send, 401, body, method, [(b"www-authenticate", b"Bearer")])
            return
        text = metrics.render()
        headers = [(b"content-type", metrics.CONTENT_TYPE.encode()), (b"cache-control", b"no-store")]
        await _send(send, 200, text, method, headers)


def route_of(scope: Scope) -> str:
    """The path template of the route that answered; a few fixed names for the rest
    (bounded). Starlette's router names the route in the scope; FastAPI's names only the
    endpoint for plain routes (ours), looked up in the API's routes."""
    template = _api_templates().get(scope.get("endpoint"))
    if template is not None:
        return template
    route = scope.get("route")
    matched = getattr(route, "path", None)
    if isinstance(matched, str) and matched and not isinstance(route, Mount):
        return matched
    path = str(scope.get("path", ""))
    for known in _KNOWN:
        if path == known or path.startswith(known + "/"):
            return known
    return "other"


@functools.cache
def _api_templates() -> dict[object, str]:
    return {route.endpoint: route.path for route in api_routes() if isinstance(route, Route)}


def _ready_response(report: Report) -> tuple[int, dict[str, Any]]:
    checks = {name: check.as_json() for name, check in report.checks.items()}
    if not report.failed:
        return 200, {"status": "ready", "checks": checks}
    named = ", ".join(f"{name} ({report.checks[name].error})" for name in report.failed)
    body = error_envelope("not_ready", f"Not ready: {named}.")
    return 503, {**body, "status": "unavailable", "failed": report.failed, "checks": checks}


def _bearer_matches(scope: Scope, expected: str) -> bool:
    given = _header(scope, b"authorization") or ""
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), expected.encode())


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _json(
    send: Send, status: int, body: dict[str, Any], method: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store"), *(extra or [])]
    await _send(send, status, json.dumps(body).encode(), method, headers)


async def _send(send: Send, status: int, body: bytes, method: str, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def ops_layer(app: ASGIApp) -> ASGIApp:
    """`api_transformer` step (the last: outermost)."""
    return OpsLayer(app)
