"""The Content-Security-Policy: what each UI mode allows, the hashes of the built pages'
inline scripts, framing per path, and a route's own policy kept."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from chatkit_app.api.security_headers import SecurityHeaders, content_security_policy, inline_script_hashes
from tests.conftest import make_settings


def directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {part[0]: part[1:] for part in parts}


def policy_for(tmp_path: Path, **overrides: str) -> dict[str, list[str]]:
    settings = make_settings(tmp_path, **overrides)
    return directives(
        content_security_policy(
            settings, script_hashes=["'sha256-abc'"], api_url="http://localhost:8000", frame_ancestors="'none'"
        )
    )


def test_native_mode_loads_nothing_from_elsewhere(tmp_path: Path) -> None:
    policy = policy_for(tmp_path, chatkit_ui_mode="native")
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'", "'sha256-abc'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:", "http://localhost:8000"]
    assert policy["connect-src"] == ["'self'", "http://localhost:8000", "ws://localhost:8000"]
    assert policy["frame-src"] == ["'none'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]


def test_chatkit_modes_add_its_origins_from_the_script_url(tmp_path: Path) -> None:
    for mode in ("auto", "chatkit"):
        policy = policy_for(tmp_path, chatkit_ui_mode=mode)
        cdn = "https://cdn.platform.openai.com"
        assert cdn in policy["script-src"] and "'unsafe-eval'" in policy["script-src"]
        assert policy["frame-src"] == [cdn]
        assert cdn in policy["connect-src"] and "https://api.openai.com" in policy["connect-src"]
    stub = policy_for(tmp_path, chatkit_script_url="http://127.0.0.1:9999/chatkit-stub.js")
    assert stub["frame-src"] == ["http://127.0.0.1:9999"]
    assert "https://api.openai.com" not in stub["connect-src"]


def test_public_url_and_image_domains(tmp_path: Path) -> None:
    policy = policy_for(
        tmp_path,
        chatkit_ui_mode="native",
        chatkit_public_url="https://chat.example.com",
        chatkit_allowed_image_domains="images.example.com, http://cdn.example.org https://*.pics.example",
    )
    assert policy["img-src"] == [
        "'self'",
        "data:",
        "blob:",
        "https://chat.example.com",
        "http://localhost:8000",
        "https://images.example.com",
        "http://cdn.example.org",
        "https://*.pics.example",
    ]
    assert "wss://chat.example.com" in policy["connect-src"]


def test_inline_scripts_of_the_built_pages_are_hashed(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text('<script>one()</script><script src="/a.js"></script>')
    (tmp_path / "sub" / "404.html").write_text('<script type="module" async="">two()</script><script>one()</script>')

    def sha(text: str) -> str:
        return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"

    assert inline_script_hashes(tmp_path) == sorted({sha("one()"), sha("two()")})
    assert inline_script_hashes(tmp_path / "missing") == []


async def test_embed_may_be_framed_by_the_allowlist_and_a_routes_own_policy_stays(tmp_path: Path) -> None:
    async def page(_request: Request) -> Response:
        return PlainTextResponse("page")

    async def preview(_request: Request) -> Response:
        return PlainTextResponse("img", headers={"Content-Security-Policy": "default-src 'none'; sandbox"})

    inner = Starlette(routes=[Route("/embed/{wid}", page), Route("/", page), Route("/preview", preview)])
    settings = make_settings(tmp_path, chatkit_embed_origins="https://www.example.com")
    app = SecurityHeaders(inner, settings, build_dir=tmp_path, api_url="http://localhost:8000")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        embed = await http.get("/embed/assistant")
        index = await http.get("/")
        preview_response = await http.get("/preview")
    assert directives(embed.headers["content-security-policy"])["frame-ancestors"] == ["https://www.example.com"]
    assert "x-frame-options" not in embed.headers
    assert directives(index.headers["content-security-policy"])["frame-ancestors"] == ["'none'"]
    assert index.headers["x-frame-options"] == "DENY" and index.headers["x-content-type-options"] == "nosniff"
    assert preview_response.headers["content-security-policy"] == "default-src 'none'; sandbox"
