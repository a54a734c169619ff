"""`/embed/{workflow_id}` in an iframe on another site: allowed only for the origins in
CHATKIT_EMBED_ORIGINS; every other page refuses to be framed at all."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.e2e.prod_site import copy_site, running_site
from tests.e2e.test_prod_backend import _env
from tests.live_server import serve

pytestmark = pytest.mark.slow


@dataclass
class Embedding:
    site: str
    allowed_host: str
    other_host: str


@pytest.fixture(scope="module")
def embedding(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedding]:
    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    root: Path = tmp_path_factory.mktemp("embed-site")
    copy_site(root)
    site: dict[str, str] = {}

    async def partner_page(_request: Request) -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><title>A partner site</title><h1>Partner</h1>"
            f'<iframe src="{site["url"]}/embed/assistant" width="800" height="600" title="Chat"></iframe>'
        )

    # Partner sites start first (their origins go into the allowlist); they learn the
    # chat site's URL once it runs.
    partner = Starlette(routes=[Route("/", partner_page)])
    with serve(partner) as allowed, serve(partner) as other:
        env = _env(
            root / "data",
            CHATKIT_SECRET=secrets.token_urlsafe(48),
            CHATKIT_UI_MODE="native",
            CHATKIT_EMBED_ORIGINS=f"{allowed}, https://chat.example.com",
        )
        with running_site(root, env) as url:
            site["url"] = url
            yield Embedding(url, allowed, other)


def _directives(policy: str) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def test_only_the_embed_page_may_be_framed_and_only_by_the_allowlist(embedding: Embedding) -> None:
    embed = httpx.get(f"{embedding.site}/embed/assistant", timeout=10)
    assert embed.status_code == 200
    policy = _directives(embed.headers["content-security-policy"])
    assert policy["frame-ancestors"] == f"{embedding.allowed_host} https://chat.example.com"
    assert "x-frame-options" not in embed.headers
    index = httpx.get(f"{embedding.site}/", timeout=10)
    assert _directives(index.headers["content-security-policy"])["frame-ancestors"] == "'none'"
    assert index.headers["x-frame-options"] == "DENY"
    api = httpx.get(f"{embedding.site}/api/chatkit/workflows/assistant", timeout=10)
    assert api.headers["x-frame-options"] == "DENY"


def test_an_allowed_partner_shows_a_working_chat_and_another_site_cannot(embedding: Embedding, browser: Any) -> None:
    page = browser.new_page()
    try:
        page.goto(embedding.allowed_host)
        chat = page.frame_locator("iframe")
        chat.get_by_test_id("native-chat").wait_for(timeout=30_000)
        assert chat.get_by_test_id("session-indicator").count() == 0  # chrome-less: no top bar
        composer = chat.get_by_test_id("composer-input")
        composer.fill("hello from a partner site")
        composer.press("Enter")
        chat.get_by_test_id("message-actions").first.wait_for(timeout=20_000)  # the answer is complete
        # Its text shows once the lazily loaded Markdown renderer is in (a moment later, maybe).
        expect(chat.get_by_test_id("assistant-message").first).to_contain_text(
            "hello from a partner site", timeout=10_000
        )

        page.goto(embedding.other_host)
        page.wait_for_function("() => document.querySelector('iframe') !== null", timeout=10_000)
        page.wait_for_timeout(3_000)
        frame = page.frames[-1]
        assert frame != page.main_frame
        assert frame.url.startswith("chrome-error://")  # the browser refused to frame it
        assert frame.locator('[data-testid="native-chat"]').count() == 0
    finally:
        page.close()
