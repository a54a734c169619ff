"""The visitor behind a request or a Reflex event, decided on the server every time.

From what the browser cannot forge, per `CHATKIT_AUTH`:
- `anonymous`: the HMAC-signed `chatkit_anon` cookie (HttpOnly, minted by `/auth/anonymous`);
- `oidc`: the `chatkit_site` cookie of a site session (`/auth/login` → provider → `/auth/callback`);
- `header`: `CHATKIT_AUTH_HEADER`, believed only when the peer is in `CHATKIT_TRUSTED_PROXIES`.
An app's own resolver (`set_identity_resolver`) is asked first. Never from Reflex state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chatkit_app.auth.cookies import ANON_COOKIE_SECONDS, set_cookie_header
from chatkit_app.auth.identity import (
    ANON_COOKIE,
    mint_anonymous_cookie,
    parse_cookies,
    resolve_custom_identity,
    user_id_from_cookie,
)
from chatkit_app.auth.sessions import USER_ID_PATTERN
from chatkit_app.auth.site_sessions import SITE_COOKIE
from chatkit_app.net import client_address, is_trusted
from chatkit_app.services import Services


@dataclass(frozen=True, slots=True)
class Visitor:
    user_id: str
    kind: str  # "anonymous" | "oidc" | "header" | "custom"
    name: str = ""
    email: str = ""

    @property
    def label(self) -> str:
        """What the page header shows of a signed-in user."""
        return self.name or self.email or self.user_id


async def identify(services: Services, headers: Mapping[str, str], peer: str | None) -> Visitor | None:
    """The visitor, or None (then: anonymous → mint a cookie; otherwise → sign in)."""
    custom = resolve_custom_identity(headers)
    if custom:
        return Visitor(custom, "custom")
    settings = services.settings
    mode = settings.chatkit_auth
    if mode == "header":
        value = headers.get(settings.chatkit_auth_header.lower(), "").strip()
        if value and is_trusted(peer, settings.trusted_proxies) and USER_ID_PATTERN.match(value):
            return Visitor(value, "header", name=value)
        return None
    cookies = parse_cookies(headers.get("cookie"))
    if mode == "oidc":
        signed_in = await services.run_db(services.site_sessions.resolve, cookies.get(SITE_COOKIE))
        if signed_in is None:
            return None
        return Visitor(signed_in.user_id, "oidc", name=signed_in.name or "", email=signed_in.email or "")
    user_id = user_id_from_cookie(services.secret, cookies.get(ANON_COOKIE))
    return Visitor(user_id, "anonymous") if user_id else None


async def new_anonymous_cookie(services: Services, peer: str | None, headers: Mapping[str, str]) -> str:
    """The `Set-Cookie` value of a new anonymous identity for a visitor from `peer`,
    counted against CHATKIT_LIMIT_IDENTITIES_PER_HOUR (raises `RateLimited` past it)."""
    settings = services.settings
    await services.limits.identity(client_address(peer, headers, settings.trusted_proxies))
    return set_cookie_header(settings, ANON_COOKIE, mint_anonymous_cookie(services.secret), ANON_COOKIE_SECONDS)
