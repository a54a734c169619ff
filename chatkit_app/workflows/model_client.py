"""The assistant's OpenAI client, which now lives in `chatkit_app.fast_paths` (kept here
for importers: `OpenAIClient` is the type `shared_client` returns, fast paths on or off)."""

from chatkit_app.fast_paths.client import ModelClient as OpenAIClient
from chatkit_app.fast_paths.client import close_shared_clients, shared_client

__all__ = ["OpenAIClient", "close_shared_clients", "shared_client"]
