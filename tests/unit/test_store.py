"""Contract tests of `SQLModelStore` on a real SQLite file and (when configured) Postgres.

Every test runs against both backends; user isolation is checked for every method with two
request contexts (users A and B)."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chatkit.actions import ActionConfig
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import Annotation as SourceAnnotation
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    CustomTask,
    EndOfTurnItem,
    FileAttachment,
    FileSource,
    HiddenContextItem,
    ImageAttachment,
    InferenceOptions,
    LockedStatus,
    SDKHiddenContextItem,
    TaskItem,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    URLSource,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import Button, Card, Text
from sqlalchemy import Engine, func, inspect, select
from sqlmodel import SQLModel

from chatkit_app import db
from chatkit_app.chatkit_server.store import AttachmentFile, SQLModelStore
from chatkit_app.core.context import RequestContext
from chatkit_app.errors import Conflict
from chatkit_app.services import Services

A = RequestContext(user_id="user-a", session_id="cks_a", workflow_id="assistant")
B = RequestContext(user_id="user-b", session_id="cks_b", workflow_id="assistant")
T0 = datetime(2025, 1, 2, 3, 4, 5, 123456)
STORE_TABLES = ("chatkit_thread", "chatkit_item", "chatkit_attachment")


@pytest.fixture(params=["sqlite", "sqlite-fast-path", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = db.make_engine(database_url)
    db.migrate(built)
    yield built
    built.dispose()


@pytest.fixture
def store(engine: Engine, request: pytest.FixtureRequest) -> Iterator[SQLModelStore]:
    """On `sqlite-fast-path`, the store as `Services` builds it for SQLite: with an engine
    that never waits for a lock, whose hot writes run on the driver connection."""
    if request.node.callspec.params.get("database_url") != "sqlite-fast-path":
        yield SQLModelStore(engine)
        return
    fast = db.make_engine(engine.url.render_as_string(hide_password=False), busy_timeout_ms=0)
    yield SQLModelStore(engine, fast_engine=fast)
    fast.dispose()


def count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(SQLModel.metadata.tables[table])).scalar_one())


async def new_thread(store: SQLModelStore, context: RequestContext, title: str | None = None, **extra: Any):
    thread = ThreadMetadata(id=store.generate_thread_id(context), created_at=datetime.now(), title=title, **extra)
    await store.save_thread(thread, context)
    return thread


def message(store: SQLModelStore, thread: ThreadMetadata, text: str, created_at: datetime = T0) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=store.generate_item_id("message", thread, A),
        thread_id=thread.id,
        created_at=created_at,
        content=[AssistantMessageContent(text=text)],
    )


def file_attachment(attachment_id: str, thread_id: str | None = None) -> FileAttachment:
    return FileAttachment(id=attachment_id, name="notes.txt", mime_type="text/plain", thread_id=thread_id)


def image_attachment(attachment_id: str) -> ImageAttachment:
    return ImageAttachment(
        id=attachment_id,
        name="cat.png",
        mime_type="image/png",
        preview_url="https://example.test/preview/cat.png",
        metadata={"width": 10},
    )


# Every common item type, built for a given thread.
ITEM_BUILDERS: dict[str, Callable[[str], ThreadItem]] = {
    "user_message": lambda tid: UserMessageItem(
        id="msg_user",
        thread_id=tid,
        created_at=T0,
        content=[
            UserMessageTextContent(text="hello"),
            UserMessageTagContent(id="tag1", text="@doc", data={"k": [1, 2]}, interactive=True),
        ],
        attachments=[file_attachment("atc_f", tid), image_attachment("atc_i")],
        quoted_text="quoted",
        inference_options=InferenceOptions(model="gpt-x"),
    ),
    "assistant_message": lambda tid: AssistantMessageItem(
        id="msg_assistant",
        thread_id=tid,
        created_at=datetime(2025, 1, 2, tzinfo=UTC),
        content=[
            AssistantMessageContent(
                text="see [1]",
                annotations=[
                    SourceAnnotation(source=URLSource(url="https://example.test", title="ex"), index=3),
                    SourceAnnotation(source=FileSource(filename="a.pdf", title="a")),
                ],
            )
        ],
    ),
    "widget": lambda tid: WidgetItem(
        id="wd_1",
        thread_id=tid,
        created_at=T0,
        widget=Card(
            children=[
                Text(value="Counter: 3"),
                Button(label="Add", onClickAction=ActionConfig(type="counter.add", payload={"count": 3})),
            ]
        ),
        copy_text="Counter: 3",
    ),
    "client_tool_call": lambda tid: ClientToolCallItem(
        id="tc_1", thread_id=tid, created_at=T0, call_id="call_1", name="get_time", arguments={"tz": "UTC"}
    ),
    "hidden_context": lambda tid: HiddenContextItem(
        id="hc_1", thread_id=tid, created_at=T0, content={"any": ["json", 1, None]}
    ),
    "sdk_hidden_context": lambda tid: SDKHiddenContextItem(
        id="shcx_1", thread_id=tid, created_at=T0, content="The user cancelled the stream."
    ),
    "task": lambda tid: TaskItem(
        id="tsk_1", thread_id=tid, created_at=T0, task=CustomTask(title="Thinking", content="...")
    ),
    "workflow": lambda tid: WorkflowItem(
        id="wf_1", thread_id=tid, created_at=T0, workflow=Workflow(type="reasoning", tasks=[CustomTask(title="t")])
    ),
    "end_of_turn": lambda tid: EndOfTurnItem(id="eot_1", thread_id=tid, created_at=T0),
}


# --- threads ------------------------------------------------------------------------------


async def test_thread_round_trip(store: SQLModelStore) -> None:
    thread = await new_thread(
        store,
        A,
        title="First",
        status=LockedStatus(reason="read only"),
        allowed_image_domains=["example.test"],
        metadata={"k": {"nested": [1, "x"]}},
    )
    assert await store.load_thread(thread.id, A) == thread


async def test_title_update_persists(store: SQLModelStore) -> None:
    thread = await new_thread(store, A, title="Old")
    thread.title = "New"
    await store.save_thread(thread, A)
    assert (await store.load_thread(thread.id, A)).title == "New"
    listed = await store.load_threads(10, None, "desc", A)
    assert [(t.id, t.title) for t in listed.data] == [(thread.id, "New")]


async def test_load_missing_thread_raises(store: SQLModelStore) -> None:
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_missing", A)
    with pytest.raises(NotFoundError):
        await store.load_thread_items("thr_missing", None, 10, "asc", A)


# --- items --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ITEM_BUILDERS))
async def test_item_round_trip(store: SQLModelStore, kind: str) -> None:
    thread = await new_thread(store, A)
    item = ITEM_BUILDERS[kind](thread.id)
    await store.add_thread_item(thread.id, item, A)
    assert await store.load_item(thread.id, item.id, A) == item
    page = await store.load_thread_items(thread.id, None, 10, "asc", A)
    assert page.data == [item]
    assert (page.has_more, page.after) == (False, None)


async def test_save_item_upserts_and_keeps_position(store: SQLModelStore) -> None:
    thread = await new_thread(store, A)
    first, second = message(store, thread, "one"), message(store, thread, "two")
    for item in (first, second):
        await store.add_thread_item(thread.id, item, A)
    first.content[0].text = "one, edited"
    await store.save_item(thread.id, first, A)
    third = message(store, thread, "three")
    await store.save_item(thread.id, third, A)  # an unknown id is inserted
    page = await store.load_thread_items(thread.id, None, 10, "asc", A)
    assert [i.content[0].text for i in page.data] == ["one, edited", "two", "three"]  # type: ignore[union-attr]


async def test_items_are_ordered_by_created_at_then_insertion(store: SQLModelStore) -> None:
    thread = await new_thread(store, A)
    late = message(store, thread, "late", T0 + timedelta(seconds=1))
    same = [message(store, thread, f"same-{n}") for n in range(3)]  # identical microsecond
    early = message(store, thread, "early", T0 - timedelta(microseconds=1))
    for item in (late, *same, early):
        await store.add_thread_item(thread.id, item, A)
    asc = await store.load_thread_items(thread.id, None, 10, "asc", A)
    assert [i.id for i in asc.data] == [early.id, *(i.id for i in same), late.id]
    desc = await store.load_thread_items(thread.id, None, 10, "desc", A)
    assert [i.id for i in desc.data] == [i.id for i in reversed(asc.data)]


async def test_naive_and_aware_timestamps_sort_together(store: SQLModelStore) -> None:
    thread = await new_thread(store, A)
    naive_now = datetime.now()
    aware_before = (naive_now - timedelta(seconds=5)).astimezone(UTC)
    a, b = message(store, thread, "naive", naive_now), message(store, thread, "aware", aware_before)
    await store.add_thread_item(thread.id, a, A)
    await store.add_thread_item(thread.id, b, A)
    page = await store.load_thread_items(thread.id, None, 10, "asc", A)
    assert [i.id for i in page.data] == [b.id, a.id]


async def test_delete_thread_item(store: SQLModelStore) -> None:
    thread = await new_thread(store, A)
    keep, drop = message(store, thread, "keep"), message(store, thread, "drop")
    for item in (keep, drop):
        await store.add_thread_item(thread.id, item, A)
    await store.delete_thread_item(thread.id, drop.id, A)
    with pytest.raises(NotFoundError):
        await store.load_item(thread.id, drop.id, A)
    # A missing item in one's own thread is a no-op (the SDK deletes never-saved items).
    await store.delete_thread_item(thread.id, drop.id, A)
    assert [i.id for i in (await store.load_thread_items(thread.id, None, 10, "asc", A)).data] == [keep.id]
    with pytest.raises(NotFoundError):
        await store.delete_thread_item("thr_missing", keep.id, A)


async def test_concurrent_adds_all_land_in_one_total_order(store: SQLModelStore) -> None:
    thread = await new_thread(store, A)
    items = [message(store, thread, str(n)) for n in range(20)]
    await asyncio.gather(*(store.add_thread_item(thread.id, item, A) for item in items))
    asc = await store.load_thread_items(thread.id, None, 100, "asc", A)
    desc = await store.load_thread_items(thread.id, None, 100, "desc", A)
    assert sorted(i.id for i in asc.data) == sorted(i.id for i in items)
    assert [i.id for i in desc.data] == [i.id for i in reversed(asc.data)]


# --- pagination ---------------------------------------------------------------------------


async def collect_pages(load: Callable[[str | None], Any]) -> list[tuple[list[str], bool, str | None]]:
    pages, after = [], None
    while True:
        page = await load(after)
        pages.append(([x.id for x in page.data], page.has_more, page.after))
        if not page.has_more:
            return pages
        after = page.after


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_item_pagination_is_exact(store: SQLModelStore, order: str) -> None:
    thread = await new_thread(store, A)
    items = [message(store, thread, str(n), T0 + timedelta(seconds=n % 2)) for n in range(7)]
    for item in items:
        await store.add_thread_item(thread.id, item, A)
    expected = [i.id for i in items if i.created_at == T0] + [i.id for i in items if i.created_at != T0]
    if order == "desc":
        expected.reverse()
    pages = await collect_pages(lambda after: store.load_thread_items(thread.id, after, 3, order, A))
    assert pages == [
        (expected[0:3], True, expected[2]),
        (expected[3:6], True, expected[5]),
        (expected[6:7], False, None),
    ]


async def test_has_more_is_false_when_the_last_page_is_full(store: SQLModelStore) -> None:
    thread = await new_thread(store, A)
    for n in range(6):
        await store.add_thread_item(thread.id, message(store, thread, str(n)), A)
    pages = await collect_pages(lambda after: store.load_thread_items(thread.id, after, 3, "asc", A))
    assert [(len(ids), more) for ids, more, _ in pages] == [(3, True), (3, False)]
    empty = await new_thread(store, A)
    page = await store.load_thread_items(empty.id, None, 3, "asc", A)
    assert (page.data, page.has_more, page.after) == ([], False, None)


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_thread_pagination_is_exact(store: SQLModelStore, order: str) -> None:
    threads = []
    for n in range(7):
        thread = ThreadMetadata(id=store.generate_thread_id(A), created_at=T0 + timedelta(seconds=n // 3))
        await store.save_thread(thread, A)
        threads.append(thread.id)
    await new_thread(store, B)  # never listed for A
    expected = threads if order == "asc" else threads[::-1]
    pages = await collect_pages(lambda after: store.load_threads(3, after, order, A))
    assert pages == [
        (expected[0:3], True, expected[2]),
        (expected[3:6], True, expected[5]),
        (expected[6:7], False, None),
    ]


async def test_unknown_or_foreign_cursor_raises(store: SQLModelStore) -> None:
    mine, theirs = await new_thread(store, A), await new_thread(store, B)
    their_item = message(store, theirs, "b")
    await store.add_thread_item(theirs.id, their_item, B)
    for after in ("msg_unknown", their_item.id):
        with pytest.raises(NotFoundError):
            await store.load_thread_items(mine.id, after, 3, "asc", A)
    for after in ("thr_unknown", theirs.id):
        with pytest.raises(NotFoundError):
            await store.load_threads(3, after, "desc", A)


# --- user isolation -----------------------------------------------------------------------


async def test_threads_are_isolated_per_user(store: SQLModelStore) -> None:
    thread = await new_thread(store, A, title="A's")
    item = message(store, thread, "secret")
    await store.add_thread_item(thread.id, item, A)

    with pytest.raises(NotFoundError):
        await store.load_thread(thread.id, B)
    hijack = thread.model_copy(update={"title": "B's now"})
    with pytest.raises(NotFoundError):
        await store.save_thread(hijack, B)
    assert (await store.load_thread(thread.id, A)).title == "A's"
    assert (await store.load_threads(10, None, "desc", B)).data == []
    with pytest.raises(NotFoundError):
        await store.load_thread_items(thread.id, None, 10, "asc", B)
    with pytest.raises(NotFoundError):
        await store.delete_thread(thread.id, B)
    assert (await store.load_thread(thread.id, A)).id == thread.id
    assert (await store.load_thread_items(thread.id, None, 10, "asc", A)).data == [item]


async def test_threads_belong_to_the_workflow_they_were_made_in(store: SQLModelStore, engine: Engine) -> None:
    """Another workflow's session of the same user neither lists, opens, renames nor
    deletes the thread; a thread from before workflows were recorded shows in every one."""
    other = RequestContext(user_id=A.user_id, session_id="cks_a2", workflow_id="support")
    thread = await new_thread(store, A, title="assistant's")
    with pytest.raises(NotFoundError):
        await store.load_thread(thread.id, other)
    assert (await store.load_threads(10, None, "desc", other)).data == []
    with pytest.raises(NotFoundError):
        await store.delete_thread(thread.id, other)
    renamed = thread.model_copy(update={"title": "moved?"})
    with pytest.raises(NotFoundError):
        await store.save_thread(renamed, other)
    assert (await store.load_thread(thread.id, A)).title == "assistant's"
    assert [t.id for t in (await store.load_threads(10, None, "desc", A)).data] == [thread.id]

    legacy = await new_thread(store, A, title="from before")
    with engine.begin() as conn:
        conn.execute(
            SQLModel.metadata.tables["chatkit_thread"]
            .update()
            .values(workflow_id=None)
            .where(SQLModel.metadata.tables["chatkit_thread"].c.id == legacy.id)
        )
    assert [t.id for t in (await store.load_threads(10, None, "desc", other)).data] == [legacy.id]
    assert (await store.load_thread(legacy.id, other)).title == "from before"


async def test_items_are_isolated_per_user(store: SQLModelStore, engine: Engine) -> None:
    thread = await new_thread(store, A)
    item = message(store, thread, "A's")
    await store.add_thread_item(thread.id, item, A)
    before = count(engine, "chatkit_item")

    intruder = message(store, thread, "B's")
    with pytest.raises(NotFoundError):
        await store.add_thread_item(thread.id, intruder, B)
    with pytest.raises(NotFoundError):
        await store.save_item(thread.id, intruder, B)
    overwrite = item.model_copy(update={"content": [AssistantMessageContent(text="B was here")]})
    with pytest.raises(NotFoundError):
        await store.save_item(thread.id, overwrite, B)
    b_thread = await new_thread(store, B)
    with pytest.raises(NotFoundError):  # A's item id, into B's own thread
        await store.save_item(b_thread.id, overwrite.model_copy(update={"thread_id": b_thread.id}), B)
    with pytest.raises(NotFoundError):
        await store.load_item(thread.id, item.id, B)
    with pytest.raises(NotFoundError):
        await store.load_item(b_thread.id, item.id, B)
    with pytest.raises(NotFoundError):
        await store.delete_thread_item(thread.id, item.id, B)
    await store.delete_thread_item(b_thread.id, item.id, B)  # B's own thread: no-op, A's item untouched

    assert count(engine, "chatkit_item") == before
    assert await store.load_item(thread.id, item.id, A) == item


async def test_attachments_are_isolated_per_user(store: SQLModelStore) -> None:
    attachment = file_attachment(store.generate_attachment_id("text/plain", A))
    await store.save_attachment(attachment, A)
    await store.mark_attachment_uploaded(attachment.id, storage_name="f1", size=5, context=A)

    with pytest.raises(NotFoundError):
        await store.load_attachment(attachment.id, B)
    with pytest.raises(NotFoundError):
        await store.load_attachment_file(attachment.id, B)
    with pytest.raises(NotFoundError):
        await store.save_attachment(attachment.model_copy(update={"name": "pwned"}), B)
    with pytest.raises(NotFoundError):
        await store.mark_attachment_uploaded(attachment.id, storage_name="evil", size=1, context=B)
    with pytest.raises(NotFoundError):
        await store.delete_attachment(attachment.id, B)
    assert await store.load_attachment_file(attachment.id, A) == AttachmentFile(attachment, "f1", 5, True)


async def test_an_attachment_gets_its_file_once(store: SQLModelStore) -> None:
    attachment = file_attachment(store.generate_attachment_id("text/plain", A))
    await store.save_attachment(attachment, A)
    await store.mark_attachment_uploaded(attachment.id, storage_name="first", size=5, context=A)
    with pytest.raises(Conflict):  # a second upload that finished later
        await store.mark_attachment_uploaded(attachment.id, storage_name="second", size=9, context=A)
    assert await store.load_attachment_file(attachment.id, A) == AttachmentFile(attachment, "first", 5, True)


async def test_thread_delete_and_sweep_hand_over_their_files(store: SQLModelStore, engine: Engine) -> None:
    removed: list[str] = []

    async def remove(names: list[str]) -> None:
        removed.extend(names)

    store.remove_files = remove
    thread = await new_thread(store, A)
    other = await new_thread(store, B)
    for name, context, thread_id in (("sent", A, thread.id), ("unsent", A, None), ("theirs", B, other.id)):
        attachment = file_attachment(store.generate_attachment_id("text/plain", context), thread_id)
        await store.save_attachment(attachment, context)
        await store.mark_attachment_uploaded(attachment.id, storage_name=name, size=1, context=context)

    with pytest.raises(NotFoundError):
        await store.delete_thread(thread.id, B)  # someone else's thread: nothing goes
    assert removed == [] and count(engine, "chatkit_attachment") == 3

    await store.delete_thread(thread.id, A)
    assert removed == ["sent"] and count(engine, "chatkit_attachment") == 2

    assert await store.sweep_unsent_attachments(0) == 0  # nothing is that old
    assert await store.sweep_unsent_attachments(time.time_ns() // 1000 + 1) == 1
    assert removed == ["sent", "unsent"] and count(engine, "chatkit_attachment") == 1


# --- deletes ------------------------------------------------------------------------------


async def test_delete_thread_cascades_to_its_items_only(store: SQLModelStore, engine: Engine) -> None:
    doomed, kept = await new_thread(store, A), await new_thread(store, A)
    for thread in (doomed, kept):
        for n in range(3):
            await store.add_thread_item(thread.id, message(store, thread, str(n)), A)
    attachment = file_attachment("atc_linked", doomed.id)
    await store.save_attachment(attachment, A)

    await store.delete_thread(doomed.id, A)
    with pytest.raises(NotFoundError):
        await store.load_thread(doomed.id, A)
    with pytest.raises(NotFoundError):
        await store.load_thread_items(doomed.id, None, 10, "asc", A)
    assert count(engine, "chatkit_item") == 3
    assert len((await store.load_thread_items(kept.id, None, 10, "asc", A)).data) == 3
    assert [t.id for t in (await store.load_threads(10, None, "asc", A)).data] == [kept.id]
    with pytest.raises(NotFoundError):
        await store.load_attachment(attachment.id, A)  # the thread's attachments go with it
    with pytest.raises(NotFoundError):
        await store.delete_thread(doomed.id, A)


# --- attachments --------------------------------------------------------------------------


async def test_attachment_round_trip_and_file_columns(store: SQLModelStore) -> None:
    image = image_attachment(store.generate_attachment_id("image/png", A))
    await store.save_attachment(image, A)
    assert await store.load_attachment(image.id, A) == image
    assert await store.load_attachment_file(image.id, A) == AttachmentFile(image, None, None, False)

    await store.mark_attachment_uploaded(image.id, storage_name="ab/cdef", size=1234, context=A)
    linked = image.model_copy(update={"thread_id": "thr_x", "upload_descriptor": None})
    await store.save_attachment(linked, A)  # the SDK re-saves it with its thread id
    assert await store.load_attachment_file(image.id, A) == AttachmentFile(linked, "ab/cdef", 1234, True)

    await store.delete_attachment(image.id, A)
    with pytest.raises(NotFoundError):
        await store.load_attachment(image.id, A)
    with pytest.raises(NotFoundError):
        await store.delete_attachment(image.id, A)


# --- ids, schema, persistence -------------------------------------------------------------


def test_ids_carry_sdk_prefixes_and_128_random_bits(store: SQLModelStore) -> None:
    thread = ThreadMetadata(id="thr_x", created_at=T0)
    ids = {
        "thr": store.generate_thread_id(A),
        "atc": store.generate_attachment_id("text/plain", A),
        "msg": store.generate_item_id("message", thread, A),
        "tc": store.generate_item_id("tool_call", thread, A),
        "tsk": store.generate_item_id("task", thread, A),
        "wf": store.generate_item_id("workflow", thread, A),
        "shcx": store.generate_item_id("sdk_hidden_context", thread, A),
    }
    for prefix, value in ids.items():
        head, suffix = value.split("_", 1)
        assert head == prefix
        assert len(base64.urlsafe_b64decode(suffix + "==")) >= 16
    assert len({store.generate_thread_id(A) for _ in range(1000)}) == 1000


def test_migrated_tables_match_the_models(engine: Engine) -> None:
    inspector = inspect(engine)
    for name in STORE_TABLES:
        model = {column.name for column in SQLModel.metadata.tables[name].columns}
        assert {column["name"] for column in inspector.get_columns(name)} == model
    foreign_keys = inspector.get_foreign_keys("chatkit_item")
    assert [(fk["referred_table"], fk["options"].get("ondelete")) for fk in foreign_keys] == [
        ("chatkit_thread", "CASCADE")
    ]


async def test_fast_path_writes_wait_off_the_loop_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    """SQLite's fast path never waits for a lock on the event loop: a write that finds the
    database locked by someone else is rolled back and done again off the loop, waiting."""
    path = tmp_path / "locked.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.migrate(engine)
    fast = db.make_engine(f"sqlite:///{path}", busy_timeout_ms=0)
    store = SQLModelStore(engine, fast_engine=fast)
    thread = await new_thread(store, A, title="before")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        loop = asyncio.get_running_loop()
        ticks: list[float] = []
        ticker = asyncio.ensure_future(_tick(ticks))
        loop.call_later(0.3, other.execute, "COMMIT")
        began = time.monotonic()
        thread.title = "after"
        await store.save_thread(thread, A)
        item = message(store, thread, "saved while locked")
        await store.add_thread_item(thread.id, item, A)
        waited = time.monotonic() - began
        ticker.cancel()
    finally:
        other.close()
    assert waited >= 0.25, "the writes waited for the lock"
    assert len(ticks) >= 5, "the event loop kept running meanwhile"
    assert (await store.load_thread(thread.id, A)).title == "after"
    assert await store.load_item(thread.id, item.id, A) == item
    with pytest.raises(NotFoundError):
        await store.save_thread(thread, B)
    fast.dispose()
    engine.dispose()


async def _tick(ticks: list[float]) -> None:
    while True:
        ticks.append(time.monotonic())
        await asyncio.sleep(0.02)


async def test_data_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    first = db.make_engine(url)
    db.migrate(first)
    store = SQLModelStore(first)
    thread = await new_thread(store, A, title="kept")
    item = ITEM_BUILDERS["widget"](thread.id)
    await store.add_thread_item(thread.id, item, A)
    await store.save_attachment(file_attachment("atc_kept", thread.id), A)
    first.dispose()

    second = db.make_engine(url)
    db.migrate(second)
    try:
        again = SQLModelStore(second)
        assert await again.load_thread(thread.id, A) == thread
        assert await again.load_item(thread.id, item.id, A) == item
        assert (await again.load_attachment("atc_kept", A)).thread_id == thread.id
        await again.add_thread_item(thread.id, message(again, thread, "after restart", T0 + timedelta(days=1)), A)
        page = await again.load_thread_items(thread.id, None, 10, "asc", A)
        assert page.data[0].id == item.id
    finally:
        second.dispose()


async def test_runs_on_the_services_db_runner(services: Services) -> None:
    store = SQLModelStore(services.engine, runner=services.run_db)
    thread = await new_thread(store, A, title="via services")
    assert (await store.load_thread(thread.id, A)).title == "via services"


# --- through the SDK's ChatKitServer ------------------------------------------------------


class EchoServer(ChatKitServer[RequestContext]):
    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        text = input_user_message.content[0].text if input_user_message else ""  # type: ignore[union-attr]
        yield ThreadItemDoneEvent(item=message(self.store, thread, f"echo: {text}", datetime.now()))  # type: ignore[arg-type]


async def call(server: EchoServer, request: dict[str, Any], context: RequestContext) -> Any:
    result = await server.process(json.dumps(request), context)
    if isinstance(result, StreamingResult):
        return [chunk async for chunk in result]
    assert isinstance(result, NonStreamingResult)
    return json.loads(result.json)


async def test_sdk_server_round_trip_is_scoped(store: SQLModelStore) -> None:
    server = EchoServer(store)
    user_input = {"content": [{"type": "input_text", "text": "hi"}], "attachments": [], "inference_options": {}}
    await call(server, {"type": "threads.create", "params": {"input": user_input}}, A)

    threads = await call(server, {"type": "threads.list", "params": {"limit": 5}}, A)
    assert len(threads["data"]) == 1
    thread_id = threads["data"][0]["id"]
    items = await call(server, {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}, A)
    assert [i["type"] for i in items["data"]] == ["user_message", "assistant_message"]
    assert items["data"][1]["content"][0]["text"] == "echo: hi"

    assert (await call(server, {"type": "threads.list", "params": {}}, B))["data"] == []
    with pytest.raises(NotFoundError):
        await call(server, {"type": "threads.get_by_id", "params": {"thread_id": thread_id}}, B)
    with pytest.raises(NotFoundError):
        await call(server, {"type": "threads.delete", "params": {"thread_id": thread_id}}, B)
    await call(server, {"type": "threads.delete", "params": {"thread_id": thread_id}}, A)
    assert (await call(server, {"type": "threads.list", "params": {}}, A))["data"] == []
