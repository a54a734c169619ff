"""`ChatSessionState`: the Python twin of the `useChatSession` hook.

It calls the session service in-process. The user is decided on the server for every
event, from the connection's cookies or a trusted proxy's header (`auth/visitor.py`),
never from state; a `user_id` argument that disagrees with it is refused, so a browser
cannot ask for someone else's session. A visitor the server does not know yet is sent to
`/auth/anonymous` (which sets the HttpOnly identity cookie) or to sign-in.

The token is the browser's own credential for `/api/chatkit`: the ChatKit bridge holds
it in memory (`browser_token`, never rendered into the DOM). Credentials are never
persisted with the state (`ui/private_state.py`): the in-process UI needs only the
session id, checked against the visitor on every use.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from typing import Any, ClassVar

import reflex as rx

import chatkit_app.ui.private_state  # noqa: F401  (no credential in persisted state)
from chatkit_app.api.schemas import iso_utc
from chatkit_app.auth.sessions import IssuedSession
from chatkit_app.auth.upload_visitors import visitor_of_upload
from chatkit_app.auth.visitor import Visitor, identify
from chatkit_app.core.context import RequestContext
from chatkit_app.errors import ChatKitAppError, Unauthorized
from chatkit_app.net import public_base_url
from chatkit_app.services import get_services
from chatkit_app.settings import get_settings, is_production
from chatkit_app.urls import backend_base, configured_backend_url, with_next
from chatkit_app.workflows.openai_agent import describe_assistant

COOKIE_NOT_SENT = (
    "Your browser did not send this site's cookie to its server, so it cannot tell who you are. "
    "Allow cookies for this site, and open it under the same host name as its server "
    "(for example http://localhost:3000 with the backend on http://localhost:8000, not 127.0.0.1)."
)


SIGNED_OUT = "You are signed out. Reload the page to sign in again."


class NotSignedIn(Unauthorized):
    """The connection carries no identity the server knows (yet)."""

    def __init__(self) -> None:
        super().__init__("Sign in to chat.", code="missing_credentials")


_TASK_VISITOR: ContextVar[Visitor | None] = ContextVar("chatkit_task_visitor", default=None)


async def remember_visitor(state: rx.State) -> None:
    """First thing in a background event handler: decide its visitor from the event's own
    connection, before `async with self` reloads the state (from Redis or disk, where the
    cookie is never kept). Holds for that task only."""
    with contextlib.suppress(NotSignedIn):
        _TASK_VISITOR.set(await _visitor_of(state))


@contextlib.contextmanager
def upload_visitor(state: rx.State) -> Iterator[None]:
    """Around an upload handler: the visitor the sign-in gate decided from the `/_upload`
    request's own cookie (`auth/upload_visitors.py`), for this handler only; without
    one, the connection's headers decide as for any event."""
    visitor = visitor_of_upload(state.router.session.client_token)
    reset = _TASK_VISITOR.set(visitor) if visitor is not None else None
    try:
        yield
    finally:
        if reset is not None:
            _TASK_VISITOR.reset(reset)


async def current_visitor(state: rx.State) -> Visitor:
    """Who sent this event: its background task's remembered visitor, else decided from
    the connection's headers (cookie, proxy header)."""
    return _TASK_VISITOR.get() or await _visitor_of(state)


async def _visitor_of(state: rx.State) -> Visitor:
    headers = dict(state.router.headers.raw_headers)
    # The TCP peer, which Reflex writes over any client header of that name (its
    # `client_ip` would follow X-Forwarded-For under Reflex's own trusted_proxy_hops).
    peer = headers.get("asgi-scope-client")
    visitor = await identify(await asyncio.to_thread(get_services), headers, peer)
    if visitor is None:
        raise NotSignedIn()
    return visitor


