"""The outermost layers (`chatkit_app/shell.py`): CORS for `/api/chatkit*` only for the
allowlist, in front of the `*` that Reflex's own CORS middleware answers; and request
bodies that stop arriving cut with 408, on a real server over a raw socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from chatkit_app.api.app import create_api
from chatkit_app.api.body_timeout import BodyTimeout
from chatkit_app.api.cors import ApiCors
from chatkit_app.services import Services
from tests.conftest import api_key_headers
from tests.live_server import serve, stalled_request

PARTNER = "https://partner.example.com"
FRONTEND = "http://localhost:3000"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}


def reflex_like(services: Services) -> ASGIApp:
    """Our API inside Starlette's CORS middleware configured as Reflex configures it
    by default (every origin, credentials allowed), then our CORS layer outside."""

    async def ping(_request: Request) -> Response:
        return PlainTextResponse("pong")

    inner = Starlette(routes=[Route("/ping", ping), Mount("/", create_api(lambda: services))])
    inner.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_credentials=True, allow_methods=["*"], allow_headers=["*"]
    )
    return ApiCors(inner, origins=[PARTNER], public_url="https://chat.example.com/", frontend_origin=lambda: FRONTEND)


async def call(app: ASGIApp, method: str, path: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        return await http.request(method, path, headers=headers)


def access_control(response: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


async def test_preflights_are_answered_for_the_allowlist_only(services: Services) -> None:
    app = reflex_like(services)
    for origin in (PARTNER, FRONTEND, "https://chat.example.com"):
        answer = await call(app, "OPTIONS", "/api/chatkit", Origin=origin, **PREFLIGHT)
        assert answer.status_code == 204, origin
        assert answer.headers["access-control-allow-origin"] == origin
        assert "authorization" in answer.headers["access-control-allow-headers"]
        assert "access-control-allow-credentials" not in answer.headers
    for origin in ("https://evil.example", "null", "http://localhost:3001", PARTNER + ".evil.example"):
        refused = await call(app, "OPTIONS", "/api/chatkit/session", Origin=origin, **PREFLIGHT)
        assert refused.status_code == 403 and access_control(refused) == {}, origin


async def test_api_responses_never_carry_reflexs_wildcard(services: Services) -> None:
    app = reflex_like(services)
    evil = await call(app, "POST", "/api/chatkit/session", Origin="https://evil.example", **api_key_headers())
    assert evil.status_code == 422  # no body; the point is the headers
    assert access_control(evil) == {} and evil.headers["vary"] == "Origin"
    partner = await call(app, "GET", "/api/chatkit/workflows/assistant", Origin=PARTNER, **api_key_headers())
    assert partner.status_code == 200
    assert access_control(partner) == {
        "access-control-allow-origin": PARTNER,
        "access-control-expose-headers": "Retry-After, WWW-Authenticate",
    }
    # Reflex's own routes keep Reflex's behaviour
    ping = await call(app, "GET", "/ping", Origin="https://evil.example")
    assert ping.headers["access-control-allow-origin"] == "https://evil.example"


async def test_a_stalled_body_gets_408_and_a_complete_one_goes_through(services: Services) -> None:
    app = BodyTimeout(create_api(lambda: services), seconds=0.5)
    with serve(app) as url:
        head = (
            "POST /api/chatkit/session HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {api_key_headers()['Authorization']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )
        answer, took = await asyncio.to_thread(stalled_request, url, head, b'{"userId": "ha', 20)
        assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer
        assert b"connection: close" in answer.lower()
        assert 0.4 <= took < 10
        async with httpx.AsyncClient(base_url=url) as http:
            created = await http.post("/api/chatkit/session", json={"userId": "alice"}, headers=api_key_headers())
        assert created.status_code == 201


async def test_a_long_answer_after_the_body_is_not_cut() -> None:
    async def slow(request: Request) -> Response:
        body = await request.body()

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                await asyncio.sleep(0.3)  # the answer outlives the body timeout
                yield body

        return StreamingResponse(chunks())

    with serve(BodyTimeout(Starlette(routes=[Route("/", slow, methods=["POST"])]), seconds=0.5)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            answer = await http.post("/", content=b"ab")
    assert answer.status_code == 200 and answer.content == b"abababab"


async def test_a_body_that_stalls_after_the_answer_started_drops_the_connection() -> None:
    async def echo(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"started;"
            async for chunk in request.stream():
                yield chunk

        return StreamingResponse(chunks())

    with serve(BodyTimeout(Starlette(routes=[Route("/", echo, methods=["POST"])]), seconds=0.5)) as url:
        head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
        answer, took = await asyncio.to_thread(stalled_request, url, head, b"half", 20)
    assert answer.startswith(b"HTTP/1.1 200") and b"started;" in answer
    assert not answer.endswith(b"0\r\n\r\n")  # no clean end of the chunked body: the connection was dropped
    assert took < 10
