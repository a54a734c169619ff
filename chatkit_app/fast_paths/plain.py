"""The plain model client: `openai.AsyncOpenAI` as it is, on the SDK's default transport,
with the early-call interface of the fast client declining, so that callers need no second
code path. Public names only: it runs when a private name the fast paths use is gone
(`CHATKIT_FAST_PATHS=off`)."""

from __future__ import annotations

from collections.abc import Hashable
from functools import cached_property
from typing import Any

import openai
from openai.resources.responses import AsyncResponses


class ModelResponses(AsyncResponses):
    """The SDK's `responses`, with the early-call interface of `FastResponses` declining."""

    def start_early(self, key: Hashable, model_input: list[Any]) -> bool:
        """Sends no early call (the fast paths are off); False."""
        return False

    async def early_call_sent(self, at_most: float) -> None:
        """Returns at once: there is no early call."""

    async def close_early(self) -> None:
        """Nothing to close."""


class ModelClient(openai.AsyncOpenAI):
    """`openai.AsyncOpenAI` as it is, but for `responses.start_early` (which declines)."""

    @cached_property
    def responses(self) -> ModelResponses:
        return ModelResponses(self)