class ChatSessionState(rx.State):
    _never_persisted: ClassVar[tuple[str, ...]] = ("browser_token", "client_secret", "_token")
    session_data: dict[str, Any] = {}
    is_loading: bool = False
    error: str = ""
    error_code: str = ""
    last_check: str = ""
    agent_label: str = ""
    workflow_ui: dict[str, Any] = {}
    browser_token: str = ""
    client_secret: str = ""
    signed_in_as: str = ""  # the name or email of a signed-in user (oidc, header), for the page header
    auth_mode: str = ""
    _token: str = ""

    @rx.var
    def status(self) -> str:
        if self.is_loading:
            return "loading"
        if self.error:
            return "error"
        return "active" if self.session_data else "none"

    @rx.var
    def session_ready(self) -> bool:
        return bool(self.session_data) and self.browser_token != ""

    @rx.event
    async def ensure_session(self, workflow_id: str = "", user_id: str = "") -> AsyncIterator[Any]:
        """On page load or mount: keep a live session of `workflow_id` (default: the
        site's default workflow), creating one when there is none. A visitor the server
        does not know goes to `/auth/anonymous` or to sign-in first."""
        try:
            visitor = await current_visitor(self)
        except NotSignedIn:
            if is_production():
                # The backend sends strangers to sign in with the page itself (auth/gate.py);
                # here a sign-in ended while the page was open.
                self.error, self.error_code = SIGNED_OUT, "signed_out"
            elif "signed_in=1" in (self.router.url.query or ""):
                # Back from /auth/... and still unknown: this page's event socket does not
                # carry the cookie (a different site than the backend, or cookies blocked).
                self.error, self.error_code = COOKIE_NOT_SENT, "cookie_not_sent"
            else:
                # Development: pages come from another port, so the backend's /auth/... is
                # another host to the browser and this is a full page load.
                yield rx.redirect(self._sign_in_url())
            return
        self.signed_in_as = visitor.label if visitor.kind in ("oidc", "header") else ""
        self.auth_mode = visitor.kind
        if self.session_data.get("userId") not in (None, visitor.user_id):
            self._forget()  # another visitor on this tab's state (signed out and in again)
        if self.session_data and self._token and workflow_id in ("", self.session_data.get("workflowId")):
            return
        async for update in self._run(self._create, workflow_id, user_id):
            yield update

    def _sign_in_url(self) -> str:
        """`/auth/anonymous` (mints the identity cookie) or `/auth/login`, then back here."""
        settings = get_services().settings
        route = "/auth/anonymous" if settings.chatkit_auth == "anonymous" else "/auth/login"
        path = self.router.url.path or "/"
        query = self.router.url.query
        return backend_base(settings) + with_next(route, path + (f"?{query}" if query else ""))

    @rx.event
    async def adopt_refreshed_session(self, session: dict[str, Any]) -> None:
        """The bridge refreshed our session over HTTP: keep its new token, once the
        server has confirmed it is the current token of this same session."""
        if not self.session_data or session.get("sessionId") != self.session_data.get("sessionId"):
            return
        token = session.get("token")
        if not isinstance(token, str):
            return
        services = await asyncio.to_thread(get_services)
        try:
            info = await services.issuer.validate(self.session_data["sessionId"], token)
        except ChatKitAppError:
            return
        self._token = self.browser_token = token
        secret = session.get("chatkit", {}).get("clientSecret") if isinstance(session.get("chatkit"), dict) else None
        self.client_secret = secret if isinstance(secret, str) else ""
        self.session_data = {**self.session_data, "expiresAt": iso_utc(info.expires_at)}

    @rx.event
    async def create_session(self, user_id: str = "", workflow_id: str = "") -> AsyncIterator[Any]:
        async for update in self._run(self._create, workflow_id, user_id):
            yield update

    @rx.event
    async def refresh_session(self) -> AsyncIterator[Any]:
        async for update in self._run(self._refresh):
            yield update

    @rx.event
    async def validate_session(self) -> AsyncIterator[Any]:
        async for update in self._run(self._validate):
            yield update

    async def chatkit_context(self) -> RequestContext:
        """The ChatKit request context of this event's visitor, for the native UI's
        in-process protocol calls: the visitor comes from the connection (per event), the
        session must be theirs and live (a new one otherwise), so both UIs see the same
        user's threads and a revoked session stops the native UI too."""
        services = await asyncio.to_thread(get_services)
        visitor = await current_visitor(self)
        if self.session_data.get("userId") == visitor.user_id:
            try:
                info = await services.issuer.live_for_user(self.session_data["sessionId"], visitor.user_id)
                return RequestContext(info.user_id, info.session_id, info.workflow_id, self._backend_base())
            except ChatKitAppError as exc:
                if exc.status not in (401, 404):
                    raise
        self._forget()
        await self._create("")
        data = self.session_data
        return RequestContext(data["userId"], data["sessionId"], data["workflowId"], self._backend_base())

    def _backend_base(self) -> str:
        """Where the browser reaches the backend, for absolute URLs such as image
        previews: CHATKIT_PUBLIC_URL, else Reflex's configured `api_url` (X-Forwarded-*
        from trusted proxies only; never the page's host, which the browser reports)."""
        settings = get_settings()
        headers = dict(self.router.headers.raw_headers)
        peer = headers.get("asgi-scope-client")
        return public_base_url(
            settings.chatkit_public_url, configured_backend_url(), peer, headers, settings.trusted_proxies
        )

    async def _run(self, action: Any, *args: Any) -> AsyncIterator[None]:
        self.is_loading = True
        self.error = self.error_code = ""
        yield
        try:
            await action(*args)
        except ChatKitAppError as exc:
            self.error, self.error_code = exc.message, exc.code
        except Exception:  # database down, misconfiguration: say so without details
            self.error, self.error_code = "The session service is unavailable; try again shortly.", "unavailable"
        finally:
            self.is_loading = False

    async def _create(self, workflow_id: str, requested_user: str = "") -> None:
        services = await asyncio.to_thread(get_services)
        user_id = (await current_visitor(self)).user_id
        if requested_user and requested_user != user_id:
            self._forget()
            self.error, self.error_code = "You can only open a session for yourself.", "forbidden"
            return
        workflow = workflow_id or services.registry.default_id
        issued = await services.issuer.create(user_id, workflow, {"source": "site"})
        self.agent_label = describe_assistant(services.settings) if workflow == "assistant" else workflow
        self._keep(issued)
        self.workflow_ui = services.registry.get(issued.workflow_id).ui
        self.session_data = {
            "sessionId": issued.session_id,
            "userId": issued.user_id,
            "workflowId": issued.workflow_id,
            "expiresAt": iso_utc(issued.expires_at),
            "mode": issued.mode,
        }

    def _keep(self, issued: IssuedSession) -> None:
        self._token = self.browser_token = issued.token
        self.client_secret = issued.client_secret or ""

    def _forget(self) -> None:
        self.session_data = {}
        self._token = self.browser_token = self.client_secret = ""

    async def _refresh(self) -> None:
        if not self.session_data or not self._token:
            await self._create("")
            return
        services = await asyncio.to_thread(get_services)
        try:
            issued = await services.issuer.refresh(self.session_data["sessionId"], self._token)
        except ChatKitAppError:
            self._forget()
            raise
        self._keep(issued)
        self.workflow_ui = services.registry.get(issued.workflow_id).ui
        self.session_data = {**self.session_data, "expiresAt": iso_utc(issued.expires_at)}

    async def _validate(self) -> None:
        if not self.session_data:
            self.error, self.error_code = "There is no session yet.", "no_session"
            return
        services = await asyncio.to_thread(get_services)
        visitor = await current_visitor(self)
        try:
            info = await services.issuer.live_for_user(self.session_data["sessionId"], visitor.user_id)
        except ChatKitAppError:
            self._forget()
            raise
        self.last_check = f"valid until {iso_utc(info.expires_at)}"
