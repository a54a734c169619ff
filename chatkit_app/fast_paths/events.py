"""Parsing each streamed event straight into its own class.

The SDK validates a streamed Responses event against the union of all ~60 event types
(~100 us an event); the event's `type` already names its class, and validating it as that
class takes ~3 us. A Chat Completions chunk is validated as `ChatCompletionChunk`
directly. Whatever does not fit (an event type newer than this SDK, a malformed event)
returns None, and the SDK's own lenient parsing decides.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Union

import pydantic
from agents.items import TResponseStreamEvent
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent

RESPONSE_STREAM_EVENT: object = ResponseStreamEvent
# The members of `ResponseStreamEvent` (Annotated[Union[...], ...]) as a union tagged by
# `type`, built once here (~0.1 s) rather than on the first streamed event.
_EVENT_CLASSES: Any = Union[typing.get_args(typing.get_args(ResponseStreamEvent)[0])]  # noqa: UP007
_RESPONSE_EVENTS: pydantic.TypeAdapter[TResponseStreamEvent] = pydantic.TypeAdapter(
    Annotated[_EVENT_CLASSES, pydantic.Field(discriminator="type")]
)


def parse_stream_event(data: object, cast_to: object) -> object | None:
    """`data` (one streamed event's JSON) as `cast_to` (the stream's event type), when it
    is a Responses event or a Chat Completions chunk that validates; else None."""
    if not isinstance(data, dict):
        return None
    try:
        if cast_to is RESPONSE_STREAM_EVENT:
            return _RESPONSE_EVENTS.validate_python(data)
        if cast_to is ChatCompletionChunk:
            return ChatCompletionChunk.model_validate(data)
    except pydantic.ValidationError:
        pass  # e.g. an event type newer than this SDK: its lenient parsing decides
    return None
