"""Decoding a model's Server-Sent Events in whole frames, and merging waiting text deltas.

`FastSSEDecoder` is the openai SDK's SSE decoder with a fast path for streams whose lines
end in LF or CRLF (OpenAI's and the usual compatible servers'): each chunk is split into
whole events at blank lines and each event's lines are decoded at once, instead of line by
line through a regex and three generators; a Responses text delta frame is parsed straight
from its bytes. Text deltas of one content part that are waiting together go on as one
event (`coalesce`), so every layer after the decoder works once per run of tokens. A lone
CR, or a CRLF split between two chunks, hands the rest of the stream to the SDK's own
decoder, so every line end means exactly what it means there
(tests/unit/test_model_stream_fast_paths.py compares the two on random streams).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Hashable
from typing import Any, cast

from chatkit_app.core.coalesce import coalesce
from chatkit_app.fast_paths.internals import ServerSentEvent, SSEDecoderFields

TEXT_DELTA = "response.output_text.delta"
_DELTA_HEAD = b"event: " + TEXT_DELTA.encode() + b"\ndata: "


class FastSSEDecoder(SSEDecoderFields):
    """The SDK's decoder (same events), decoding whole frames and merging waiting deltas."""

    def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
        return coalesce(self._events(iterator), _delta_key, _join_deltas)

    async def _events(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
        pending = b""
        events: list[ServerSentEvent] = []
        try:
            async for chunk in iterator:
                if b"\r" in chunk:
                    if chunk.endswith(b"\r") or chunk.count(b"\r") != chunk.count(b"\r\n"):
                        async for sse in super().aiter_bytes(_prepend_bytes(pending, chunk, iterator)):
                            yield sse
                            if sse.data.startswith("[DONE]"):
                                return
                        return
                    chunk = chunk.replace(b"\r\n", b"\n")  # CRLF line ends, whole in this chunk
                *frames, pending = (pending + chunk).split(b"\n\n")
                self._decode_frames(frames, events)
                for sse in events:
                    yield sse
                    if sse.data.startswith("[DONE]"):
                        # Chat Completions' end: stop reading now. The SDK stops at this
                        # event and closes the response, which must not find our reader
                        # (`coalesce`) still waiting on the socket (anyio BusyResourceError).
                        return
                events.clear()
            for line in pending.decode("utf-8").split("\n")[:-1]:  # whole lines after the last event
                if (last := self.decode(line)) is not None:
                    yield last
        finally:
            self.reset()

    def _decode_frames(self, frames: list[bytes], events: list[ServerSentEvent]) -> None:
        for frame in frames:
            if (delta := _text_delta(frame)) is not None:
                events.append(delta)
                continue
            for line in frame.decode("utf-8").split("\n"):
                if line.startswith("data:"):
                    self.add_data(line[6:] if line.startswith("data: ") else line[5:])
                elif line.startswith("event:"):
                    self.set_event(line[7:] if line.startswith("event: ") else line[6:])
                elif (sse := self.decode(line)) is not None:  # id, retry, comments, other fields
                    events.append(sse)
            if (sse := self.decode("")) is not None:  # the blank line that ended the frame
                events.append(sse)


class ParsedSSE(ServerSentEvent):
    """A Responses text delta whose JSON was already parsed (to merge it): `json()`
    returns that object instead of parsing `data` again."""

    def __init__(self, data: str, parsed: dict[str, Any]) -> None:
        super().__init__(event=TEXT_DELTA, data=data)
        self.parsed = parsed

    def json(self) -> Any:
        return self.parsed


def _text_delta(frame: bytes) -> ParsedSSE | None:
    """A frame that is exactly one Responses text delta (an `event:` line, one `data:`
    line, nothing else), parsed; None for any other frame, which the SDK's rules decode."""
    if not frame.startswith(_DELTA_HEAD) or frame.find(b"\n", len(_DELTA_HEAD)) != -1:
        return None
    text = frame[len(_DELTA_HEAD) :].decode("utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if (
        type(data) is dict
        and data.get("type") == TEXT_DELTA
        and type(data.get("delta")) is str
        and type(data.get("logprobs", [])) is list
        and isinstance(data.get("item_id"), str)
        and isinstance(data.get("output_index"), int)
        and isinstance(data.get("content_index"), int)
    ):
        return ParsedSSE(text, data)
    return None


def _delta_key(sse: ServerSentEvent) -> Hashable | None:
    """Where a parsed text delta goes (item, output, content part); None for other events."""
    if type(sse) is not ParsedSSE:
        return None
    data = sse.parsed
    return (data["item_id"], data["output_index"], data["content_index"])


def _join_deltas(events: list[ServerSentEvent]) -> ServerSentEvent:
    deltas = [cast(ParsedSSE, sse).parsed for sse in events]
    merged = dict(deltas[0])
    merged["delta"] = "".join(delta["delta"] for delta in deltas)
    if "logprobs" in merged:
        merged["logprobs"] = [lp for delta in deltas for lp in delta.get("logprobs") or []]
    if "sequence_number" in deltas[-1]:
        merged["sequence_number"] = deltas[-1]["sequence_number"]
    return ParsedSSE(json.dumps(merged, ensure_ascii=False, separators=(",", ":")), merged)


async def _prepend_bytes(first: bytes, second: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    yield second
    async for chunk in rest:
        yield chunk
