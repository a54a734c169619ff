"""Security headers on every backend response: a Content-Security-Policy that allows
exactly what our pages load, and framing rules (clickjacking).

The policy, directive by directive, and why:

- `default-src 'self'`: anything not listed below comes from our origin only.
- `script-src 'self' 'sha256-…'`: Reflex's production build puts a few inline scripts in
  each page (the colour-mode bootstrap, React Router's hydration data and module loader).
  They are allowed by the SHA-256 of their text, read from the built pages
  (`.web/build/client/**/*.html`), so no `'unsafe-inline'` and no nonce (the pages are
  static files). When ChatKit may load (`CHATKIT_UI_MODE` is not `native`), ChatKit's
  script origin (from `CHATKIT_SCRIPT_URL`) and `'unsafe-eval'`: ChatKit's control
  methods (`send_user_message`, `set_thread`, … and the "New chat" button) run through
  Reflex's `rx.call_script`, which the browser runs with `eval`. The native UI needs none
  of that, so `native` gets the strict policy.
- `style-src 'self' 'unsafe-inline'`: Radix Themes and Emotion write `<style>` elements
  and `style=` attributes at run time with generated content; hashing them is not
  possible. Styles cannot run code, so this is the accepted trade-off.
- `img-src 'self' data: blob:` + our configured origins (`CHATKIT_PUBLIC_URL`, `api_url`:
  signed attachment previews are absolute URLs on them) + `CHATKIT_ALLOWED_IMAGE_DOMAINS`: an image in an answer
  is a request the model chose; a host outside this list could learn what the page shows
  (the native Markdown renders such images as links instead).
- `connect-src 'self'` + the websocket of our origin (`ws:`/`wss:`; Reflex's events) +
  the backend's configured address (`api_url`, when it is another origin) + ChatKit's
  origins when ChatKit may load.
- `frame-src` ChatKit's origin (its element renders an iframe) when ChatKit may load.
- `frame-ancestors`: `/embed/...` may be framed by `CHATKIT_EMBED_ORIGINS` only ('none'
  by default), every other page by nobody (also `X-Frame-Options: DENY` for old browsers).
- `object-src 'none'; base-uri 'self'; form-action 'self'` (OIDC sign-in is a redirect,
  not a form post).

The headers come from the backend, i.e. with `reflex run --env prod` (one port); the
development frontend server (`reflex run`, port 3000) is another server and sends none.
A response that sets its own CSP (attachment previews: `default-src 'none'; sandbox`)
keeps it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatkit_app.settings import Settings

EMBED_PREFIX = "/embed/"
OPENAI_API_ORIGIN = "https://api.openai.com"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.S | re.I)


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute http(s)/ws(s) URL, else None."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def websocket_of(origin: str) -> str:
    return origin.replace("https://", "wss://", 1).replace("http://", "ws://", 1)


def chatkit_origins(script_url: str) -> list[str]:
    """Where ChatKit's element comes from (script and iframe) and, for OpenAI's own
    CDN, the API its element talks to."""
    origin = origin_of(script_url)
    if origin is None:
        return []
    host = urllib.parse.urlsplit(script_url).hostname or ""
    return [origin, OPENAI_API_ORIGIN] if host.endswith(".openai.com") else [origin]


def image_sources(domains: Iterable[str]) -> list[str]:
    """CHATKIT_ALLOWED_IMAGE_DOMAINS as CSP sources: a bare host means https only."""
    return [domain if "://" in domain else f"https://{domain}" for domain in domains]


def image_origins(settings: Settings, api_url: str | None) -> list[str]:
    """Where images may come from besides 'self', data: and blob: our configured origins
    (signed previews are absolute URLs on them) and CHATKIT_ALLOWED_IMAGE_DOMAINS. The CSP's
    img-src and the native Markdown's image rule (markdown.jsx) both use this list."""
    own = (origin_of(url) for url in (settings.chatkit_public_url, api_url) if url)
    return _unique([*(origin for origin in own if origin), *image_sources(settings.allowed_image_domains)])


def inline_script_hashes(build_dir: Path) -> list[str]:
    """`'sha256-…'` of every inline script in the built pages, sorted, no duplicates."""
    hashes: set[str] = set()
    if build_dir.is_dir():
        for page in build_dir.rglob("*.html"):
            for body in _INLINE_SCRIPT.findall(page.read_bytes()):
                digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
                hashes.add(f"'sha256-{digest}'")
    return sorted(hashes)


def content_security_policy(
    settings: Settings, *, script_hashes: Iterable[str], api_url: str | None, frame_ancestors: str
) -> str:
    chatkit = chatkit_origins(settings.chatkit_script_url) if settings.chatkit_ui_mode != "native" else []
    own = [origin for origin in (settings.chatkit_public_url, api_url) if origin]
    own_origins = _unique(o for o in (origin_of(url) for url in own) if o)
    scripts = ["'self'", *script_hashes]
    if chatkit:
        scripts += ["'unsafe-eval'", chatkit[0]]
    connect = ["'self'", *own_origins, *(websocket_of(o) for o in own_origins), *chatkit]
    directives = [
        ("default-src", ["'self'"]),
        ("script-src", scripts),
        ("style-src", ["'self'", "'unsafe-inline'"]),
        ("img-src", ["'self'", "data:", "blob:", *image_origins(settings, api_url)]),
        ("font-src", ["'self'", "data:"]),
        ("connect-src", connect),
        ("frame-src", chatkit[:1] or ["'none'"]),
        ("object-src", ["'none'"]),
        ("base-uri", ["'self'"]),
        ("form-action", ["'self'"]),
        ("frame-ancestors", [frame_ancestors]),
    ]
    return "; ".join(f"{name} {' '.join(_unique(sources))}" for name, sources in directives)


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


class SecurityHeaders:
    """ASGI middleware adding the policy to every HTTP response that has none."""

    def __init__(
        self, app: ASGIApp, settings: Settings, *, build_dir: Path | None = None, api_url: str | None = None
    ) -> None:
        self.app = app
        self._settings = settings
        self._build_dir = build_dir
        self._api_url = api_url
        self._headers: tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]] | None = None

    def headers(self) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
        """(for /embed/..., for everything else); built on the first response, when the
        production build (whose inline scripts are hashed) is surely on disk."""
        if self._headers is None:
            hashes = inline_script_hashes(self._build_dir) if self._build_dir else []
            embed_origins = " ".join(self._settings.embed_origins) or "'none'"

            def policy(ancestors: str) -> bytes:
                return content_security_policy(
                    self._settings, script_hashes=hashes, api_url=self._api_url, frame_ancestors=ancestors
                ).encode()

            common = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"strict-origin-when-cross-origin")]
            self._headers = (
                [(b"content-security-policy", policy(embed_origins)), *common],
                [(b"content-security-policy", policy("'none'")), (b"x-frame-options", b"DENY"), *common],
            )
        return self._headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        embed, other = self.headers()
        extra = embed if str(scope.get("path", "")).startswith(EMBED_PREFIX) else other

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def security_headers(app: ASGIApp) -> ASGIApp:
    """`api_transformer` step: the policy from the settings, hashing the inline scripts
    of the production build Reflex serves."""
    from reflex.utils import prerequisites
    from reflex_base import constants
    from reflex_base.config import get_config

    from chatkit_app.settings import get_settings

    build_dir = prerequisites.get_web_dir() / constants.Dirs.STATIC
    return SecurityHeaders(app, get_settings(), build_dir=build_dir, api_url=str(get_config().api_url))
