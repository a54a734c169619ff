"""`ChatSessionState`: the Python twin of the `useChatSession` hook.

It calls the session service in-process. The user is resolved on the server (a signed
anonymous cookie, or the app's own resolver); a `user_id` argument that disagrees
with it is refused, so a browser cannot ask for someone else's session. The token
lives in a backend-only var (`_token`) and never reaches the browser from here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import reflex as rx

from chatkit_app.api.schemas import iso_utc
from chatkit_app.auth.identity import ANON_COOKIE, mint_anonymous_cookie, resolve_custom_identity, user_id_from_cookie
from chatkit_app.errors import ChatKitAppError
from chatkit_app.services import Services, get_services
from chatkit_app.settings import is_production
from chatkit_app.workflows.openai_agent import describe_assistant

COOKIE_MAX_AGE = 400 * 24 * 3600


class ChatSessionState(rx.State):
    session_data: dict[str, Any] = {}
    is_loading: bool = False
    error: str = ""
    error_code: str = ""
    last_check: str = ""
    agent_label: str = ""
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

    @rx.event
    async def ensure_session(self) -> AsyncIterator[Any]:
        """On page load: keep a live session, creating one when there is none."""
        if self.session_data and self._token:
            return
        async for update in self._run(self._create, ""):
            yield update

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
            self.session_data, self._token = {}, ""
            self.error, self.error_code = "You can only open a session for yourself.", "forbidden"
            return
        workflow = workflow_id or services.registry.default_id
        issued = await asyncio.to_thread(services.sessions.create, user_id, workflow, {"source": "site"})
        self.agent_label = describe_assistant(services.settings) if workflow == "assistant" else workflow
        self._token = issued.token
        self.session_data = {
            "sessionId": issued.session_id,
            "userId": issued.user_id,
            "workflowId": issued.workflow_id,
            "expiresAt": iso_utc(issued.expires_at),
            "mode": issued.mode,
        }

    async def _refresh(self) -> None:
        if not self.session_data:
            await self._create("")
            return
        services = await asyncio.to_thread(get_services)
        try:
            issued = await asyncio.to_thread(services.sessions.refresh, self.session_data["sessionId"], self._token)
        except ChatKitAppError:
            self.session_data, self._token = {}, ""
            raise
        self._token = issued.token
        self.session_data = {**self.session_data, "expiresAt": iso_utc(issued.expires_at)}

    async def _validate(self) -> None:
        if not self.session_data:
            self.error, self.error_code = "There is no session yet.", "no_session"
            return
        services = await asyncio.to_thread(get_services)
        try:
            info = await asyncio.to_thread(services.sessions.validate, self.session_data["sessionId"], self._token)
        except ChatKitAppError:
            self.session_data, self._token = {}, ""
            raise
        self.last_check = f"valid until {iso_utc(info.expires_at)}"
