"""The OpenAI client the assistant streams with: one per event loop and configuration.

With the fast paths on (`switch.enabled`), `FastModelClient`: the official SDK on its
aiohttp transport, read paced (`pacing`), decoding streams in whole frames and merging
waiting text deltas (`sse`), parsing each event straight into its class (`events`),
sending a streamed Responses call without the parameter walk (`responses_request`) and
able to send the model call early (`early_call`). Each piece means exactly what the SDK's
own path means (tests/unit/test_model_stream_fast_paths.py).

With them off, `ModelClient`: the plain SDK client on its default transport, whose
`responses.start_early` declines, so that callers need no second code path.

Both leave the SDK's retries off: `AgentRunner.respond` retries within its time budget.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Hashable
from functools import cached_property
from typing import Any, Self, TypeVar, cast

import httpx2
import openai
from openai.resources.responses import AsyncResponses

from chatkit_app.fast_paths.early_call import EarlyCall, EarlyCalls
from chatkit_app.fast_paths.events import parse_stream_event
from chatkit_app.fast_paths.internals import ClientHooks
from chatkit_app.fast_paths.pacing import ON_REQUEST_SENT, PacedAioHttpClient
from chatkit_app.fast_paths.responses_request import sends_directly, streamed_create
from chatkit_app.fast_paths.sse import FastSSEDecoder
from chatkit_app.fast_paths.switch import enabled
from chatkit_app.settings import Settings

T = TypeVar("T")


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


class FastResponses(ModelResponses):
    """`AsyncResponses` with a cheaper streamed `create`, and early calls."""

    def __init__(self, client: FastModelClient) -> None:
        super().__init__(client)
        self.model_client = client
        self.early: EarlyCall | None = None  # sent by `start_early`, not yet taken over
        self._learning: tuple[Hashable, list[Any]] | None = None

    def start_early(self, key: Hashable, model_input: list[Any]) -> bool:
        """Sends now the streamed call the Agents SDK is about to make for `model_input`
        with the configuration `key` (`early_call.EarlyCalls`); True if one went out. The
        first call of a configuration only learns. `create` takes the call over, or closes
        it; `close_early` closes it when the run ends before calling."""
        calls = self.model_client.early_calls
        configuration = calls.configuration(key)
        self._learning = (configuration, model_input)
        params = calls.params(configuration, model_input)
        if params is None:
            return False
        self.early = EarlyCall(configuration, params, streamed_create(self.model_client, dict(params)))
        return True

    async def early_call_sent(self, at_most: float) -> None:
        """Waits (at most `at_most` seconds) until the early call's request is on the
        socket, or has failed; at once if there is none."""
        early = self.early
        if early is not None and not early.sent.done():
            await asyncio.wait((early.sent,), timeout=at_most)

    async def close_early(self) -> None:
        """Closes an early call the SDK did not take over (its run ended before calling)."""
        early, self.early = self.early, None
        if early is not None:
            await early.close()

    async def create(self, **params: Any) -> Any:
        early, self.early = self.early, None
        learning, self._learning = self._learning, None
        calls = self.model_client.early_calls
        if learning is not None:
            calls.learn(*learning, params)
        if early is not None:
            if early.params == params:
                return await early.task
            calls.refuse(early.configuration)  # unpredictable: no more early calls for it
            await early.close()
        if not sends_directly(params):
            return await super().create(**params)
        return await streamed_create(self.model_client, params)


class FastModelClient(ClientHooks, ModelClient):
    """`openai.AsyncOpenAI` with the fast paths; its copies (`with_options`, one per
    answer) share what early calls learned (`early_calls`)."""

    def __init__(self, *, early_calls: EarlyCalls | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.early_calls = early_calls if early_calls is not None else EarlyCalls()

    @cached_property
    def responses(self) -> FastResponses:
        return FastResponses(self)

    def copy(self, **kwargs: Any) -> Self:
        copied = super().copy(**kwargs)
        copied.early_calls = self.early_calls
        return copied

    with_options = copy

    def sse_decoder(self) -> FastSSEDecoder:
        return FastSSEDecoder()

    def parse_data(self, data: object, cast_to: type[T], response: httpx2.Response) -> T:
        parsed = parse_stream_event(data, cast_to)
        return cast(T, parsed) if parsed is not None else super().parse_data(data, cast_to, response)

    def prepare_request(self, request: httpx2.Request) -> None:
        early = self.responses.early
        if early is not None and early.sends_now():
            request.extensions[ON_REQUEST_SENT] = early.mark_sent


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
            clients[cache_key] = FastModelClient(http_client=PacedAioHttpClient(timeout=timeout), **options)
        else:
            clients[cache_key] = ModelClient(**options)
    return clients[cache_key]


async def close_shared_clients() -> None:
    """Closes this event loop's shared clients (an aiohttp session must be closed)."""
    for client in _CLIENTS.pop(asyncio.get_running_loop(), {}).values():
        await client.close()
