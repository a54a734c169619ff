"""Sign-in routes: `/auth/anonymous` (mint the anonymous cookie), `/auth/login`,
`/auth/callback`, `/auth/logout` (OpenID Connect) and `/auth/me`.

Cookies are HttpOnly, SameSite=Lax, and `Secure` exactly when CHATKIT_PUBLIC_URL is https.
After sign-in the browser goes back to a path on this site only (`next`, checked).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from chatkit_app.api.auth_pages import page
from chatkit_app.api.deps import services_of
from chatkit_app.auth.cookies import clear_cookie_header, set_cookie_header
from chatkit_app.auth.identity import parse_cookies
from chatkit_app.auth.oidc import OidcClient, Pending, SignInFailed, is_allowed
from chatkit_app.auth.signed import sign, unsign
from chatkit_app.auth.site_sessions import SITE_COOKIE
from chatkit_app.auth.visitor import identify, new_anonymous_cookie
from chatkit_app.net import headers_of
from chatkit_app.services import Services
from chatkit_app.settings import is_production
from chatkit_app.urls import absolute_backend_base, backend_base, frontend_base, safe_next, with_next

logger = logging.getLogger("chatkit_app.auth")

PENDING_COOKIE = "chatkit_oidc"
RETURNED_MARKER = "signed_in=1"
PENDING_SECONDS = 600
_clients: dict[str, OidcClient] = {}


def _peer(request: Request) -> str | None:
    return request.client.host if request.client else None


def _set_cookie(services: Services, response: Response, name: str, value: str, max_age: int) -> None:
    response.headers.append("set-cookie", set_cookie_header(services.settings, name, value, max_age))


def _clear_cookie(services: Services, response: Response, name: str) -> None:
    response.headers.append("set-cookie", clear_cookie_header(services.settings, name))


def _back(services: Services, next_path: str) -> RedirectResponse:
    """To the page the visitor came from. In development (pages on another port than the
    backend) with a marker, so a page whose socket still arrives without the cookie says
    why instead of sending the visitor round again."""
    target = frontend_base(services.settings) + safe_next(next_path)
    if not is_production():
        target += ("&" if "?" in target else "?") + RETURNED_MARKER
    return RedirectResponse(target, status_code=303)


async def anonymous(request: Request) -> Response:
    """Mints the visitor's anonymous identity, then checks the browser kept it."""
    services = services_of(request)
    next_path = safe_next(request.query_params.get("next"))
    if services.settings.chatkit_auth != "anonymous":
        return RedirectResponse(backend_base(services.settings) + with_next("/auth/login", next_path), 303)
    if await identify(services, headers_of(request.scope["headers"]), _peer(request)) is not None:
        return _back(services, next_path)
    cookie = await new_anonymous_cookie(services, _peer(request), request.headers)
    response = RedirectResponse(backend_base(services.settings) + with_next("/auth/anonymous/check", next_path), 303)
    response.headers.append("set-cookie", cookie)
    return response


async def anonymous_check(request: Request) -> Response:
    services = services_of(request)
    if await identify(services, headers_of(request.scope["headers"]), _peer(request)) is None:
        return page(
            "Cookies are needed",
            "This chat keeps your conversations under a cookie that identifies your browser. "
            "Allow cookies for this site and reload.",
            status=400,
        )
    return _back(services, request.query_params.get("next", "/"))


def _oidc(services: Services) -> OidcClient:
    """One client per provider and client id: it caches the provider's discovery document."""
    settings = services.settings
    key = f"{settings.chatkit_oidc_issuer}\0{settings.chatkit_oidc_client_id}"
    if key not in _clients:
        _clients[key] = OidcClient(settings)
    return _clients[key]


def _redirect_uri(services: Services) -> str:
    """Registered at the provider: set CHATKIT_PUBLIC_URL in production."""
    return absolute_backend_base(services.settings) + "/auth/callback"


async def login(request: Request) -> Response:
    services = services_of(request)
    next_path = safe_next(request.query_params.get("next"))
    if services.settings.chatkit_auth != "oidc":
        return _back(services, next_path)
    try:
        url, pending = await _oidc(services).begin(_redirect_uri(services), next_path)
    except SignInFailed as exc:
        return page("Sign-in is unavailable", str(exc), status=503)
    response = RedirectResponse(url, status_code=303)
    value = sign(services.secret, "oidc-pending", _fields(pending), max_age=PENDING_SECONDS)
    _set_cookie(services, response, PENDING_COOKIE, value, PENDING_SECONDS)
    return response


