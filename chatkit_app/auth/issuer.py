"""`SessionIssuer`: the one entry point for issuing sessions, used by the HTTP routes and
the Reflex state alike.

Self-hosted workflows go straight to the session service (one database call, as before).
Hosted workflows also hold an OpenAI session; the order of steps keeps a client working
when OpenAI fails: create mints upstream first and cancels it if our insert fails; refresh
checks the token, mints a new upstream session, then rotates (cancelling the new one if
rotation fails) and only then cancels the old one. Cancels are best effort: logged, never
fatal.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from chatkit_app.auth.sessions import (
    IssuedSession,
    RefreshGrant,
    SessionInfo,
    SessionService,
    validate_metadata,
    validate_user_id,
)
from chatkit_app.core.workflow_lookup import WorkflowInfo, WorkflowLookup
from chatkit_app.errors import ChatKitAppError, ServiceUnavailable, Unauthorized
from chatkit_app.limits import LimitPolicy
from chatkit_app.ops import metrics
from chatkit_app.upstream.hosted import HostedSessions, file_upload_options

logger = logging.getLogger("chatkit_app.issuer")
T = TypeVar("T")


class SessionCaller(Protocol):
    """Runs one session-service operation the way the services do (`Services.call_sessions`)."""

    def __call__(self, operation: Callable[[SessionService], T], /) -> Awaitable[T]: ...


class SessionIssuer:
    def __init__(
        self,
        call: SessionCaller,
        registry: WorkflowLookup,
        *,
        initial_expires_in: int,
        hosted: HostedSessions | None = None,
        limits: LimitPolicy | None = None,
    ) -> None:
        self._call = call
        self._limits = limits
        self._registry = registry
        self._initial_expires_in = initial_expires_in
        self._hosted = hosted

    async def create(self, user_id: str, workflow_id: str, metadata: dict[str, Any] | None = None) -> IssuedSession:
        """A new session; counted against the user's session rate (`limits`), for the
        API-key backend too: it vouches for many users, each limited on their own."""
        if self._limits is not None:
            await self._limits.session(validate_user_id(user_id))
        workflow = self._registry.find(workflow_id)
        if workflow is None or workflow.mode != "hosted":  # unknown ids fail in the service, as before
            issued = await self._call(lambda s: s.create(user_id, workflow_id, metadata))
        else:
            issued = await self._create_hosted(workflow, validate_user_id(user_id), validate_metadata(metadata))
        metrics.session_issued("new")
        return issued

    async def refresh(self, session_id: str, token: str) -> IssuedSession:
        try:
            step = await self._call(lambda s: _refresh_unless_hosted(s, session_id, token))
            issued = step if isinstance(step, IssuedSession) else await self._refresh_hosted(step)
            metrics.session_issued("refresh")
            return issued
        except Unauthorized as exc:
            if exc.code == "token_reused" and self._hosted is not None:  # the replay revoked it: end it upstream too
                await self._cancel(await self._call(lambda s: s.revoked_upstream_session(session_id)))
            raise

    async def validate(self, session_id: str, token: str) -> SessionInfo:
        return await self._call(lambda s: s.validate(session_id, token))

    async def revoke(self, session_id: str) -> None:
        await self._cancel(await self._call(lambda s: s.revoke(session_id)))

    async def live_for_user(self, session_id: str, user_id: str) -> SessionInfo:
        return await self._call(lambda s: s.live_for_user(session_id, user_id))

    async def revoke_user(self, user_id: str) -> None:
        for upstream in await self._call(lambda s: s.revoke_user(user_id)):
            await self._cancel(upstream)

    async def revoke_with_token(self, session_id: str, token: str) -> None:
        await self._cancel(await self._call(lambda s: s.revoke_with_token(session_id, token)))

    async def _create_hosted(self, workflow: WorkflowInfo, user_id: str, metadata: dict[str, Any]) -> IssuedSession:
        upstream = await self._upstream().create(
            user=user_id,
            workflow_id=workflow.id,
            expires_in=self._initial_expires_in,
            file_upload=file_upload_options(workflow.ui),
        )
        try:
            issued = await self._call(
                lambda s: s.create(user_id, workflow.id, metadata, upstream_session_id=upstream.id)
            )
        except BaseException:
            await self._cancel(upstream.id)
            raise
        return dataclasses.replace(issued, client_secret=upstream.client_secret)

    async def _refresh_hosted(self, grant: RefreshGrant) -> IssuedSession:
        upstream = await self._upstream().create(
            user=grant.row.user_id,
            workflow_id=grant.workflow.id,
            expires_in=grant.expires_in,
            file_upload=file_upload_options(grant.workflow.ui),
        )
        try:
            issued = await self._call(lambda s: s.finish_refresh(grant, upstream_session_id=upstream.id))
        except BaseException:
            await self._cancel(upstream.id)
            raise
        await self._cancel(grant.row.upstream_session_id)
        return dataclasses.replace(issued, client_secret=upstream.client_secret)

    def _upstream(self) -> HostedSessions:
        if self._hosted is None:
            raise ServiceUnavailable(
                "This is a hosted (Agent Builder) workflow and the server has no OpenAI key: "
                "set OPENAI_API_KEY on the server.",
                code="upstream_not_configured",
            )
        return self._hosted

    async def _cancel(self, upstream_session_id: str | None) -> None:
        """Best effort: a failed cancel is logged (the session expires upstream anyway)."""
        if upstream_session_id is None or self._hosted is None:
            return
        try:
            await self._hosted.cancel(upstream_session_id)
        except ChatKitAppError as exc:
            logger.warning("could not cancel upstream session %s (%s)", upstream_session_id, exc.code)


def _refresh_unless_hosted(service: SessionService, session_id: str, token: str) -> IssuedSession | RefreshGrant:
    """One database call for self-hosted refreshes; hosted ones stop before rotating."""
    grant = service.begin_refresh(session_id, token)
    if grant.workflow.mode == "hosted":
        return grant
    return service.finish_refresh(grant)
