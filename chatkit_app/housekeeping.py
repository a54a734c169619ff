"""The hourly clean-up: what the app stores only for a while is removed when its time is
up, so the database and the file storage do not grow forever.

- uploads never sent in a message, a day after they were created (rows and files);
- session rows past their absolute lifetime (no token of theirs works any more);
- model-usage rows older than the 24-hour window of the token quota;
- sign-ins (CHATKIT_AUTH=oidc) that ended: signed out, idle too long or too old.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from chatkit_app.services import Services, get_services

logger = logging.getLogger("chatkit_app.housekeeping")
SWEEP_INTERVAL_SECONDS = 3600


@dataclass(frozen=True)
class SweepReport:
    unsent_uploads: int
    expired_sessions: int
    old_usage: int
    ended_sign_ins: int = 0


async def sweep(services: Services, *, now: float | None = None) -> SweepReport:
    """One clean-up pass; `now` (Unix seconds) for tests, else the services' clocks."""
    unsent = await services.attachments.sweep_unsent(now=now)
    sessions = await services.run_db(services.sessions.delete_expired, now)
    usage = await services.limits.sweep_usage(now=now)
    sign_ins = await services.run_db(services.site_sessions.sweep, now)
    return SweepReport(unsent, sessions, usage, sign_ins)


async def sweep_hourly() -> None:
    """The backend's lifespan task: a sweep every hour, failures logged, never fatal."""
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)
        try:
            report = await sweep(await asyncio.to_thread(get_services))
        except Exception:
            logger.exception("housekeeping sweep failed")
            continue
        if report.unsent_uploads or report.expired_sessions or report.old_usage or report.ended_sign_ins:
            logger.info(
                "removed %d unsent uploads, %d expired sessions, %d old usage rows, %d ended sign-ins",
                report.unsent_uploads,
                report.expired_sessions,
                report.old_usage,
                report.ended_sign_ins,
            )
