"""Who may show our pages in an iframe. Only `/embed/...` may be framed, and only by the
origins in CHATKIT_EMBED_ORIGINS (none by default); every other page refuses framing
(clickjacking). Wraps the whole backend, so it also covers the production frontend, which
the backend serves; the development frontend (a separate server) sends no such header."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

EMBED_PREFIX = "/embed/"


class FramingPolicy:
    def __init__(self, app: ASGIApp, *, embed_origins: list[str]) -> None:
        self.app = app
        sources = " ".join(embed_origins) if embed_origins else "'none'"
        self._embed = [(b"content-security-policy", f"frame-ancestors {sources}".encode())]
        self._other = [(b"content-security-policy", b"frame-ancestors 'none'"), (b"x-frame-options", b"DENY")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._embed if str(scope.get("path", "")).startswith(EMBED_PREFIX) else self._other

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_policy)


def framing_policy(app: ASGIApp) -> ASGIApp:
    """`api_transformer` step: the policy from the settings."""
    from chatkit_app.settings import get_settings

    return FramingPolicy(app, embed_origins=get_settings().embed_origins)
