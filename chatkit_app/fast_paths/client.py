"""The fast model client. With the fast paths on (`switch.enabled`), `FastModelClient`: the official SDK on its
aiohttp transport, read paced (`pacing`), decoding streams in whole frames and merging
waiting text deltas (`sse`), parsing each event straight into its class (`events`),
sending a streamed Responses call without the parameter walk (`responses_request`) and
able to send the model call early (`early_call`). Each piece means exactly what the SDK's
own path means (tests/unit/test_model_stream_fast_paths.py).

Imported only with the fast paths on (`shared.shared_client`): it rests on private names
(`internals`), which the plain `ModelClient` (`plain.py`) never touches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from functools import cached_property
from typing import Any, Self, TypeVar, cast

import httpx2

from chatkit_app.fast_paths.early_call import EarlyCall, EarlyCalls
from chatkit_app.fast_paths.events import parse_stream_event
from chatkit_app.fast_paths.internals import ClientHooks
from chatkit_app.fast_paths.pacing import ON_REQUEST_SENT
from chatkit_app.fast_paths.plain import ModelClient, ModelResponses
from chatkit_app.fast_paths.responses_request import sends_directly, streamed_create
from chatkit_app.fast_paths.sse import FastSSEDecoder

T = TypeVar("T")


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
