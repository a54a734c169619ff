"""Session service: create, refresh (rotate), validate, revoke. No HTTP here.

Each session is a row holding the `jti` of its one live token. Refresh swaps that jti
in a single conditional UPDATE, so an old token can never be refreshed twice; showing
a rotated-away token to refresh is treated as theft and revokes the whole session.
Refresh comes in two steps (`begin_refresh`, `finish_refresh`) so that the issuer can
mint a hosted workflow's upstream session between the check and the rotation.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, bindparam, delete, insert, select, update

from chatkit_app.auth.tokens import TokenClaims, TokenCodec
from chatkit_app.core.workflow_lookup import WorkflowInfo, WorkflowLookup
from chatkit_app.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from chatkit_app.models import ChatSession

USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,128}$")
MAX_METADATA_BYTES = 4096
MAX_METADATA_KEYS = 32
MAX_METADATA_DEPTH = 4

_TABLE = ChatSession.__table__  # type: ignore[attr-defined]
_ROW_COLUMNS = (
    "id",
    "user_id",
    "workflow_id",
    "metadata",
    "current_jti",
    "absolute_expires_at",
    "revoked_at",
    "upstream_session_id",
)

# Statements are built once: rebuilding them per call costs more than the SQL itself.
_INSERT = insert(_TABLE)
_SELECT = select(*(_TABLE.c[name] for name in _ROW_COLUMNS)).where(_TABLE.c.id == bindparam("sid"))
_ROTATE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("sid"), _TABLE.c.current_jti == bindparam("old_jti"), _TABLE.c.revoked_at.is_(None))
    .values(
        current_jti=bindparam("new_jti"),
        token_expires_at=bindparam("expires_at"),
        refreshed_at=bindparam("now"),
        refresh_count=_TABLE.c.refresh_count + 1,
    )
)
_ROTATE_HOSTED = _ROTATE.values(upstream_session_id=bindparam("upstream"))
_REVOKE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("sid"), _TABLE.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"), revoked_reason=bindparam("reason"))
)


def new_session_id() -> str:
    """`cks_` + 192 random bits."""
    return "cks_" + secrets.token_urlsafe(24)


def new_jti() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class IssuedSession:
    session_id: str
    token: str
    expires_at: int
    expires_in: int
    user_id: str
    workflow_id: str
    mode: str
    metadata: dict[str, Any] = field(default_factory=dict)
    client_secret: str | None = field(default=None, repr=False)  # hosted only, never stored


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    user_id: str
    workflow_id: str
    metadata: dict[str, Any]
    current_jti: str
    absolute_expires_at: int
    revoked_at: int | None
    upstream_session_id: str | None


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """A checked refresh not yet rotated: `begin_refresh` verified the token, the jti and
    the session's liveness; `finish_refresh` rotates only if nobody rotated meanwhile."""

    row: SessionRow
    workflow: WorkflowInfo
    old_jti: str
    now: int
    expires_at: int

    @property
    def expires_in(self) -> int:
        return max(0, self.expires_at - self.now)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: str
    user_id: str
    workflow_id: str
    expires_at: int


def validate_user_id(user_id: object) -> str:
    if not isinstance(user_id, str) or not USER_ID_PATTERN.match(user_id):
        raise ValidationFailed(
            "userId must be 1-128 characters of letters, digits and _ . : @ + -",
            code="validation_error",
        )
    return user_id


def validate_metadata(metadata: object) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ValidationFailed("metadata must be a JSON object.")
    if len(metadata) > MAX_METADATA_KEYS:
        raise ValidationFailed(f"metadata may hold at most {MAX_METADATA_KEYS} keys.")
    if _depth(metadata) > MAX_METADATA_DEPTH:
        raise ValidationFailed(f"metadata may nest at most {MAX_METADATA_DEPTH} levels.")
    if len(json.dumps(metadata, separators=(",", ":")).encode()) > MAX_METADATA_BYTES:
        raise ValidationFailed(f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON.")
    return metadata


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(inner) for inner in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(inner) for inner in value), default=0)
    return 0


_DELETE_EXPIRED = delete(_TABLE).where(_TABLE.c.absolute_expires_at <= bindparam("now"))


