"""ASGI factories for the benchmarks, served with `uvicorn --factory bench._apps:<name>`.

- `ours()`: the project's real FastAPI app (`chatkit_app.api.app.create_api()`) with
  services built from the environment (`CHATKIT_DATA_DIR`, `CHATKIT_SECRET`,
  `CHATKIT_API_KEY`), built eagerly so an open port means a migrated database.
- `floor()`: the least any correct issuance endpoint must do: bearer check with
  `hmac.compare_digest`, JSON parse, HS256 JWT encode (pyjwt), one raw `sqlite3` INSERT
  (autocommit, WAL, `synchronous=NORMAL`, same table in `$CHATKIT_DATA_DIR/chatkit.db`)
  and a 201 JSON session object.
- `fake_model()` (for `bench.streaming`): a minimal loopback model server speaking the
  OpenAI Responses API's streaming SSE (`event:` + `data:` frames that the openai SDK
  parses), pacing `BENCH_FAKE_TOKENS` text deltas `BENCH_FAKE_DELAY_MS` apart on a fixed
  schedule. The text is `fake_text(nonce)`, the nonce being the first `nonce-<hex>` found
  in the request body, so a client can check every stream's text exactly.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import re
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from tests.fakes.openai_server import response_object  # the one shape of a Responses object

SESSION_PATH = "/api/chatkit/session"
TOKEN_TYPE = "chatkit-session+jwt"
TOKEN_TTL_SECONDS = 3600
MAX_AGE_SECONDS = 86400
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# Same table as chatkit_app/migrations/versions/0001_sessions.py.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS chatkit_session (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(128) NOT NULL,
    workflow_id VARCHAR(128) NOT NULL,
    metadata JSON NOT NULL,
    current_jti VARCHAR(64) NOT NULL,
    created_at BIGINT NOT NULL,
    token_expires_at BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    refreshed_at BIGINT,
    refresh_count INTEGER DEFAULT '0' NOT NULL,
    revoked_at BIGINT,
    revoked_reason VARCHAR(64)
);
CREATE INDEX IF NOT EXISTS ix_chatkit_session_user_id ON chatkit_session (user_id);
"""
_INSERT = (
    "INSERT INTO chatkit_session (id, user_id, workflow_id, metadata, current_jti, created_at,"
    " token_expires_at, absolute_expires_at, refresh_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)"
)


def ours() -> ASGIApp:
    from chatkit_app.api.app import create_api
    from chatkit_app.services import get_services

    get_services()
    return create_api()


