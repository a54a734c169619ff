"""The one switch for every fast path (`CHATKIT_FAST_PATHS`, on by default).

Off, the app runs the SDKs' plain public paths: the openai client on its default
transport (no pacing, no own SSE decoding or event parsing, no early model calls) and
ChatKit's own request processing and serialization. Answers are the same, only slower
(bench/streaming.py reports both). Turn it off when an upgrade of openai, openai-agents,
openai-chatkit or aiohttp breaks a private name the fast paths rely on
(`fast_paths.internals`): then nothing imports them.
"""

from __future__ import annotations

import importlib

from chatkit_app.settings import Settings

FAST_MODULES = ("internals", "client", "server_frames")


class FastPathsUnavailable(RuntimeError):
    """A private name the fast paths rely on is gone (an upgraded dependency)."""


def enabled(settings: Settings) -> bool:
    return settings.chatkit_fast_paths


def check_available(settings: Settings) -> None:
    """At startup, with the fast paths on: import them now, so a private name an upgrade
    removed stops the start with one line saying what to do, not the first answer."""
    if not enabled(settings):
        return
    for name in FAST_MODULES:
        try:
            importlib.import_module(f"chatkit_app.fast_paths.{name}")
        except (ImportError, AttributeError, TypeError) as exc:
            raise FastPathsUnavailable(
                f"the fast paths cannot load ({type(exc).__name__}: {exc}); a dependency changed a "
                "private name they use (chatkit_app/fast_paths/internals.py). Set CHATKIT_FAST_PATHS=off "
                "to run the plain SDK paths."
            ) from None
