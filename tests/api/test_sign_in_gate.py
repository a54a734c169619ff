"""With sign-in required, Reflex's event socket, its upload route and the pages give a
visitor who is not signed in nothing (`chatkit_app/auth/gate.py`); anonymous mode has no gate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from chatkit_app.auth.gate import SignInGate
from chatkit_app.auth.identity import ANON_COOKIE
from chatkit_app.auth.site_sessions import SITE_COOKIE
from chatkit_app.services import Services, build_services
from tests.conftest import make_settings


async def _inner(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"app:{request.url.path}")


async def _socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


APP = Starlette(
    routes=[
        Route("/{path:path}", _inner, methods=["GET", "POST"]),
        WebSocketRoute("/_event/", _socket),
    ]
)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build_services(
        make_settings(
            tmp_path, chatkit_auth="oidc", chatkit_oidc_issuer="http://127.0.0.1:9", chatkit_oidc_client_id="c"
        ),
        production=False,
    )
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(SignInGate(APP, lambda: services), follow_redirects=False) as http:
        yield http


def test_pages_redirect_to_sign_in_and_keep_where_you_were(client: TestClient) -> None:
    response = client.get("/c/abc?x=1")
    assert response.status_code == 303
    assert response.headers["location"].endswith("/auth/login?next=/c/abc%3Fx%3D1")
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/_event/?EIO=4&transport=polling", "/_upload"])
def test_reflex_events_and_uploads_refuse_strangers(client: TestClient, path: str) -> None:
    response = client.post(path, content=b"x" * 10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_credentials"


def test_the_event_websocket_is_refused(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/_event/"):
        pass
    assert refused.value.code == 4401


@pytest.mark.parametrize("path", ["/auth/login", "/api/chatkit", "/ping", "/_next/static/app.js", "/favicon.ico"])
def test_sign_in_api_health_and_build_files_stay_open(client: TestClient, path: str) -> None:
    assert client.get(path).text == f"app:{path}"


def test_a_signed_in_visitor_gets_everything(client: TestClient, services: Services) -> None:
    cookie = services.site_sessions.create("oidc_1", None, None)
    client.cookies.set(SITE_COOKIE, cookie)
    assert client.get("/c/abc").text == "app:/c/abc"
    assert client.post("/_upload").text == "app:/_upload"
    with client.websocket_connect("/_event/") as socket:
        assert socket.receive_text() == "hello"


def test_anonymous_pages_come_with_an_identity_cookie(tmp_path: Path) -> None:
    services = build_services(make_settings(tmp_path / "anon", chatkit_limit_identities_per_hour=2), production=False)
    try:
        with TestClient(SignInGate(APP, lambda: services), follow_redirects=False) as http:
            first = http.get("/")
            assert first.text == "app:/"
            set_cookie = first.headers["set-cookie"]
            assert set_cookie.startswith(f"{ANON_COOKIE}=")
            assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Secure" not in set_cookie
            assert first.headers["cache-control"] == "private, no-store"  # never a shared cached identity
            again = http.get("/c/x")  # the client now sends the cookie: nothing new is minted
            assert again.text == "app:/c/x" and "set-cookie" not in again.headers
            # Events and uploads are not gated here: each handler decides, per event.
            assert http.post("/_upload").text == "app:/_upload"
            http.cookies.clear()
            assert http.get("/").status_code == 200
            http.cookies.clear()
            refused = http.get("/")  # a third new identity from this address within the hour
            assert refused.status_code == 429 and "set-cookie" not in refused.headers
            assert "Retry-After" in refused.headers or "try again" in refused.text.lower()
    finally:
        services.close()


def test_identity_cookie_is_secure_exactly_when_the_public_url_is_https(tmp_path: Path) -> None:
    services = build_services(make_settings(tmp_path, chatkit_public_url="https://chat.example.com"), production=False)
    try:
        with TestClient(SignInGate(APP, lambda: services), base_url="https://chat.example.com") as http:
            assert "Secure" in http.get("/").headers["set-cookie"]
    finally:
        services.close()


def test_header_mode_pages_say_the_proxy_did_not_sign_you_in(tmp_path: Path) -> None:
    services = build_services(
        make_settings(tmp_path, chatkit_auth="header", chatkit_trusted_proxies="10.0.0.0/8"), production=False
    )
    try:
        with TestClient(SignInGate(APP, lambda: services), follow_redirects=False) as http:
            refused = http.get("/", headers={"X-Authenticated-User": "alice"})  # not from a trusted proxy
            assert refused.status_code == 401 and "X-Authenticated-User".lower() in refused.text.lower()
            assert http.post("/_upload", headers={"X-Authenticated-User": "alice"}).status_code == 401
    finally:
        services.close()


@pytest.mark.parametrize("origin", ["https://evil.example.com", "http://sibling.testserver", "null"])
def test_another_page_cannot_drive_the_event_socket_or_uploads(
    client: TestClient, services: Services, origin: str
) -> None:
    """Even with the visitor's cookie (a sibling subdomain still gets SameSite=Lax ones)."""
    client.cookies.set(SITE_COOKIE, services.site_sessions.create("oidc_1", None, None))
    assert client.post("/_upload", headers={"Origin": origin}).status_code == 403
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/_event/", headers={"Origin": origin}),
    ):
        pass
    assert refused.value.code == 4403
    # Our own pages: the same origin as the request, or the configured frontend.
    assert client.post("/_upload", headers={"Origin": "http://testserver"}).text == "app:/_upload"
    with client.websocket_connect("/_event/", headers={"Origin": "http://localhost:3000"}) as socket:
        assert socket.receive_text() == "hello"


def test_an_upload_holds_its_own_visitor_for_its_tab_while_it_runs(tmp_path: Path) -> None:
    """Reflex runs an upload's handler without the request's headers (and the state in
    Redis keeps no cookie): the gate holds the visitor of the upload's own cookie, by the
    tab's token, while the request runs (auth/upload_visitors.py)."""
    from chatkit_app.auth.upload_visitors import visitor_of_upload
    from chatkit_app.auth.visitor import Visitor

    seen: list[object] = []

    async def upload(request: Request) -> PlainTextResponse:
        seen.append(visitor_of_upload(request.headers.get("reflex-client-token", "")))
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/_upload", upload, methods=["POST"]), Route("/", _inner)])
    services = build_services(make_settings(tmp_path), production=False)
    try:
        with TestClient(SignInGate(app, lambda: services)) as http:
            http.get("/")  # an anonymous identity cookie with the page
            http.post("/_upload", headers={"Reflex-Client-Token": "tab-1"})
            http.cookies.clear()
            http.post("/_upload", headers={"Reflex-Client-Token": "tab-1"})  # no cookie: no visitor
    finally:
        services.close()
    first, stranger = seen
    assert isinstance(first, Visitor) and first.kind == "anonymous" and first.user_id
    assert stranger is None
    assert visitor_of_upload("tab-1") is None  # only while the request runs
