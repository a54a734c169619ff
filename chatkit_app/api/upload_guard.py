"""A guard in front of Reflex's upload route (`POST /_upload`).

Reflex parses an upload's whole multipart body (spooling files to temporary files on disk)
before any handler runs, so anyone could make the server write a 300 MB body to disk, with
a made-up client token. This ASGI step refuses, before Reflex reads a byte:

- a declared `Content-Length` over the limit (413);
- a `reflex-client-token` that is not a client currently connected to this app (403):
  only an open page of the site may upload;

and counts the bytes while they stream in: once over the limit (a chunked body, or one
that lies), Reflex is told the client went away and the answer is 413. So no more than
the limit (`CHATKIT_MAX_UPLOAD_BYTES` plus a small allowance for the multipart framing)
is ever written for one request.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatkit_app.fast_paths.plain_internals import connected_token_check

MULTIPART_ALLOWANCE = 64 * 1024  # boundaries, part headers, Reflex's own small form fields

TokenCheck = Callable[[str], Awaitable[bool]]


async def is_connected_client(event_namespace: Any, token: str) -> bool:
    """Whether `token` is a client with an open websocket (on any worker, with Redis).

    Reflex has no public way to ask: its token manager is a private name
    (`plain_internals.connected_token_check`). Fails closed: without it, no upload is allowed."""
    check = connected_token_check(event_namespace)
    if check is None or not token:
        return False
    return bool(await check(token))


class UploadGuard:
    def __init__(self, app: ASGIApp, *, path: str, limit: int, is_connected: TokenCheck) -> None:
        self.app = app
        self.path = path
        self.limit = limit
        self.is_connected = is_connected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _refuse(send, 413, "payload_too_large", f"An upload is limited to {self.limit} bytes.")
            return
        token = headers.get(b"reflex-client-token", b"").decode("latin-1")
        if not await self.is_connected(token):
            await _refuse(send, 403, "forbidden", "Uploads come from an open page of this site.")
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        over = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True  # Reflex sees a client that went away and stops reading
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # our 413 answers instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
        if over and not started:
            await _refuse(send, 413, "payload_too_large", f"An upload is limited to {self.limit} bytes.")


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def upload_guard(reflex_app: Callable[[], Any]) -> Callable[[ASGIApp], ASGIApp]:
    """`api_transformer` step; `reflex_app` gives the `rx.App` (its websocket namespace
    knows the connected clients) when the first upload arrives."""

    def install(app: ASGIApp) -> ASGIApp:
        from reflex.config import get_config
        from reflex.constants import Endpoint

        from chatkit_app.settings import get_settings

        async def is_connected(token: str) -> bool:
            return await is_connected_client(reflex_app().event_namespace, token)

        path = get_config().prepend_backend_path(str(Endpoint.UPLOAD)).rstrip("/")
        limit = get_settings().chatkit_max_upload_bytes + MULTIPART_ALLOWANCE
        return UploadGuard(app, path=path, limit=limit, is_connected=is_connected)

    return install
