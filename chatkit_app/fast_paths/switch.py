"""The one switch for every fast path (`CHATKIT_FAST_PATHS`, on by default).

Off, the app runs the SDKs' plain public paths: the openai client on its default
transport (no pacing, no own SSE decoding or event parsing, no early model calls) and
ChatKit's own request processing and serialization. Answers are the same, only slower
(bench/streaming.py reports both). Turn it off when an upgrade of openai, openai-agents,
openai-chatkit or aiohttp breaks a private name the fast paths rely on
(`fast_paths.internals`).
"""

from __future__ import annotations

from chatkit_app.settings import Settings


def enabled(settings: Settings) -> bool:
    return settings.chatkit_fast_paths
