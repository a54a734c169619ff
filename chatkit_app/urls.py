"""URLs of the site, from configuration only (never from the `Host` header).

`CHATKIT_PUBLIC_URL` is where visitors reach the site. Production serves pages and
backend on one origin, so without a public URL its redirects are relative (same origin,
whatever name the visitor used); in development the pages come from Reflex's frontend
server (`deploy_url`) and the backend listens on `api_url`.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

import reflex as rx
from reflex_base.config import Config
from reflex_base.registry import RegistrationContext

from chatkit_app.settings import Settings, is_production


def _reflex_config() -> Config:
    """Reflex's config. Outside a Reflex registration context (a request's task in a
    backend served without Reflex's runner, as `bench/` serves it) `get_config()` would
    load rxconfig.py again on every call (~2 ms per request, measured): there it is read
    once per process. Inside one, the context's own (cached, and the one test harnesses
    change) is used."""
    try:
        RegistrationContext.get()
    except LookupError:
        return _detached_config()
    return rx.config.get_config()


@functools.cache
def _detached_config() -> Config:
    return rx.config.get_config()


def configured_backend_url() -> str:
    """Reflex's `api_url`: where the server is configured to be reached."""
    return str(_reflex_config().api_url).rstrip("/")


def frontend_base(settings: Settings) -> str:
    """Prefix of page URLs ("" = this origin)."""
    if settings.chatkit_public_url:
        return settings.chatkit_public_url
    return "" if is_production() else str(_reflex_config().deploy_url or "").rstrip("/")


def backend_base(settings: Settings) -> str:
    """Prefix of backend URLs ("" = this origin)."""
    if is_production():
        return settings.chatkit_public_url or ""
    return configured_backend_url()


def absolute_backend_base(settings: Settings) -> str:
    """For URLs that leave the site (the OpenID provider's redirect back)."""
    if is_production() and settings.chatkit_public_url:
        return settings.chatkit_public_url
    return configured_backend_url()


def safe_next(value: str | None) -> str:
    """A path on this site to return to; anything else (another host, `//x`, `/\\x`) is `/`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 2000:
        return "/"
    if any(ord(char) < 0x20 for char in value):
        return "/"
    return value


def with_next(path: str, next_path: str) -> str:
    return f"{path}?next={quote(safe_next(next_path), safe='/')}"
