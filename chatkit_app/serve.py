"""`python -m chatkit_app.serve`: the production backend of one host, serving the frontend
that `make build` made once for every host (same asset names everywhere, the browser
pointed at `CHATKIT_PUBLIC_URL`).

`reflex run --env prod` builds the frontend itself on each start (hosts end up with
different asset names, and the browser is pointed at `ws://localhost:<port>` unless
`REFLEX_API_URL` is set); `reflex run --env prod --backend-only` serves no pages. This
runs what Reflex's production backend runs — Granian serving the app's ASGI factory,
the app not compiled again — with the prebuilt frontend mounted, and:

- `CHATKIT_WORKERS` workers, a worker that dies replaced (`respawn_failed_workers`);
- on SIGTERM, Granian stops accepting connections and lets requests in flight finish;
  replies still running after `CHATKIT_SHUTDOWN_GRACE_SECONDS` are cut by the worker's
  kill, and keep what they had streamed (`chatkit_server/checkpoint.py`).

The two switches it sets are Reflex's own (`reflex_base.environment`); `tests/e2e/
test_deploy_kit.py` runs this module for real, so a Reflex upgrade that renames them fails
there.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

FRONTEND = Path(".web") / "build" / "client"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chatkit_app.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("CHATKIT_HOST", "0.0.0.0"))  # noqa: S104 (a server)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from chatkit_app.ops import multiproc
    from chatkit_app.settings import ConfigError, check_production, resolve_secret, settings_or_exit

    settings = settings_or_exit()  # a bad setting (or workers without Redis): one line, exit 2
    try:  # here, once, rather than as a crash loop of every worker
        resolve_secret(settings, production=True)
        check_production(settings)
    except ConfigError as exc:
        print(f"chatkit_app: {exc}", file=sys.stderr)
        return 2
    if not (FRONTEND / "index.html").is_file():
        print(f"chatkit_app: no frontend build in {FRONTEND.resolve()}: run `make build` first", file=sys.stderr)
        return 2
    os.environ["REFLEX_ENV_MODE"] = "prod"
    if settings.chatkit_public_url:
        os.environ["REFLEX_API_URL"] = settings.chatkit_public_url  # as the build was told

    from granian.constants import Interfaces
    from granian.server import Server
    from reflex_base.environment import environment

    multiproc.prepare(settings.chatkit_data_dir)  # one metrics directory for all the workers
    environment.REFLEX_SKIP_COMPILE.set(True)  # the pages were compiled by `make build`
    environment.REFLEX_MOUNT_FRONTEND_COMPILED_APP.set(True)  # and are served from its output
    Server(
        target="chatkit_app.chatkit_app:app",
        factory=True,
        interface=Interfaces.ASGI,
        address=args.host,
        port=args.port,
        workers=settings.workers,
        respawn_failed_workers=True,
        workers_kill_timeout=max(1, round(settings.chatkit_shutdown_grace_seconds)),
    ).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
