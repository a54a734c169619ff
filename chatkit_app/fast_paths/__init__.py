"""The fast paths: cheaper ways through the openai, openai-agents and openai-chatkit SDKs
and aiohttp, for what a streamed answer costs per token and before its first token.

Each means exactly what the SDK's own path means (the tests compare them), and all of
them rest on private names of those dependencies, used only through `internals` and
checked there by tests/unit/test_fast_path_internals.py. `CHATKIT_FAST_PATHS=off`
(`enabled`) runs the plain SDK paths instead, and then nothing imports `internals`: an
upgrade that removed one of its names stops the start only with the fast paths on, with
one line saying to turn them off (`check_available`).

Below `workflows` and `chatkit_server`: imports only `chatkit_app.core` and
`chatkit_app.settings` of the app.

- `shared_client(settings)`: the model client (`client.FastModelClient` or the plain
  `ModelClient`), with `responses.start_early / early_call_sent / close_early`;
- `pacing`, `sse`, `events`, `responses_request`, `early_call`: its pieces;
- `server_frames` and `process_parsed` / `stream_parsed`: the ChatKit server's (imported
  on first use, which happens only with the fast paths on);
- `agent_identity.name_agents_directly()`: the Agents SDK's per-run agent identity map
  without signing each agent when no name repeats (process-wide, set by the server).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chatkit_app.fast_paths.plain import ModelClient
from chatkit_app.fast_paths.shared import close_shared_clients, shared_client
from chatkit_app.fast_paths.switch import FastPathsUnavailable, check_available, enabled

if TYPE_CHECKING:  # at run time, imported on first use (`__getattr__`)
    from chatkit_app.fast_paths.agent_identity import name_agents_directly
    from chatkit_app.fast_paths.client import FastModelClient
    from chatkit_app.fast_paths.internals import process_parsed, stream_parsed
    from chatkit_app.fast_paths.server_frames import write_text_deltas_directly

_LAZY = {
    "name_agents_directly": "chatkit_app.fast_paths.agent_identity",
    "FastModelClient": "chatkit_app.fast_paths.client",
    "process_parsed": "chatkit_app.fast_paths.internals",
    "stream_parsed": "chatkit_app.fast_paths.internals",
    "write_text_deltas_directly": "chatkit_app.fast_paths.server_frames",
}

__all__ = [
    "FastModelClient",
    "FastPathsUnavailable",
    "ModelClient",
    "check_available",
    "close_shared_clients",
    "enabled",
    "name_agents_directly",
    "process_parsed",
    "shared_client",
    "stream_parsed",
    "write_text_deltas_directly",
]


def __getattr__(name: str) -> Any:
    """The fast paths' own names, imported when first used (then kept as attributes)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
