"""The ChatKit server's text delta frames, written directly instead of through pydantic.

(Its other fast path, processing the endpoint's parsed request instead of parsing the body
again with a new `TypeAdapter`, is `internals.process_parsed`.)"""

from __future__ import annotations

import json
from typing import Any

from chatkit.server import ChatKitServer
from chatkit.types import AssistantMessageContentPartTextDelta, ThreadItemUpdatedEvent
from pydantic import BaseModel

from chatkit_app.fast_paths.internals import write_frames_with

_TEXT_DELTA_FRAME = (
    b'{"type":"thread.item.updated","item_id":%s,'
    b'"update":{"type":"assistant_message.content_part.text_delta","content_index":%d,"delta":%s}}'
)


def text_delta_frame(obj: BaseModel) -> bytes | None:
    """A text delta event (most frames of an answer) as the SDK's JSON, at half the cost
    (tests/unit/test_model_stream_fast_paths.py); None for anything else."""
    if type(obj) is ThreadItemUpdatedEvent and type(obj.update) is AssistantMessageContentPartTextDelta:
        return _TEXT_DELTA_FRAME % (
            json.dumps(obj.item_id).encode(),
            obj.update.content_index,
            json.dumps(obj.update.delta).encode(),
        )
    return None


def write_text_deltas_directly(server: ChatKitServer[Any]) -> None:
    """From now on `server` writes text delta frames with `text_delta_frame`."""
    write_frames_with(server, text_delta_frame)
