"""The OpenAI client the assistant streams with: one per event loop and configuration.

With the fast paths on, `client.FastModelClient` on the paced aiohttp transport (imported
only then: it rests on private names); off, the plain `ModelClient`. Both leave the SDK's
retries off: `AgentRunner.respond` retries within its time budget.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from chatkit_app.fast_paths.plain import ModelClient
from chatkit_app.fast_paths.switch import enabled
from chatkit_app.settings import Settings

_ClientKey = tuple[bool, str, str | None, float]
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_ClientKey, ModelClient]] = (
    weakref.WeakKeyDictionary()
)


def shared_client(settings: Settings) -> ModelClient:
    """One client (one connection pool) per event loop and configuration: a
    `FastModelClient` on the paced aiohttp transport, or with the fast paths off a plain
    `ModelClient` on the SDK's default transport. Same timeout, no SDK retries."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    base_url = settings.openai_base_url or None
    timeout = settings.chatkit_upstream_timeout_seconds
    fast = enabled(settings)
    cache_key: _ClientKey = (fast, key, base_url, timeout)
    clients = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    if cache_key not in clients:
        options: dict[str, Any] = {"api_key": key, "base_url": base_url, "timeout": timeout, "max_retries": 0}
        if fast:
            from chatkit_app.fast_paths.client import FastModelClient
            from chatkit_app.fast_paths.pacing import PacedAioHttpClient

            clients[cache_key] = FastModelClient(http_client=PacedAioHttpClient(timeout=timeout), **options)
        else:
            clients[cache_key] = ModelClient(**options)
    return clients[cache_key]


async def close_shared_clients() -> None:
    """Closes this event loop's shared clients (an aiohttp session must be closed)."""
    for client in _CLIENTS.pop(asyncio.get_running_loop(), {}).values():
        await client.close()
