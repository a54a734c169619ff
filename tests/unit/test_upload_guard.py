"""The guard in front of Reflex's `/_upload`: the private Reflex names it relies on still
exist, and a body over the limit is cut while it streams (in front of a real Starlette
route that reads the body the way Reflex does)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from reflex.app import EventNamespace
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatkit_app.api.upload_guard import UploadGuard, is_connected_client

LIMIT = 1000


async def test_reflex_still_has_the_token_manager_the_guard_asks() -> None:
    namespace = EventNamespace("/_event", app=None)  # type: ignore[arg-type]
    assert hasattr(namespace, "_token_manager"), "Reflex renamed EventNamespace._token_manager"
    assert await is_connected_client(namespace, "made-up") is False
    await namespace._token_manager.link_token_to_sid("tab-token", "sid-1")
    assert await is_connected_client(namespace, "tab-token") is True
    await namespace._token_manager.disconnect_token("tab-token", "sid-1")
    assert await is_connected_client(namespace, "tab-token") is False
    assert await is_connected_client(object(), "tab-token") is False  # names gone: closed


read_sizes: list[int] = []


async def _reader(request: Request) -> Response:
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
    except ClientDisconnect:
        read_sizes.append(size)
        return Response(status_code=200)  # what Reflex answers: an empty 200
    read_sizes.append(size)
    return JSONResponse({"read": size})


async def _connected(token: str) -> bool:
    return token == "good"


def _client() -> httpx.AsyncClient:
    inner = Starlette(routes=[Route("/_upload", _reader, methods=["POST"])])
    guard = UploadGuard(inner, path="/_upload", limit=LIMIT, is_connected=_connected)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://test")


async def _body(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 100):
        yield b"x" * 100


async def test_declared_length_over_the_limit_and_unknown_tokens_are_refused_unread() -> None:
    read_sizes.clear()
    async with _client() as client:
        big = await client.post("/_upload", content=b"x" * (LIMIT + 1), headers={"reflex-client-token": "good"})
        stranger = await client.post("/_upload", content=b"x" * 10, headers={"reflex-client-token": "made-up"})
        nobody = await client.post("/_upload", content=b"x" * 10)
        fine = await client.post("/_upload", content=b"x" * LIMIT, headers={"reflex-client-token": "good"})
    assert (big.status_code, big.json()["error"]["code"]) == (413, "payload_too_large")
    assert (stranger.status_code, nobody.status_code) == (403, 403)
    assert fine.json() == {"read": LIMIT}
    assert read_sizes == [LIMIT]  # the refused ones never reached the route


async def test_a_streamed_body_is_cut_once_over_the_limit() -> None:
    read_sizes.clear()
    async with _client() as client:
        cut = await client.post("/_upload", content=_body(100 * LIMIT), headers={"reflex-client-token": "good"})
    assert cut.status_code == 413
    assert read_sizes and read_sizes[0] <= LIMIT


async def test_other_routes_pass() -> None:
    async with _client() as client:
        assert (await client.get("/_upload")).status_code == 405