def _error(status: int, code: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": code}}, status_code=status)


def floor() -> ASGIApp:
    secret = os.environ["CHATKIT_SECRET"].encode()
    api_key = os.environ["CHATKIT_API_KEY"].encode()
    data_dir = Path(os.environ["CHATKIT_DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = sqlite3.connect(data_dir / "chatkit.db", isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)

    async def create_session(request: Request) -> JSONResponse:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), api_key):
            return _error(401, "invalid_api_key")
        try:
            body: Any = json.loads(await request.body())
        except ValueError:
            return _error(400, "invalid_json")
        user_id = body.get("userId") if isinstance(body, dict) else None
        if not isinstance(user_id, str) or not user_id:
            return _error(422, "validation_error")
        workflow_id = body.get("workflowId") or "assistant"
        now = int(time.time())
        session_id, jti = "cks_" + secrets.token_urlsafe(24), secrets.token_urlsafe(16)
        expires_at = now + TOKEN_TTL_SECONDS
        claims = {
            "iss": "chatkit_app",
            "aud": "chatkit",
            "sub": user_id,
            "sid": session_id,
            "wid": workflow_id,
            "jti": jti,
            "iat": now,
            "nbf": now,
            "exp": expires_at,
        }
        token = jwt.encode(claims, secret, algorithm="HS256", headers={"typ": TOKEN_TYPE})
        db.execute(_INSERT, (session_id, user_id, workflow_id, "{}", jti, now, expires_at, now + MAX_AGE_SECONDS))
        session = {
            "sessionId": session_id,
            "token": token,
            "tokenType": "Bearer",
            "expiresAt": datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "expiresIn": TOKEN_TTL_SECONDS,
            "userId": user_id,
            "workflowId": workflow_id,
            "metadata": {},
            "chatkit": {"mode": "self-hosted", "apiUrl": "/api/chatkit"},
        }
        return JSONResponse(session, status_code=201, headers=NO_STORE)

    return Starlette(routes=[Route(SESSION_PATH, create_session, methods=["POST"])])


# --------------------------------------------------------------------------- fake model

_NONCE = re.compile(rb"nonce-[0-9a-f]{8,32}")
# Characters that JSON or SSE framing must carry intact: quotes, backslashes, newlines,
# tabs, non-ASCII, astral-plane emoji (surrogate pairs in JSON), markup.
_SPICE = ("", " ", '"', "\\", "\n", "é", "\t", "😀", "</b>", "ñ", "  ", "日本", "\r\n", "{}")


def fake_tokens(nonce: str, count: int) -> list[str]:
    """The deltas the fake model streams for `nonce`: all distinct, so any loss,
    duplication or reordering changes their concatenation."""
    return [f"{nonce} "] + [f"w{index}{_SPICE[index % len(_SPICE)]} " for index in range(1, count)]


def fake_text(nonce: str, count: int) -> str:
    return "".join(fake_tokens(nonce, count))


def _sse(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def fake_model() -> ASGIApp:
    count = int(os.environ.get("BENCH_FAKE_TOKENS", "200"))
    delay = float(os.environ.get("BENCH_FAKE_DELAY_MS", "5")) / 1000

    async def responses(request: Request) -> Response:
        raw = await request.body()
        found = _NONCE.search(raw)
        nonce = found.group().decode() if found else "nonce-none"
        try:
            body = json.loads(raw)
            model = str(body.get("model", ""))
        except ValueError:
            return _error(400, "invalid_json")
        if _wants_tool_call(body):
            return StreamingResponse(_tool_call(nonce, model), media_type="text/event-stream")
        return StreamingResponse(_stream(nonce, model), media_type="text/event-stream")

    async def _stream(nonce: str, model: str) -> AsyncIterator[bytes]:
        tokens = fake_tokens(nonce, count)
        text = "".join(tokens)
        response_id, item_id = "resp_" + secrets.token_hex(16), "msg_" + secrets.token_hex(16)
        seq = 0

        def event(kind: str, **data: Any) -> bytes:
            nonlocal seq
            seq += 1
            return _sse(kind, {"type": kind, "sequence_number": seq - 1, **data})

        def message(status: str, content: list[Any]) -> dict[str, Any]:
            return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}

        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        done_part = {**part, "text": text}
        where = {"item_id": item_id, "output_index": 0, "content_index": 0}

        def snapshot(status: str, output: list[Any], tokens: int) -> dict[str, Any]:
            return response_object(response_id, {"model": model}, status, output, tokens)

        yield (
            event("response.created", response=snapshot("in_progress", [], 0))
            + event("response.in_progress", response=snapshot("in_progress", [], 0))
            + event("response.output_item.added", output_index=0, item=message("in_progress", []))
            + event("response.content_part.added", part=part, **where)
        )
        # Deltas on a fixed schedule (token i due at start + (i+1) * delay), as a model
        # generating at a steady rate; a late fake catches up instead of drifting.
        head = f'event: response.output_text.delta\ndata: {{"type":"response.output_text.delta","item_id":"{item_id}",'
        head += '"output_index":0,"content_index":0,"logprobs":[],"sequence_number":'
        loop = asyncio.get_running_loop()
        due = loop.time()
        for token in tokens:
            due += delay
            await asyncio.sleep(max(0.0, due - loop.time()))
            yield f'{head}{seq},"delta":{json.dumps(token)}}}\n\n'.encode()
            seq += 1
        final = message("completed", [done_part])
        yield (
            event("response.output_text.done", text=text, logprobs=[], **where)
            + event("response.content_part.done", part=done_part, **where)
            + event("response.output_item.done", output_index=0, item=final)
            + event(
                "response.completed",
                response=snapshot("completed", [final], count),
            )
        )

    return Starlette(routes=[Route("/v1/responses", responses, methods=["POST"])])


TOOL_NAME = "bench_lookup"  # the fake calls it once per answer when a request offers it


def _wants_tool_call(body: dict[str, Any]) -> bool:
    offered = any(tool.get("name") == TOOL_NAME for tool in body.get("tools") or [])
    answered = any(
        isinstance(item, dict) and item.get("type") == "function_call_output" for item in body.get("input") or []
    )
    return offered and not answered


async def _tool_call(nonce: str, model: str) -> AsyncIterator[bytes]:
    """A whole function-call response at once (a model deciding to call a tool)."""
    response_id, item_id = "resp_" + secrets.token_hex(16), "fc_" + secrets.token_hex(16)
    arguments = json.dumps({"query": nonce})
    call = {"type": "function_call", "id": item_id, "call_id": "call_" + secrets.token_hex(12), "name": TOOL_NAME}
    events = [
        ("response.created", {"response": response_object(response_id, {"model": model}, "in_progress", [], 0)}),
        ("response.output_item.added", {"output_index": 0, "item": {**call, "arguments": "", "status": "in_progress"}}),
        ("response.function_call_arguments.delta", {"item_id": item_id, "output_index": 0, "delta": arguments}),
        ("response.function_call_arguments.done", {"item_id": item_id, "output_index": 0, "arguments": arguments}),
    ]
    done = {**call, "arguments": arguments, "status": "completed"}
    events.append(("response.output_item.done", {"output_index": 0, "item": done}))
    events.append(
        ("response.completed", {"response": response_object(response_id, {"model": model}, "completed", [done], 8)})
    )
    yield b"".join(_sse(kind, {"type": kind, "sequence_number": n, **data}) for n, (kind, data) in enumerate(events))
