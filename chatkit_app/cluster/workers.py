"""How many backend workers `reflex run` starts, and that a dead one is replaced.

Reflex's production run (`reflex.utils.exec.run_granian_backend_prod`) starts
`granian.server.Server(..., workers=int(GRANIAN_WORKERS or 2 * cores + 1 with Redis))` and
passes no respawn option: one worker that dies (`kill -9`, out of memory) stops the whole
host. `rxconfig.py` is imported by the `reflex` command before it starts Granian, and calls
`configure_backend`: the worker count comes from our settings (`CHATKIT_WORKERS`), and
Granian's `respawn_failed_workers` is on (the failed worker is started again; a worker that
dies again within 5.5 s of its respawn is a crash loop, and then Granian stops).
`tests/e2e/test_worker_respawn.py` checks both against the real `reflex run --env prod`.
"""

from __future__ import annotations

import os
from typing import Any

from chatkit_app.settings import Settings


def configure_backend(settings: Settings) -> None:
    """For the `reflex run` process: Granian (not gunicorn, should it be installed), with
    `settings.workers` workers that are replaced when they die."""
    os.environ["GRANIAN_WORKERS"] = str(settings.workers)
    os.environ.setdefault("REFLEX_USE_GRANIAN", "true")
    respawn_failed_workers(kill_timeout=max(1, round(settings.chatkit_shutdown_grace_seconds)))


def respawn_failed_workers(kill_timeout: int | None = None) -> bool:
    """Make `respawn_failed_workers=True` the default of the Granian server class that
    Reflex looks up when it starts the backend (`from granian.server import Server`, at
    call time), and `kill_timeout` its `workers_kill_timeout`: on SIGTERM, replies in
    flight get that long (`CHATKIT_SHUTDOWN_GRACE_SECONDS`). Idempotent; False when
    Granian is not installed."""
    try:
        import granian.server as server
    except ImportError:
        return False
    if getattr(server.Server, "chatkit_respawns", False):
        server.Server.chatkit_kill_timeout = kill_timeout  # type: ignore[union-attr]
        return True

    class RespawningServer(server.Server):  # type: ignore[misc,valid-type]
        chatkit_respawns = True
        chatkit_kill_timeout = kill_timeout

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("respawn_failed_workers", True)
            kwargs.setdefault("workers_kill_timeout", self.chatkit_kill_timeout)
            super().__init__(*args, **kwargs)

    server.Server = RespawningServer
    return True
