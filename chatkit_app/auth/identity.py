"""Who the user is, decided on the server.

Visitors of the site get an anonymous id: 192 random bits, kept in an HttpOnly cookie
together with an HMAC over it, so the server only accepts ids it minted itself. App
authors can register their own resolver (e.g. from their login system) with
`set_identity_resolver`. `chatkit_app/auth/visitor.py` puts the modes together.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping

ANON_PREFIX = "anon_"
ANON_COOKIE = "chatkit_anon"
_MAC_CHARS = 32

IdentityResolver = Callable[[Mapping[str, str]], str | None]
"""Takes the request headers (lower-case names) and returns a user id, or None."""

_resolver: IdentityResolver | None = None


def _mac(key: bytes, anon_id: str) -> str:
    digest = hmac.new(key, b"chatkit-anon-id:" + anon_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:_MAC_CHARS]


def mint_anonymous_cookie(key: bytes) -> str:
    """A new cookie value `<id>.<mac>`; the user id is `anon_<id>`."""
    anon_id = secrets.token_urlsafe(24)
    return f"{anon_id}.{_mac(key, anon_id)}"


def user_id_from_cookie(key: bytes, cookie: str | None) -> str | None:
    """The user id a cookie vouches for, or None when it is missing or forged."""
    if not cookie or len(cookie) > 128 or cookie.count(".") != 1:
        return None
    anon_id, mac = cookie.split(".")
    if len(anon_id) != 32 or not hmac.compare_digest(mac, _mac(key, anon_id)):
        return None
    return ANON_PREFIX + anon_id


def parse_cookies(header: str | None) -> dict[str, str]:
    """The `Cookie` request header as a dict (the first of duplicate names wins, as
    browsers send the most specific path first)."""
    cookies: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in cookies:
            cookies[name] = value.strip().strip('"')
    return cookies


def set_identity_resolver(resolver: IdentityResolver | None) -> None:
    """Let the app decide identity (e.g. from a trusted auth proxy or its own login)."""
    global _resolver
    _resolver = resolver


def resolve_custom_identity(headers: Mapping[str, str]) -> str | None:
    return _resolver(headers) if _resolver is not None else None
