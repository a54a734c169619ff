"""Attachments as the model's input: images as image input, PDFs as file input, text files
as text. The bytes come from our storage, read for the turn's user only
(`core.files.AttachmentReader`), and go inline (base64): the model server never fetches a
URL of ours, so nothing has to be public. Both APIs take the result: the Agents SDK turns
image and file parts into Chat Completions' `image_url` and `file` parts.

What the model server cannot take (`CHATKIT_MODEL_INPUTS`) or what is over the size caps
(`CHATKIT_MODEL_MAX_FILE_MB` per attachment, `CHATKIT_MODEL_MAX_TURN_MB` per model call)
is described by name instead, with a note saying why, so the model can say so too. A file
of the user's new message over a cap is also named in a notice to the user, before the
answer; the stored message keeps the file either way. Earlier messages' files go to the
model again, as ChatKit's own converter sends them, within the caps: the newest message's
files first, so an old upload never crowds out the one the user just sent. All answers of
the process together hold at most `CHATKIT_MODEL_FILES_IN_FLIGHT_MB` of file bytes
(`core.byte_budget`): a file that does not fit then is named instead, and the user told.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import anyio.to_thread
from agents import TResponseInputItem
from chatkit.store import NotFoundError
from chatkit.types import Attachment, NoticeEvent, ThreadItem, UserMessageItem
from openai.types.responses import (
    ResponseInputContentParam,
    ResponseInputFileParam,
    ResponseInputImageParam,
    ResponseInputTextParam,
)

from chatkit_app.core.byte_budget import ByteBudget
from chatkit_app.errors import PayloadTooLarge, StorageUnavailable
from chatkit_app.settings import Settings
from chatkit_app.workflows.agent import Turn
from chatkit_app.workflows.history import Converter, describe

logger = logging.getLogger("chatkit_app.workflows.model_inputs")
Kind = Literal["text", "image", "file"]
MB = 1024 * 1024
# The image formats OpenAI's vision models take (and the only images uploads allow).
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
TEXT_TYPES = frozenset({"application/json", "application/xml", "application/x-yaml", "application/yaml"})
_NOT_TAKEN: dict[Kind | None, str] = {
    "image": "This assistant cannot view images, so you were given its name only",
    "file": "This assistant cannot read PDF files, so you were given its name only",
    "text": "This assistant is not given the content of text files, only their names",
    None: "Files of this type are not given to this assistant, only their names",
}


def model_kind(mime_type: str) -> Kind | None:
    """How a file of this type goes to a model, if at all."""
    if mime_type in IMAGE_TYPES:
        return "image"
    if mime_type == "application/pdf":
        return "file"
    if mime_type.startswith("text/") or mime_type in TEXT_TYPES or mime_type.endswith("+json"):
        return "text"
    return None


@dataclass(frozen=True, slots=True)
class ModelInputPolicy:
    """Which kinds of content the model takes, and how many file bytes it is sent."""

    kinds: frozenset[str]
    max_file_bytes: int
    max_turn_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelInputPolicy:
        return cls(
            kinds=settings.model_inputs,
            max_file_bytes=round(settings.chatkit_model_max_file_mb * MB),
            max_turn_bytes=round(settings.chatkit_model_max_turn_mb * MB),
        )


def converter_for(turn: Turn | None, settings: Settings, budget: ByteBudget | None = None) -> ModelInputConverter:
    """The converter for one turn: it reads the turn's user's files (each once) and tells
    the turn's user about those of their message that the model was not sent. Without a
    turn (a message that has no attachments), attachments would be described only. The
    bytes it read count in `budget` until `release()`."""
    return ModelInputConverter(ModelInputPolicy.from_settings(settings), turn, budget)


class ModelInputConverter(Converter):
    """`Converter` that sends attachments' content within `policy`; one per turn."""

    def __init__(self, policy: ModelInputPolicy, turn: Turn | None, budget: ByteBudget | None = None) -> None:
        self.policy = policy
        self.turn = turn
        self.budget = budget
        self._held = 0  # bytes counted in `budget`
        self._contents: dict[str, ResponseInputContentParam] = {}  # by attachment id
        self._sent_bytes = 0
        self._refused: list[str] = []  # lines of the notice to the user

    async def to_agent_input(self, thread_items: Sequence[ThreadItem] | ThreadItem) -> list[TResponseInputItem]:
        items = list(thread_items) if isinstance(thread_items, Sequence) else [thread_items]
        # The newest message's files are read first: they are the ones the budget is for.
        for item in reversed(items):
            if isinstance(item, UserMessageItem):
                for attachment in item.attachments:
                    await self.attachment_to_message_content(attachment)
        converted = await super().to_agent_input(items)
        if self._refused and self.turn is not None:
            lines, self._refused = self._refused, []
            message = "\n".join(f"- {line}" for line in lines) if len(lines) > 1 else lines[0]
            self.turn.notices.append(NoticeEvent(level="warning", title="Not sent to the assistant", message=message))
        return converted

    async def attachment_to_message_content(self, attachment: Attachment) -> ResponseInputContentParam:
        content = self._contents.get(attachment.id)
        if content is None:
            content = self._contents[attachment.id] = await self._content(attachment)
        return content

    async def _content(self, attachment: Attachment) -> ResponseInputContentParam:
        kind = model_kind(attachment.mime_type)
        if kind is None or kind not in self.policy.kinds:
            return describe(attachment, _NOT_TAKEN[kind])
        turn = self.turn
        if turn is None or turn.files is None:
            return describe(attachment, "Its content could not be read")
        policy = self.policy
        limit = min(policy.max_file_bytes, policy.max_turn_bytes - self._sent_bytes)
        size = _stored_size(attachment)
        if limit <= 0 or (size is not None and size > limit):
            per_file = size > policy.max_file_bytes if size is not None else limit == policy.max_file_bytes
            return self._too_large(attachment, size, per_file=per_file)
        reserved = size if size is not None else limit
        if self.budget is not None and not self.budget.take(reserved):
            return self._server_busy(attachment)
        try:
            data = await turn.files.read_bytes(attachment.id, turn.context, limit=limit)
        except Exception as exc:
            if self.budget is not None:
                self.budget.give(reserved)
            if isinstance(exc, NotFoundError):
                return describe(attachment, "The file is no longer available")
            if isinstance(exc, PayloadTooLarge):
                return self._too_large(attachment, size, per_file=limit == policy.max_file_bytes)
            if isinstance(exc, OSError | StorageUnavailable):  # the file storage is down: named instead
                logger.warning("could not read an attachment for the model: %s", type(exc).__name__)
                return describe(attachment, "Its content could not be read")
            raise
        if self.budget is not None:
            self.budget.give(reserved - len(data))  # the stored size may differ from the bytes
            self._held += len(data)
        self._sent_bytes += len(data)
        return await _encoded(kind, attachment, data)

    def release(self) -> None:
        """The answer is over: its files' bytes no longer count in the budget."""
        held, self._held = self._held, 0
        if self.budget is not None and held:
            self.budget.give(held)

    def _server_busy(self, attachment: Attachment) -> ResponseInputTextParam:
        if self._is_new(attachment):
            self._refused.append(
                f"**{_markdown_escape(attachment.name)}** was not passed on: the server is busy passing "
                "other files to the assistant right now. Send it again in a minute."
            )
            return describe(
                attachment, "The server was too busy to pass it on, so you saw its name only; the user knows"
            )
        return describe(attachment, "The server was too busy to pass it on again, so you were given its name only")

    def _too_large(self, attachment: Attachment, size: int | None, *, per_file: bool) -> ResponseInputTextParam:
        """The description in its place; for a file of the new message, a line for the user."""
        cap = self.policy.max_file_bytes if per_file else self.policy.max_turn_bytes
        if self._is_new(attachment):
            if per_file:
                why = f" is {_size(size)}," if size is not None else " is"
                why += f" more than the {_size(cap)} the assistant can read per file"
            else:
                why = f" did not fit: this message's files come to more than the {_size(cap)} the assistant"
                why += " can read at once"
            self._refused.append(f"**{_markdown_escape(attachment.name)}**{why}; it saw only the file's name.")
            return describe(attachment, "It is too large to pass on, so you were given its name only; the user knows")
        if per_file:
            return describe(attachment, "It is too large to pass on, so you were given its name only")
        return describe(attachment, "It was not passed on again: the conversation's files are too large together")

    def _is_new(self, attachment: Attachment) -> bool:
        message = self.turn.message if self.turn is not None else None
        return message is not None and any(a.id == attachment.id for a in message.attachments)


