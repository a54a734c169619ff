"""`ChatSessionState`: the Python twin of the `useChatSession` hook.

It calls the session service in-process. The user is resolved on the server (a signed
anonymous cookie, or the app's own resolver); a `user_id` argument that disagrees
with it is refused, so a browser cannot ask for someone else's session.

The token is the browser's own credential for `/api/chatkit`: the ChatKit bridge holds
it in memory (`browser_token`, never rendered into the DOM). When the bridge refreshes
it through the refresh route, `adopt_refreshed_session` checks the new token on the
server before keeping it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import reflex as rx

from chatkit_app.api.deps import configured_backend_url
from chatkit_app.api.schemas import iso_utc
from chatkit_app.auth.identity import ANON_COOKIE, mint_anonymous_cookie, resolve_custom_identity, user_id_from_cookie
from chatkit_app.auth.sessions import IssuedSession
from chatkit_app.chatkit_server.context import RequestContext
from chatkit_app.errors import ChatKitAppError
from chatkit_app.net import public_base_url
from chatkit_app.services import Services, get_services
from chatkit_app.settings import get_settings, is_production
from chatkit_app.workflows.openai_agent import describe_assistant

COOKIE_MAX_AGE = 400 * 24 * 3600


class ChatSessionState(rx.State):
    session_data: dict[str, Any] = {}
    is_loading: bool = False
    error: str = ""
    error_code: str = ""
    last_check: str = ""
    agent_label: str = ""
    workflow_ui: dict[str, Any] = {}
    browser_token: str = ""
    client_secret: str = ""
    anon_cookie: str = rx.Cookie(
        "", name=ANON_COOKIE, path="/", max_age=COOKIE_MAX_AGE, same_site="lax", secure=is_production()
    )
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
        site's default workflow), creating one when there is none."""
        if self.session_data and self._token and workflow_id in ("", self.session_data.get("workflowId")):
            return
        async for update in self._run(self._create, workflow_id, user_id):
            yield update

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
        """The ChatKit request context of this browser's session, for the native UI's
        in-process protocol calls: the token is checked like on `/api/chatkit` (and
        renewed when it merely expired), so both UIs see the same user's threads."""
        services = await asyncio.to_thread(get_services)
        if not (self.session_data and self._token):
            await self._create("")
        try:
            info = await services.issuer.validate(self.session_data["sessionId"], self._token)
        except ChatKitAppError as exc:
            if exc.code != "token_expired":
                raise
            self._keep(await services.issuer.refresh(self.session_data["sessionId"], self._token))
            info = await services.issuer.validate(self.session_data["sessionId"], self._token)
        return RequestContext(info.user_id, info.session_id, info.workflow_id, self._backend_base())

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

    def _user_id(self, services: Services) -> str:
        headers = dict(self.router.headers.raw_headers)
        custom = resolve_custom_identity(headers)
        if custom:
            return custom
        user_id = user_id_from_cookie(services.secret, self.anon_cookie)
        if user_id is None:
            self.anon_cookie = mint_anonymous_cookie(services.secret)
            user_id = user_id_from_cookie(services.secret, self.anon_cookie)
        assert user_id is not None
        return user_id

    async def _create(self, workflow_id: str, requested_user: str = "") -> None:
        services = await asyncio.to_thread(get_services)
        user_id = self._user_id(services)
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
        if not self.session_data:
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
        try:
            info = await services.issuer.validate(self.session_data["sessionId"], self._token)
        except ChatKitAppError:
            self._forget()
            raise
        self.last_check = f"valid until {iso_utc(info.expires_at)}"