def _fields(pending: Pending) -> dict[str, Any]:
    return {"state": pending.state, "nonce": pending.nonce, "verifier": pending.verifier, "next": pending.next}


def _refused(services: Services, title: str, message: str, link: tuple[str, str], status: int) -> Response:
    """A sign-in that cannot finish: say why, and forget its pending state (no replay)."""
    response = page(title, message, link=link, status=status)
    _clear_cookie(services, response, PENDING_COOKIE)
    return response


async def callback(request: Request) -> Response:
    services = services_of(request)
    settings = services.settings
    retry = (backend_base(settings) + "/auth/login", "Sign in again")
    saved = unsign(services.secret, "oidc-pending", parse_cookies(request.headers.get("cookie")).get(PENDING_COOKIE))
    params = request.query_params
    if (
        settings.chatkit_auth != "oidc"
        or saved is None
        or not params.get("state")
        or params["state"] != saved.get("state")
    ):
        return _refused(services, "Sign-in failed", "This sign-in link is not valid or has expired.", retry, 400)
    pending = Pending(str(saved["state"]), str(saved["nonce"]), str(saved["verifier"]), safe_next(saved.get("next")))
    if params.get("error") or not params.get("code"):
        return _refused(services, "Sign-in cancelled", "The sign-in provider did not sign you in.", retry, 400)
    try:
        claims = await _oidc(services).finish(_redirect_uri(services), pending, params["code"])
    except SignInFailed as exc:
        return _refused(services, "Sign-in failed", str(exc), retry, 400)
    if not is_allowed(settings, claims):
        logger.info("sign-in refused: account not on the allowlist")
        message = (
            "Your account is not allowed to use this chat. Ask the site's administrator for access, "
            "or sign in with another account."
        )
        return _refused(services, "Not allowed", message, retry, 403)
    cookie = await services.run_db(services.site_sessions.create, claims.user_id, claims.email, claims.name)
    response = _back(services, pending.next)
    _clear_cookie(services, response, PENDING_COOKIE)
    _set_cookie(services, response, SITE_COOKIE, cookie, settings.chatkit_site_session_max_age_seconds)
    return response


async def logout(request: Request) -> Response:
    """POST signs this browser out and ends the user's chat sessions (their tokens die
    now). A cross-site POST carries no SameSite=Lax cookie, so no other site can sign
    you out; GET only shows the button."""
    services = services_of(request)
    if request.method == "GET":
        back = (frontend_base(services.settings) + "/", "Back to the chat")
        return page("Sign out", "Sign out of this chat on this browser?", form=("/auth/logout", "Sign out"), link=back)
    cookies = parse_cookies(request.headers.get("cookie"))
    user_id = await services.run_db(services.site_sessions.revoke, cookies.get(SITE_COOKIE))
    if user_id:
        await services.issuer.revoke_user(user_id)
    response = page(
        "Signed out", "You are signed out of this chat.", link=(frontend_base(services.settings) + "/", "Sign in again")
    )
    _clear_cookie(services, response, SITE_COOKIE)
    # The tab's Reflex token (sessionStorage) goes too: the next person in this tab gets
    # a fresh Reflex state, not the signed-out user's threads.
    response.headers["Clear-Site-Data"] = '"storage"'
    return response


async def me(request: Request) -> Response:
    services = services_of(request)
    visitor = await identify(services, headers_of(request.scope["headers"]), _peer(request))
    if visitor is None:
        return JSONResponse(
            {"signedIn": False, "auth": services.settings.chatkit_auth}, headers={"Cache-Control": "no-store"}
        )
    body = {"signedIn": True, "auth": services.settings.chatkit_auth, "userId": visitor.user_id, "name": visitor.label}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


routes = [
    Route("/auth/anonymous", anonymous, methods=["GET"]),
    Route("/auth/anonymous/check", anonymous_check, methods=["GET"]),
    Route("/auth/login", login, methods=["GET"]),
    Route("/auth/callback", callback, methods=["GET"]),
    Route("/auth/logout", logout, methods=["GET", "POST"]),
    Route("/auth/me", me, methods=["GET"]),
]
