"""Site sessions: who signed in through the OpenID provider (CHATKIT_AUTH=oidc).

The cookie carries 256 random bits; the table keeps only their SHA-256, so rows read
from a backup are no sign-in. A session ends at sign-out, after `idle_seconds` without a
request, or `max_age_seconds` after sign-in, whichever comes first. Blocking (SQLAlchemy
Core); the callers run it off the event loop.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, or_, select, update

from chatkit_app.models import SiteSession

SITE_COOKIE = "chatkit_site"
TOUCH_EVERY_SECONDS = 60  # last_seen_at is written at most once a minute per session
_TABLE = SiteSession.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SignedIn:
    user_id: str
    email: str | None
    name: str | None


def _key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


class SiteSessions:
    def __init__(
        self, engine: Engine, *, idle_seconds: int, max_age_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._engine = engine
        self._idle = idle_seconds
        self._max_age = max_age_seconds
        self._clock = clock

    def create(self, user_id: str, email: str | None, name: str | None) -> str:
        """A new sign-in; returns the cookie value (shown once, never stored)."""
        cookie = secrets.token_urlsafe(32)
        now = int(self._clock())
        with self._engine.begin() as connection:
            connection.execute(
                insert(_TABLE).values(
                    id=_key(cookie),
                    user_id=user_id,
                    email=email,
                    name=name,
                    created_at=now,
                    last_seen_at=now,
                    absolute_expires_at=now + self._max_age,
                )
            )
        return cookie

    def resolve(self, cookie: str | None) -> SignedIn | None:
        """The signed-in user behind a cookie, or None when it is unknown, signed out,
        idle too long or too old."""
        if not cookie or len(cookie) > 128:
            return None
        key, now = _key(cookie), int(self._clock())
        with self._engine.connect() as connection:
            row = connection.execute(
                select(_TABLE.c.user_id, _TABLE.c.email, _TABLE.c.name, _TABLE.c.last_seen_at).where(
                    _TABLE.c.id == key,
                    _TABLE.c.revoked_at.is_(None),
                    _TABLE.c.absolute_expires_at > now,
                    _TABLE.c.last_seen_at > now - self._idle,
                )
            ).first()
            if row is None:
                return None
            if now - row.last_seen_at >= TOUCH_EVERY_SECONDS:
                connection.execute(update(_TABLE).where(_TABLE.c.id == key).values(last_seen_at=now))
                connection.commit()
        return SignedIn(row.user_id, row.email, row.name)

    def revoke(self, cookie: str | None) -> str | None:
        """Sign-out of this browser; returns its user only if the sign-in was still live
        (an old, ended cookie signs nobody out of anything)."""
        if not cookie or len(cookie) > 128:
            return None
        key, now = _key(cookie), int(self._clock())
        live = (
            (_TABLE.c.id == key)
            & _TABLE.c.revoked_at.is_(None)
            & (_TABLE.c.absolute_expires_at > now)
            & (_TABLE.c.last_seen_at > now - self._idle)
        )
        with self._engine.begin() as connection:
            user = connection.execute(select(_TABLE.c.user_id).where(live)).scalar()
            if user is not None:
                connection.execute(update(_TABLE).where(_TABLE.c.id == key).values(revoked_at=now))
        return user

    def revoke_user(self, user_id: str) -> None:
        """Every browser of this user is signed out."""
        with self._engine.begin() as connection:
            connection.execute(
                update(_TABLE)
                .where(_TABLE.c.user_id == user_id, _TABLE.c.revoked_at.is_(None))
                .values(revoked_at=int(self._clock()))
            )

    def sweep(self, now: float | None = None) -> int:
        """Deletes sessions that can no longer be used; returns how many."""
        now = int(self._clock() if now is None else now)
        with self._engine.begin() as connection:
            result = connection.execute(
                delete(_TABLE).where(
                    or_(
                        _TABLE.c.revoked_at.is_not(None),
                        _TABLE.c.absolute_expires_at <= now,
                        _TABLE.c.last_seen_at <= now - self._idle,
                    )
                )
            )
        return int(result.rowcount or 0)
