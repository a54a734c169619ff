"""The fast paths: cheaper ways through the openai, openai-agents and openai-chatkit SDKs
and aiohttp, for what a streamed answer costs per token and before its first token.

Each means exactly what the SDK's own path means (the tests compare them), and all of
them rest on private names of those dependencies, used only through `internals` and
checked there by tests/unit/test_fast_path_internals.py. `CHATKIT_FAST_PATHS=off`
(`enabled`) runs the plain SDK paths instead.

Below `workflows` and `chatkit_server`: imports only `chatkit_app.core` and
`chatkit_app.settings` of the app.

- `client`: `shared_client(settings)`, the model client (`FastModelClient` or the plain
  `ModelClient`), with `responses.start_early / early_call_sent / close_early`;
- `pacing`, `sse`, `events`, `responses_request`, `early_call`: its pieces;
- `server_frames` and `process_parsed` / `stream_parsed`: the ChatKit server's.
"""

from chatkit_app.fast_paths.client import (
    FastModelClient,
    ModelClient,
    close_shared_clients,
    shared_client,
)
from chatkit_app.fast_paths.internals import process_parsed, stream_parsed
from chatkit_app.fast_paths.server_frames import write_text_deltas_directly
from chatkit_app.fast_paths.switch import enabled

__all__ = [
    "FastModelClient",
    "ModelClient",
    "close_shared_clients",
    "enabled",
    "process_parsed",
    "shared_client",
    "stream_parsed",
    "write_text_deltas_directly",
]
