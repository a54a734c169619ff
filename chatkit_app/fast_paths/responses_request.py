"""Sending a streamed Responses call without the SDK's walk of its parameters.

`AsyncResponses.create` checks every parameter against its TypedDict before sending
(~1-2 ms a request, a tenth of the server's CPU at 50 streams). The Responses parameters
have no aliased or formatted fields, so that walk only drops omitted values and dumps
pydantic models, as `_plain` does; the request body is the same JSON
(tests/unit/test_model_stream_fast_paths.py compares both requests' bodies).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import openai
import pydantic
from openai.resources.responses import AsyncResponses
from openai.types.responses import Response, ResponseStreamEvent

from chatkit_app.fast_paths.internals import is_given, make_request_options, model_dump

CREATE_PARAMETERS = frozenset(inspect.signature(AsyncResponses.create).parameters) - {"self"}


def sends_directly(params: Mapping[str, Any]) -> bool:
    """Whether `streamed_create` can send a `create` with these parameters: a streamed
    call whose parameters the SDK knows (anything else takes the SDK's own way)."""
    return params.get("stream") is True and params.keys() <= CREATE_PARAMETERS


async def streamed_create(client: openai.AsyncOpenAI, params: dict[str, Any]) -> Any:
    """`client.responses.create(**params)` for a streamed call: the same request, sent
    through the client's public `post`. Takes `params` over (pops the extra options)."""
    options = make_request_options(
        extra_headers=params.pop("extra_headers", None),
        extra_query=params.pop("extra_query", None),
        extra_body=params.pop("extra_body", None),
        timeout=params.pop("timeout", openai.not_given),
        security={"bearer_auth": True},
    )
    body = {key: _plain(value) for key, value in params.items() if is_given(value)}
    return await client.post(
        "/responses",
        body=body,
        options=options,
        cast_to=Response,
        stream=True,
        stream_cls=openai.AsyncStream[ResponseStreamEvent],
    )


def _plain(value: object) -> object:
    if isinstance(value, pydantic.BaseModel):
        return model_dump(value, exclude_unset=True, mode="json", exclude=getattr(value, "__api_exclude__", None))
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items() if is_given(item)}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | bytearray):
        return [_plain(item) for item in value]
    return value
