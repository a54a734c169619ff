"""A loopback fake of OpenAI's streaming model APIs and hosted ChatKit sessions, served
over real HTTP by uvicorn.

`POST /v1/responses` streams Responses API events (`event:` + `data:` SSE frames, the
shapes of `openai.types.responses.ResponseStreamEvent`); `POST /v1/chat/completions`
streams `chat.completion.chunk` lines and `data: [DONE]`; without `stream: true` each answers
one JSON object instead (tests/fakes/model_replies.py). `POST /v1/chatkit/sessions` and
`POST /v1/chatkit/sessions/{id}/cancel` answer `openai.types.beta.chatkit.ChatSession`
objects (and, like OpenAI, refuse calls without `OpenAI-Beta: chatkit_beta=v1`). Each test
sets a `FakeBehavior` (text, pacing, failure mode) and reads back the `RecordedRequest`s.

With `FakeBehavior.tool_calls` (`ToolRule`s, see tests/fakes/tool_rules.py) the fake answers
with function calls instead, in both APIs' streaming shapes, so an Agents SDK run executes
the tool (or a handoff) and calls the model again; that next answer is the text, in which
`TOOL_OUTPUT` stands for the last tool output.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.model_replies import chat_completion_reply, response_reply
from tests.fakes.model_streams import FailedStream, chat_chunks, response_events, split_tokens
from tests.fakes.openai_payloads import chat_session, response_object
from tests.fakes.tool_rules import TOOL_OUTPUT, ToolRule

__all__ = [
    "TOOL_OUTPUT",
    "FakeBehavior",
    "FakeOpenAI",
    "RecordedRequest",
    "ToolRule",
    "chat_session",
    "response_object",
    "running_fake",
    "split_tokens",
]


@dataclass
class FakeBehavior:
    text: str = "Hello from the fake model. It streams a few words."
    tokens: int | None = None  # split `text` into this many deltas (default: one per word)
    delay: float = 0.0  # seconds before each delta
    status: int | None = None  # answer with this HTTP error instead of a stream
    retry_after: int | None = None  # Retry-After header sent with `status`
    error_message: str = "The fake model server failed."
    fail_times: int | None = None  # apply `status` to the first N requests only (None: all)
    hang: bool = False  # accept the request and never send headers
    hang_after: int | None = None  # send N deltas, then go silent (connection stays open)
    cut_after: int | None = None  # send N deltas, then drop the connection mid-body
    malformed_after: int | None = None  # send N deltas, then a frame that is not JSON
    failed_after: int | None = None  # send N deltas, then an in-stream error (response.failed / error chunk)
    linger_after_done: bool = False  # keep the connection open after `data: [DONE]` (Chat Completions)
    malformed: bool = False  # chatkit sessions: answer a body that is not JSON
    drop_client_secret: bool = False  # chatkit sessions: answer a session without client_secret
    cancel_status: int | None = None  # chatkit sessions: answer cancels with this HTTP error
    tool_calls: list[ToolRule] = field(default_factory=list)  # answer with function calls when one matches
    parallel_tool_calls: bool = False  # every matching rule in one answer (default: the first only)


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class _CutConnection(Exception):
    """Raised inside a streaming body so uvicorn aborts the connection mid-response."""


class _MalformedFrame(Exception):
    pass


class _QuietCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _CutConnection))


@dataclass
class FakeOpenAI:
    behavior: FakeBehavior = field(default_factory=FakeBehavior)
    requests: list[RecordedRequest] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _release: asyncio.Event | None = None
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)  # hosted sessions by id

    def session_requests(self, suffix: str = "/chatkit/sessions") -> list[RecordedRequest]:
        """Recorded hosted-session calls: creates by default, `"/cancel"` for cancels."""
        return [r for r in self.requests if r.path.startswith("/v1/chatkit/sessions") and r.path.endswith(suffix)]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        app = Starlette(
            routes=[
                Route("/v1/responses", self._responses, methods=["POST"]),
                Route("/v1/chat/completions", self._chat_completions, methods=["POST"]),
                Route("/v1/chatkit/sessions", self._create_session, methods=["POST"]),
                Route("/v1/chatkit/sessions/{session_id}/cancel", self._cancel_session, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        logging.getLogger("uvicorn.error").addFilter(_QuietCuts())
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake OpenAI server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- request handling -------------------------------------------------------------

    async def _record(self, request: Request) -> tuple[dict[str, Any], Response | None]:
        if self._release is None:
            self._loop = asyncio.get_running_loop()
            self._release = asyncio.Event()
        body = json.loads(await request.body() or b"{}")
        self.requests.append(RecordedRequest(request.url.path, dict(request.headers), body))
        b = self.behavior
        failing = b.fail_times is None or len(self.requests) <= b.fail_times
        if b.status is not None and failing:
            headers = {"retry-after": str(b.retry_after)} if b.retry_after is not None else {}
            kind = "rate_limit_exceeded" if b.status == 429 else "server_error"
            payload = {"error": {"message": b.error_message, "type": kind, "param": None, "code": None}}
            return body, JSONResponse(payload, status_code=b.status, headers=headers)
        if b.hang:
            await self._release.wait()
            return body, Response(status_code=503)
        return body, None

    async def _paced(self, pieces: list[str]) -> AsyncIterator[tuple[int, str]]:
        """Yields (index, piece), applying the delay and the mid-stream failure modes."""
        b = self.behavior
        for index, piece in enumerate(pieces):
            if b.delay:
                await asyncio.sleep(b.delay)
            for limit, action in self._failures():
                if limit is not None and index == limit:
                    await self._fail_mid_stream(action)
            yield index, piece
        for limit, action in self._failures():
            if limit is not None and limit >= len(pieces):
                await self._fail_mid_stream(action)

    def _failures(self) -> list[tuple[int | None, str]]:
        b = self.behavior
        return [(b.cut_after, "cut"), (b.hang_after, "hang"), (b.malformed_after, "bad"), (b.failed_after, "failed")]

    async def _fail_mid_stream(self, action: str) -> None:
        if action == "hang":
            assert self._release is not None
            await self._release.wait()
        if action in ("cut", "hang"):
            raise _CutConnection
        raise _MalformedFrame if action == "bad" else FailedStream

    async def _create_session(self, request: Request) -> Response:
        body, failure = await self._record(request)
        if failure is not None:
            return failure
        if request.headers.get("openai-beta") != "chatkit_beta=v1":
            return _error(400, "Missing the OpenAI-Beta: chatkit_beta=v1 header.")
        if self.behavior.malformed:
            return Response(b'{"id": "cksess_', media_type="application/json")
        session = chat_session(body)
        self.sessions[session["id"]] = session
        answer = {k: v for k, v in session.items() if k != "client_secret" or not self.behavior.drop_client_secret}
        return JSONResponse(answer)

    async def _cancel_session(self, request: Request) -> Response:
        _, failure = await self._record(request)
        if failure is not None:
            return failure
        if request.headers.get("openai-beta") != "chatkit_beta=v1":
            return _error(400, "Missing the OpenAI-Beta: chatkit_beta=v1 header.")
        if self.behavior.cancel_status is not None:
            return _error(self.behavior.cancel_status, "The fake could not cancel the session.")
        session = self.sessions.get(request.path_params["session_id"])
        if session is None:
            return _error(404, "No such session.")
        session["status"] = "cancelled"
        return JSONResponse(session)

    async def _responses(self, request: Request) -> Response:
        body, failure = await self._record(request)
        if failure is not None:
            return failure
        if not body.get("stream"):
            return JSONResponse(response_reply(body, self.behavior))
        events = response_events(body, self.behavior, self._paced)
        return StreamingResponse(_frames(events), media_type="text/event-stream")

    async def _chat_completions(self, request: Request) -> Response:
        body, failure = await self._record(request)
        if failure is not None:
            return failure
        if not body.get("stream"):
            return JSONResponse(chat_completion_reply(body, self.behavior))
        return StreamingResponse(_frames(self._chat_stream(body)), media_type="text/event-stream")

    async def _chat_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any] | str]:
        async for frame in chat_chunks(body, self.behavior, self._paced):
            yield frame
        if self.behavior.linger_after_done:  # keep the connection open after `data: [DONE]`
            assert self._release is not None
            await self._release.wait()


async def _frames(events: AsyncIterator[dict[str, Any] | str]) -> AsyncIterator[bytes]:
    try:
        async for data in events:
            if isinstance(data, str):
                yield f"data: {data}\n\n".encode()
            elif "sequence_number" in data:  # Responses API frames name their event
                yield f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()
            else:
                yield f"data: {json.dumps(data)}\n\n".encode()
    except _MalformedFrame:
        yield b'data: {"type": "response.output_text.delta", "delta": \n\n'


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}, status
    )


def running_fake(behavior: FakeBehavior | None = None) -> Iterator[FakeOpenAI]:
    """For a pytest fixture: `yield from running_fake()`."""
    fake = FakeOpenAI(behavior=behavior or FakeBehavior()).start()
    try:
        yield fake
    finally:
        fake.stop()