class SessionService:
    def __init__(
        self,
        engine: Engine,
        codec: TokenCodec,
        registry: WorkflowLookup,
        *,
        token_ttl_seconds: int,
        max_age_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._codec = codec
        self.registry = registry
        self._ttl = token_ttl_seconds
        self._max_age = max_age_seconds
        self._clock = clock
        # A new session's token lifetime, known before the row exists (hosted sessions
        # upstream are minted first, with the same lifetime).
        self.initial_expires_in = min(token_ttl_seconds, max_age_seconds)

    def create(
        self,
        user_id: str,
        workflow_id: str,
        metadata: dict[str, Any] | None = None,
        *,
        upstream_session_id: str | None = None,
    ) -> IssuedSession:
        user_id = validate_user_id(user_id)
        metadata = validate_metadata(metadata)
        workflow = self.registry.get(workflow_id)
        now = int(self._clock())
        session_id, jti = new_session_id(), new_jti()
        absolute = now + self._max_age
        expires_at = min(now + self._ttl, absolute)
        values = {
            "id": session_id,
            "user_id": user_id,
            "workflow_id": workflow.id,
            "metadata": metadata,
            "current_jti": jti,
            "created_at": now,
            "token_expires_at": expires_at,
            "absolute_expires_at": absolute,
            "refresh_count": 0,
        }
        if upstream_session_id is not None:
            values["upstream_session_id"] = upstream_session_id
        with self._engine.begin() as connection:
            connection.execute(_INSERT, values)
        return self._issued(workflow, session_id, user_id, metadata, jti, now, expires_at)

    def refresh(self, session_id: str, token: str) -> IssuedSession:
        return self.finish_refresh(self.begin_refresh(session_id, token))

    def begin_refresh(self, session_id: str, token: str) -> RefreshGrant:
        claims = self._codec.verify(token, verify_exp=False)
        row = self._load_for(session_id, claims)
        now = int(self._clock())
        if claims.jti != row.current_jti:
            # Checked before liveness: a replay always answers token_reused.
            self._revoke(row.id, now, "token_reused")
            raise _reused(revoked=True)
        self._check_alive(row, now)
        workflow = self.registry.get(row.workflow_id)
        return RefreshGrant(row, workflow, claims.jti, now, min(now + self._ttl, row.absolute_expires_at))

    def finish_refresh(self, grant: RefreshGrant, *, upstream_session_id: str | None = None) -> IssuedSession:
        """Rotates the jti (and, for hosted workflows, records the new upstream session)."""
        row, new = grant.row, new_jti()
        values = {"sid": row.id, "old_jti": grant.old_jti, "new_jti": new, "expires_at": grant.expires_at}
        values["now"] = grant.now
        statement = _ROTATE
        if upstream_session_id is not None:
            statement, values["upstream"] = _ROTATE_HOSTED, upstream_session_id
        with self._engine.begin() as connection:
            result = connection.execute(statement, values)
        if result.rowcount != 1:
            # Another refresh with the same token won the race: a replay.
            self._revoke(row.id, grant.now, "token_reused")
            raise _reused(revoked=True)
        return self._issued(grant.workflow, row.id, row.user_id, row.metadata, new, grant.now, grant.expires_at)

    def validate(self, session_id: str, token: str) -> SessionInfo:
        return self.authenticate(token, session_id=session_id)

    def authenticate(self, token: str, *, session_id: str | None = None) -> SessionInfo:
        """A live, current, unexpired token; `session_id` pins it to one session."""
        claims = self._codec.verify(token, now=self._clock())
        row = self._load_for(session_id or claims.session_id, claims)
        self._check_alive(row, int(self._clock()))
        if claims.jti != row.current_jti:
            raise _reused(revoked=False)
        return SessionInfo(row.id, row.user_id, row.workflow_id, claims.expires_at)

    def revoke_with_token(self, session_id: str, token: str) -> str | None:
        """Revokes; returns the upstream session id to cancel (hosted), if any."""
        claims = self._codec.verify(token, verify_exp=False)
        row = self._load_for(session_id, claims)
        now = int(self._clock())
        self._check_alive(row, now)
        if claims.jti != row.current_jti:
            raise _reused(revoked=False)
        self._revoke(row.id, now, "revoked")
        return row.upstream_session_id

    def revoke(self, session_id: str) -> str | None:
        """Server-to-server revoke (API key); idempotent for a known session. Returns the
        upstream session id to cancel (hosted), if the session was live."""
        row = self._get(session_id)
        if row.revoked_at is not None:
            return None
        self._revoke(row.id, int(self._clock()), "revoked")
        return row.upstream_session_id

    def live_for_user(self, session_id: str, user_id: str) -> SessionInfo:
        """A session the server-decided `user_id` owns and may still use, without its token:
        the in-process UI holds only the session id, never the token."""
        row = self._get(session_id)
        if row.user_id != user_id:
            raise NotFound("No session with that id.", code="session_not_found")
        self._check_alive(row, int(self._clock()))
        return SessionInfo(row.id, row.user_id, row.workflow_id, row.absolute_expires_at)

    def revoke_user(self, user_id: str) -> list[str]:
        """Sign-out: every live session of the user ends now. Returns the upstream
        sessions (hosted) to cancel."""
        live = (_TABLE.c.user_id == user_id) & _TABLE.c.revoked_at.is_(None)
        with self._engine.begin() as connection:
            upstream = connection.execute(select(_TABLE.c.upstream_session_id).where(live)).scalars().all()
            connection.execute(
                update(_TABLE).where(live).values(revoked_at=int(self._clock()), revoked_reason="signed_out")
            )
        return [value for value in upstream if value]

    def is_live(self, session_id: str, user_id: str) -> bool:
        """Whether `session_id` is `user_id`'s and neither revoked nor past its max age
        (signed preview URLs die with the session they were made for)."""
        try:
            self.live_for_user(session_id, user_id)
        except (NotFound, Unauthorized):
            return False
        return True

    def revoked_upstream_session(self, session_id: str) -> str | None:
        """The upstream session of a revoked session (after a replay revoked it), to cancel."""
        try:
            row = self._get(session_id)
        except NotFound:
            return None
        return row.upstream_session_id if row.revoked_at is not None else None

    def _issued(
        self,
        workflow: WorkflowInfo,
        session_id: str,
        user_id: str,
        metadata: dict[str, Any],
        jti: str,
        now: int,
        expires_at: int,
    ) -> IssuedSession:
        token = self._codec.issue(
            user_id=user_id,
            session_id=session_id,
            workflow_id=workflow.id,
            jti=jti,
            issued_at=now,
            expires_at=expires_at,
        )
        return IssuedSession(
            session_id, token, expires_at, max(0, expires_at - now), user_id, workflow.id, workflow.mode, metadata
        )

    def _get(self, session_id: str) -> SessionRow:
        with self._engine.connect() as connection:
            found = connection.execute(_SELECT, {"sid": session_id}).first()
        if found is None:
            raise NotFound("No session with that id.", code="session_not_found")
        return SessionRow(*found)

    def _load_for(self, session_id: str, claims: TokenClaims) -> SessionRow:
        if claims.session_id != session_id:
            raise Forbidden("This token belongs to a different session.")
        try:
            row = self._get(session_id)
        except NotFound:
            raise Unauthorized("The session token is invalid.", code="invalid_token") from None
        if row.user_id != claims.user_id or row.workflow_id != claims.workflow_id:
            raise Unauthorized("The session token is invalid.", code="invalid_token")
        return row

    @staticmethod
    def _check_alive(row: SessionRow, now: int) -> None:
        if row.revoked_at is not None:
            raise Unauthorized("This session has been revoked.", code="session_revoked")
        if now >= row.absolute_expires_at:
            raise Unauthorized("This session has reached its maximum age; start a new one.", code="session_expired")

    def _revoke(self, session_id: str, now: int, reason: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(_REVOKE, {"sid": session_id, "now": now, "reason": reason})

    def delete_expired(self, now: float | None = None) -> int:
        """Housekeeping: delete the rows of sessions past their absolute lifetime (no
        token of theirs can be used or refreshed any more); how many."""
        at = int(self._clock() if now is None else now)
        with self._engine.begin() as connection:
            return int(connection.execute(_DELETE_EXPIRED, {"now": at}).rowcount or 0)


def _reused(*, revoked: bool) -> Unauthorized:
    message = "This token was already replaced by a refresh."
    if revoked:
        message += " Reusing it looks like theft, so the session has been revoked."
    return Unauthorized(message, code="token_reused")
