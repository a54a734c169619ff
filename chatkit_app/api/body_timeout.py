"""Cut request bodies that stop arriving.

A client that sends headers and half a body, then nothing, holds a connection, a task
and (for uploads) a temp file for as long as the server lets it. Neither Granian nor
Uvicorn bounds the time between body chunks, so this wraps `receive` for the whole
backend (our API and Reflex's own `/_upload` alike): while the body is incomplete, each
wait for the next chunk ends after `CHATKIT_BODY_TIMEOUT_SECONDS`. Then the client gets
408 (with `Connection: close`) if no response has started; otherwise the application is
told the client went away and the connection is dropped. Waiting for a disconnect after
the body is complete (streaming answers) is not limited.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTimedOut(Exception):
    """Raised after the application's response had started: the server drops the connection."""


class BodyTimeout:
    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False
        started = False
        timed_out = False

        async def guarded_receive() -> Message:
            nonlocal body_done, timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done:
                return await receive()  # e.g. a streaming answer waiting for a disconnect
            try:
                message = await asyncio.wait_for(receive(), self.seconds)
            except TimeoutError:
                timed_out = True
                if not started:
                    await _send_408(send, self.seconds)
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out and not started:
                return  # our 408 went out instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, guarded_receive, guarded_send)
        if timed_out and started:
            raise BodyTimedOut("request body stalled after the response started")


async def _send_408(send: Send, seconds: float) -> None:
    body = json.dumps(
        {"error": {"code": "request_timeout", "message": f"The request body did not arrive within {seconds:g} s."}}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send({"type": "http.response.body", "body": body})
