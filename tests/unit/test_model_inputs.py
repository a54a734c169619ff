"""The attachment reader and the per-turn converter on a real SQLite file and a real
upload directory: owner-only reads under a limit, and each file read once per turn."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from chatkit.store import NotFoundError
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    InferenceOptions,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)
from sqlalchemy import Engine

from chatkit_app.chatkit_server.attachments import StoredAttachments
from chatkit_app.chatkit_server.store import SQLModelStore
from chatkit_app.core.context import RequestContext
from chatkit_app.errors import PayloadTooLarge
from chatkit_app.settings import Settings
from chatkit_app.storage.local import LocalStorage
from chatkit_app.workflows.agent import Turn
from chatkit_app.workflows.model_inputs import converter_for, model_kind

ALICE = RequestContext("alice", "cks_a", "assistant", base_url="http://localhost:8000")
MALLORY = RequestContext("mallory", "cks_m", "assistant", base_url="http://localhost:8000")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def files(engine: Engine, tmp_path: Path) -> StoredAttachments:
    storage = LocalStorage(tmp_path / "uploads")
    return StoredAttachments(SQLModelStore(engine), storage, max_bytes=1 << 20, signing_key=b"k" * 32)


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    yield content


async def uploaded(files: StoredAttachments, context: RequestContext, name: str, content: bytes) -> Attachment:
    params = AttachmentCreateParams(name=name, size=len(content), mime_type="image/png")
    created = await files.create_attachment(params, context)
    return await files.store_upload(created.id, _chunks(content), "application/octet-stream", context)


async def test_read_bytes_is_for_the_owner_and_under_the_limit(files: StoredAttachments) -> None:
    attachment = await uploaded(files, ALICE, "a.png", PNG)
    assert await files.read_bytes(attachment.id, ALICE, limit=len(PNG)) == PNG
    with pytest.raises(NotFoundError):
        await files.read_bytes(attachment.id, MALLORY, limit=len(PNG))
    with pytest.raises(NotFoundError):
        await files.read_bytes("atc_unknown", ALICE, limit=len(PNG))
    with pytest.raises(PayloadTooLarge):
        await files.read_bytes(attachment.id, ALICE, limit=len(PNG) - 1)
    not_sent = await files.create_attachment(AttachmentCreateParams(name="b.png", size=3, mime_type="image/png"), ALICE)
    with pytest.raises(NotFoundError):  # created, but its bytes never arrived
        await files.read_bytes(not_sent.id, ALICE, limit=100)


async def test_each_file_is_read_once_per_turn(files: StoredAttachments, engine: Engine, tmp_path: Path) -> None:
    """The same file in two messages, the history converted twice (a retry): one read."""
    attachment = await uploaded(files, ALICE, "a.png", PNG)
    thread = ThreadMetadata(id="thr_1", created_at=datetime.now())
    messages = [_message(f"msg_{n}", thread.id, attachment) for n in (1, 2)]
    turn = Turn(thread=thread, message=messages[-1], context=ALICE, store=files.store, files=files)
    converter = converter_for(turn, Settings(_env_file=None, chatkit_data_dir=tmp_path))
    reads: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "chatkit_attachment" in statement:
            reads.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        first = await converter.to_agent_input(messages)
        again = await converter.to_agent_input(messages)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)

    assert len(reads) == 1
    assert first == again
    sent: list[Any] = first
    images = [part for item in sent for part in item["content"] if part["type"] == "input_image"]
    assert [part["image_url"] for part in images] == ["data:image/png;base64," + base64.b64encode(PNG).decode()] * 2
    assert turn.notices == []


def test_what_goes_as_what() -> None:
    assert [model_kind(m) for m in ("image/png", "image/webp", "image/svg+xml")] == ["image", "image", None]
    assert [model_kind(m) for m in ("application/pdf", "text/csv", "application/json", "application/zip")] == [
        "file",
        "text",
        "text",
        None,
    ]


def _message(item_id: str, thread_id: str, attachment: Attachment) -> UserMessageItem:
    return UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=datetime.now(),
        content=[UserMessageTextContent(text="look")],
        attachments=[attachment],
        inference_options=InferenceOptions(),
    )
