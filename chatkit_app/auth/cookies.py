"""The one shape of our cookies: HttpOnly, SameSite=Lax, path `/`, and `Secure` exactly
when CHATKIT_PUBLIC_URL is https (a Secure cookie sent over plain HTTP on a non-localhost
host is never stored, so every visit would silently become a new user)."""

from __future__ import annotations

from chatkit_app.settings import Settings

ANON_COOKIE_SECONDS = 400 * 24 * 3600  # browsers cap cookie lifetimes at 400 days


def set_cookie_header(settings: Settings, name: str, value: str, max_age: int) -> str:
    parts = [f"{name}={value}", f"Max-Age={max_age}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if settings.secure_cookies:
        parts.append("Secure")
    return "; ".join(parts)


def clear_cookie_header(settings: Settings, name: str) -> str:
    return set_cookie_header(settings, name, "", 0)
