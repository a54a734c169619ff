"""The hourly clean-up: what the app stores only for a while is removed when its time is
up, so the database and the file storage do not grow forever.

- uploads never sent in a message, a day after they were created (rows and files);
- session rows past their absolute lifetime (no token of theirs works any more);
- model-usage rows older than the 24-hour window of the token quota;
- sign-ins (CHATKIT_AUTH=oidc) that ended: signed out, idle too long or too old.

Once per cluster: at the top of each hour one process of all hosts sweeps
(`chatkit_app/cluster/once.py`: a Redis lease, PostgreSQL's advisory lock or a file lock).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from chatkit_app.cluster.once import Turn, every_window, turn_for
from chatkit_app.services import Services, get_services

logger = logging.getLogger("chatkit_app.housekeeping")
SWEEP_INTERVAL_SECONDS = 3600
JOB = "housekeeping"


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
    """The backend's lifespan task: every hour, in the one process whose turn it is, a
    sweep; failures logged, never fatal."""

    def make_turn() -> Turn:
        return turn_for(get_services().settings, JOB, SWEEP_INTERVAL_SECONDS)

    await every_window(JOB, SWEEP_INTERVAL_SECONDS, make_turn, sweep_and_log)


async def sweep_and_log(services: Services | None = None) -> SweepReport:
    report = await sweep(services if services is not None else await asyncio.to_thread(get_services))
    if report.unsent_uploads or report.expired_sessions or report.old_usage or report.ended_sign_ins:
        logger.info(
            "removed %d unsent uploads, %d expired sessions, %d old usage rows, %d ended sign-ins",
            report.unsent_uploads,
            report.expired_sessions,
            report.old_usage,
            report.ended_sign_ins,
        )
    return report