async def _encoded(kind: Kind, attachment: Attachment, data: bytes) -> ResponseInputContentParam:
    if kind == "text":
        text = data.decode("utf-8", errors="replace")
        return ResponseInputTextParam(
            type="input_text",
            text=f"[The user attached a file: {attachment.name} ({attachment.mime_type}). Its content:]\n"
            f"{text}\n[End of {attachment.name}]",
        )
    # Off the event loop: 10 MB take ~10 ms to encode.
    encoded = (await anyio.to_thread.run_sync(base64.b64encode, data)).decode("ascii")
    url = f"data:{attachment.mime_type};base64,{encoded}"
    if kind == "image":
        return ResponseInputImageParam(type="input_image", image_url=url, detail="auto")
    return ResponseInputFileParam(type="input_file", file_data=url, filename=attachment.name)


def _stored_size(attachment: Attachment) -> int | None:
    """The size the attachment store recorded with the upload, if it did (for wording only:
    the reader enforces the caps on the bytes themselves)."""
    size = (attachment.metadata or {}).get("size")
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def _size(count: int) -> str:
    if count < MB:
        return f"{count / 1024:.3g} KB"
    return f"{count / MB:.3g} MB"


def _markdown_escape(text: str) -> str:
    """`text` shown as is inside Markdown (a file name in a notice)."""
    return "".join("\\" + ch if ch in "\\`*_[]<>~|" else ch for ch in text)
