"""Early model calls: the streamed Responses call an answer needs, sent before the Agents
SDK asks for it, so that setting the run up overlaps the model's time to first token.

The call's parameters are never guessed: they are those the SDK sent the last time for the
same configuration (`EarlyCalls`, learned from the SDK's own call), with this answer's
input. The SDK's call takes the early one over only if its parameters are equal; otherwise
the early call is closed and that configuration gets no more of them. A call naming one
user's conversation or data at the model server is never learned: another user's early
call must not carry it.

One `EarlyCalls` belongs to one shared client and all its copies (`client.FastModelClient`);
an `EarlyCall` is one call in flight, owned by the client copy of the answer that made it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Hashable, Mapping
from typing import Any

import openai

from chatkit_app.fast_paths.internals import agents_responses_headers, is_given

# Parameters that may name one user's conversation or data at the model server.
PER_CONVERSATION = ("previous_response_id", "conversation", "prompt", "metadata", "user", "safety_identifier")


class EarlyCalls:
    """Per configuration: the parameters (all but `input`) of the SDK's last streamed call,
    or None once an early call did not match."""

    def __init__(self) -> None:
        self._templates: dict[Hashable, dict[str, Any] | None] = {}

    def configuration(self, key: Hashable) -> Hashable:
        """`key` with the headers the Agents SDK is told to add to its next call here
        (ChatKit's User-Agent): calls with other headers are another configuration."""
        return (key, tuple(sorted(agents_responses_headers().items())))

    def params(self, configuration: Hashable, model_input: list[Any]) -> dict[str, Any] | None:
        """The parameters of an early call with `model_input`; None when nothing is known."""
        template = self._templates.get(configuration)
        return None if template is None else {**template, "input": model_input}

    def learn(self, configuration: Hashable, model_input: list[Any], params: Mapping[str, Any]) -> None:
        """Remembers the SDK's call `params`, if it was the call for `model_input` and
        nothing in it is tied to one conversation."""
        if (
            params.get("input") == model_input
            and self._templates.get(configuration, {}) is not None
            and not any(is_given(params.get(name, openai.not_given)) for name in PER_CONVERSATION)
        ):
            self._templates[configuration] = {key: value for key, value in params.items() if key != "input"}

    def refuse(self, configuration: Hashable) -> None:
        """No more early calls for `configuration` (the SDK asked for something else)."""
        self._templates[configuration] = None


class EarlyCall:
    """One early call's request, sent in a task of its own; `sent` is done once its bytes
    are on the socket (`mark_sent`, called by the transport) or the call has ended."""

    def __init__(self, configuration: Hashable, params: dict[str, Any], request: Coroutine[Any, Any, Any]) -> None:
        self.configuration, self.params = configuration, params
        loop = asyncio.get_running_loop()
        self.sent: asyncio.Future[None] = loop.create_future()
        self.task: asyncio.Task[Any] = loop.create_task(request)
        self.task.add_done_callback(lambda _: self.mark_sent())

    def mark_sent(self) -> None:
        if not self.sent.done():
            self.sent.set_result(None)

    def sends_now(self) -> bool:
        """Whether the request being made now is this call's (it runs in its own task)."""
        return asyncio.current_task() is self.task

    async def close(self) -> None:
        task = self.task
        if not task.done():
            task.cancel()  # cancelling an unfinished request closes its connection
        elif not task.cancelled() and task.exception() is None:
            await task.result().close()
