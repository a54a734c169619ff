"""ChatKit `Store` on SQLModel tables (SQLite or Postgres).

ChatKit does not check who owns a thread, item or attachment, so every query here is
scoped to `context.user_id` (from a verified session token): another user's id behaves
like an unknown one, `NotFoundError` (→ 404), and nothing is read or written. That holds
for deletes too, except a missing item in one's *own* thread: a no-op, as the SDK deletes
items that were streamed but never saved. Order is (created_at, seq), `seq` made by the
database (Postgres identity; SQLite max(rowid)+1 under its single-writer lock); a page
cursor is the id of the previous page's last element, and an unknown one is NotFoundError.
"""

from __future__ import annotations

import functools
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import anyio.to_thread
import sqlalchemy as sa
from chatkit.store import NotFoundError, Store, StoreItemType, default_generate_id
from chatkit.types import Attachment, Page, Thread, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter
from sqlalchemy import Connection, Select, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel

from chatkit_app import models  # noqa: F401  (registers the tables on the metadata)
from chatkit_app.chatkit_server.driver_writes import CompiledWrite, driver_rowcount
from chatkit_app.core.context import RequestContext
from chatkit_app.db import on_loop_else_waiting
from chatkit_app.errors import Conflict, StorageUnavailable

_T = TypeVar("_T")
logger = logging.getLogger("chatkit_app.store")
_ITEM: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)
_ATTACHMENT: TypeAdapter[Attachment] = TypeAdapter(Attachment)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class SyncRunner(Protocol):
    """Runs blocking work off the event loop, e.g. `Services.run_db`."""

    def __call__(self, fn: Callable[[], _T], /) -> Awaitable[_T]: ...


@dataclass(frozen=True, slots=True)
class AttachmentFile:
    """An attachment row with the file columns the attachment store manages."""

    attachment: Attachment
    storage_name: str | None
    size: int | None
    uploaded: bool


def new_id(prefix: str) -> str:
    """`prefix_` + 128 random bits (the SDK's default ids have only 32)."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


@functools.cache
def _prefix(item_type: StoreItemType) -> str:
    return default_generate_id(item_type).rsplit("_", 1)[0]  # the SDK's prefix table is private


def _micros(value: datetime) -> int:
    aware = value if value.tzinfo is not None else value.astimezone()  # naive = local time
    return (aware - _EPOCH) // _MICROSECOND


def _p(name: str, type_: Any = None) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=type_)


class SQLModelStore(Store[RequestContext]):
    def __init__(
        self, engine: sa.Engine, *, runner: SyncRunner | None = None, fast_engine: sa.Engine | None = None
    ) -> None:
        """`fast_engine`: a SQLite engine that never waits for a lock (see `_tx`)."""
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {engine.dialect.name!r}")
        self.engine = engine
        self._fast_engine = fast_engine
        self._runner: SyncRunner = runner or _to_thread
        self._pg = engine.dialect.name == "postgresql"
        # Removes stored files by name (`StoredAttachments.remove_files`); raises
        # `StorageUnavailable` when the file storage is down.
        self.remove_files: Callable[[list[str]], Awaitable[None]] = _no_files
        # Set by the attachment store: re-signs image previews of loaded items for the
        # reader's session (a stored preview URL expires with the token that made it).
        self.fresh_previews: Callable[[ThreadItem, RequestContext], ThreadItem] = lambda item, context: item
        tables = SQLModel.metadata.tables
        self._build(tables["chatkit_thread"], tables["chatkit_item"], tables["chatkit_attachment"])
        # The writes every answer makes, for the fast path's driver connection.
        self._driver_writes = (
            {id(s): CompiledWrite(s, fast_engine.dialect) for s in (self._thread_upsert, self._item_upsert)}
            if fast_engine is not None
            else {}
        )

    # --- ids ---------------------------------------------------------------------------
    def generate_thread_id(self, context: RequestContext) -> str:
        return new_id("thr")

    def generate_item_id(self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext) -> str:
        return new_id(_prefix(item_type))

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return new_id("atc")

    # --- threads -----------------------------------------------------------------------
    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        def work(conn: Connection) -> ThreadMetadata:
            params = {"tid": thread_id, "uid": context.user_id, "wf": context.workflow_id}
            data = conn.execute(self._thread_get, params).scalar()
            if data is None:
                raise NotFoundError(f"thread {thread_id} not found")
            return ThreadMetadata.model_validate(data)

        return await self._tx(work)

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        data = thread.model_dump(mode="json", exclude={"items"} if isinstance(thread, Thread) else None)
        params = {"tid": thread.id, "uid": context.user_id, "at": _micros(thread.created_at), "title": thread.title}
        params["wf"] = context.workflow_id  # set when the thread is made, never changed
        params["data"] = data
        await self._write_one(self._thread_upsert, params, f"thread {thread.id}")

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        def work(conn: Connection) -> Page[ThreadMetadata]:
            rows, more = self._page(
                conn,
                self._thread_cursor,
                self._thread_pages,
                {"uid": context.user_id, "wf": context.workflow_id},
                after,
                limit,
                order,
            )
            threads = [ThreadMetadata.model_validate(data) for data in rows]
            return Page(data=threads, has_more=more, after=threads[-1].id if more else None)

        return await self._tx(work)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        """The thread's files go first: with the file storage down this fails
        (`StorageUnavailable`) and the thread stays whole."""
        params = {"tid": thread_id, "uid": context.user_id, "wf": context.workflow_id}

        def files(conn: Connection) -> list[str]:
            if conn.execute(self._thread_get, params).scalar() is None:
                raise NotFoundError(f"thread {thread_id} not found")
            return [name for name in conn.execute(self._att_thread_files, params).scalars() if name]

        names = await self._tx(files)
        await self.remove_files(names)

        def work(conn: Connection) -> list[str]:
            self._write(conn, self._thread_delete, params, f"thread {thread_id}")
            conn.execute(self._items_delete, params)  # also done by ON DELETE CASCADE
            late = [name for name in conn.execute(self._att_thread_files, params).scalars() if name]
            conn.execute(self._att_thread_delete, params)
            return [name for name in late if name not in names]

        late = await self._tx(work)  # files of a message sent meanwhile
        if late:
            await self._remove_files_later(late)

    async def sweep_unsent_attachments(self, older_than_micros: int) -> int:
        """Delete attachments created before `older_than_micros` that never reached a
        thread (uploads abandoned in the composer), with their files. Not user-scoped: a
        maintenance task, run by the server, never on a request's behalf."""
        params = {"before": older_than_micros}

        def work(conn: Connection) -> list[str | None]:
            return list(conn.execute(self._att_sweep, params).scalars())

        names = await self._tx(work)
        await self._remove_files_later([name for name in names if name])
        return len(names)

    async def named_files(self, storage_names: list[str]) -> set[str]:
        """Those of `storage_names` that an attachment row names (any user's: maintenance)."""

        def work(conn: Connection) -> set[str]:
            return set(conn.execute(self._att_named, {"names": storage_names}).scalars())

        return await self._tx(work) if storage_names else set()

    async def _remove_files_later(self, names: list[str]) -> None:
        """Files whose rows are gone already: with the storage down they stay until the
        sweep of files no row names (`file_sweep`)."""
        try:
            await self.remove_files(names)
        except StorageUnavailable:
            logger.warning("%d attachment file(s) left for a later sweep: the file storage is unavailable", len(names))

    # --- items -------------------------------------------------------------------------
    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: RequestContext
    ) -> Page[ThreadItem]:
        params = {"tid": thread_id, "uid": context.user_id}

        def work(conn: Connection) -> Page[ThreadItem]:
            rows, more = self._page(conn, self._item_cursor, self._item_pages, params, after, limit, order)
            if not rows:
                self._check_thread(conn, params)
            items = [_ITEM.validate_python(data) for data in rows]
            return Page(data=items, has_more=more, after=items[-1].id if more else None)

        page = await self._tx(work)
        page.data = [self.fresh_previews(item, context) for item in page.data]
        return page

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        params = {"iid": item.id, "tid": thread_id, "uid": context.user_id, "at": _micros(item.created_at)}
        params.update(kind=item.type, data=_ITEM.dump_python(item, mode="json"))
        await self._write_one(self._item_upsert, params, f"thread {thread_id}")

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        def work(conn: Connection) -> ThreadItem:
            data = conn.execute(self._item_get, {"iid": item_id, "tid": thread_id, "uid": context.user_id}).scalar()
            if data is None:
                raise NotFoundError(f"item {item_id} not found in thread {thread_id}")
            return _ITEM.validate_python(data)

        return self.fresh_previews(await self._tx(work), context)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: RequestContext) -> None:
        params = {"iid": item_id, "tid": thread_id, "uid": context.user_id}

        def work(conn: Connection) -> None:
            if conn.execute(self._item_delete, params).rowcount == 0:
                self._check_thread(conn, params)

        await self._tx(work)

    async def save_feedback(self, thread_id: str, item_ids: list[str], kind: str, context: RequestContext) -> None:
        """Thumbs up/down on the user's own items; `NotFoundError` if any is not theirs."""
        params = {"tid": thread_id, "uid": context.user_id, "iids": list(item_ids), "fb": kind}

        def work(conn: Connection) -> None:
            if conn.execute(self._item_feedback, params).rowcount != len(set(item_ids)):
                raise NotFoundError(f"items not found in thread {thread_id}")

        await self._tx(work)

    async def load_feedback(self, thread_id: str, item_id: str, context: RequestContext) -> str | None:
        params = {"tid": thread_id, "uid": context.user_id, "iid": item_id}

        def work(conn: Connection) -> str | None:
            row = conn.execute(self._item_feedback_get, params).first()
            if row is None:
                raise NotFoundError(f"item {item_id} not found in thread {thread_id}")
            return str(row.feedback) if row.feedback is not None else None

        return await self._tx(work)

    # --- attachments -------------------------------------------------------------------
    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        params = {
            "aid": attachment.id,
            "uid": context.user_id,
            "tid": attachment.thread_id,
            "at": time.time_ns() // 1000,
        }
        params["data"] = _ATTACHMENT.dump_python(attachment, mode="json")
        await self._tx(lambda conn: self._write(conn, self._att_upsert, params, f"attachment {attachment.id}"))

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        return (await self.load_attachment_file(attachment_id, context)).attachment

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        params = {"aid": attachment_id, "uid": context.user_id}
        await self._tx(lambda conn: self._write(conn, self._att_delete, params, f"attachment {attachment_id}"))

    async def load_attachment_file(self, attachment_id: str, context: RequestContext) -> AttachmentFile:
        """The attachment and its file columns; `NotFoundError` unless the user owns it."""

        def work(conn: Connection) -> AttachmentFile:
            row = conn.execute(self._att_get, {"aid": attachment_id, "uid": context.user_id}).first()
            if row is None:
                raise NotFoundError(f"attachment {attachment_id} not found")
            return AttachmentFile(_ATTACHMENT.validate_python(row.data), row.storage_name, row.size, bool(row.uploaded))

        return await self._tx(work)

    async def mark_attachment_uploaded(
        self, attachment_id: str, *, storage_name: str, size: int, context: RequestContext
    ) -> None:
        """Record the stored file of the user's attachment (`NotFoundError` otherwise), once:
        `Conflict` when it has one already (another upload of it finished first)."""
        params = {"aid": attachment_id, "uid": context.user_id, "sname": storage_name, "size": size}

        def work(conn: Connection) -> None:
            if conn.execute(self._att_mark, params).rowcount == 0:
                if conn.execute(self._att_get, params).first() is None:
                    raise NotFoundError(f"attachment {attachment_id} not found")
                raise Conflict("This attachment already has its file.", code="already_uploaded")

        await self._tx(work)

    # --- plumbing ----------------------------------------------------------------------
    async def transaction(self, fn: Callable[[Connection], _T]) -> _T:
        """`fn` in one transaction, run the way the store runs its own (`_tx`): for other
        tables of this database read on the request path (the limits' ledger)."""
        return await self._tx(fn)

    async def _tx(self, fn: Callable[[Connection], _T], on_loop: Callable[[], _T] | None = None) -> _T:
        """Run `fn` in one transaction, off the event loop; with a `fast_engine` (SQLite)
        via `on_loop_else_waiting` (`on_loop` in its place there, if given). Queued on the
        database thread, the few store calls before a first token cost more than their SQL
        (bench/streaming.py)."""

        def work(engine: sa.Engine) -> _T:
            with engine.begin() as conn:
                return fn(conn)

        fast = self._fast_engine
        if fast is None:
            return await self._runner(lambda: work(self.engine))
        return await on_loop_else_waiting(
            on_loop or (lambda: work(fast)), lambda: self._runner(lambda: work(self.engine))
        )

    async def _write_one(self, statement: Any, params: Mapping[str, Any], what: str) -> None:
        """`_write` in a transaction of its own; on the fast path, on the driver connection
        (`driver_writes`)."""
        fast, write = self._fast_engine, self._driver_writes.get(id(statement))
        on_loop: Callable[[], None] | None = None
        if fast is not None and write is not None:

            def on_loop() -> None:
                if driver_rowcount(fast, write, params) == 0:
                    raise NotFoundError(f"{what} not found")

        await self._tx(lambda conn: self._write(conn, statement, params, what), on_loop)

    @staticmethod
    def _write(conn: Connection, statement: Any, params: Mapping[str, Any], what: str) -> None:
        if conn.execute(statement, params).rowcount == 0:
            raise NotFoundError(f"{what} not found")

    def _check_thread(self, conn: Connection, params: Mapping[str, Any]) -> None:
        if conn.execute(self._thread_owned, params).first() is None:
            raise NotFoundError(f"thread {params['tid']} not found")

    @staticmethod
    def _page(
        conn: Connection,
        cursor: Select[Any],
        pages: Mapping[tuple[bool, bool], Select[Any]],
        params: Mapping[str, Any],
        after: str | None,
        limit: int,
        order: str,
    ) -> tuple[Sequence[Any], bool]:
        limit = max(limit, 1)
        values = {**params, "lim": limit + 1}
        if after is not None:
            row = conn.execute(cursor, {**params, "cid": after}).first()
            if row is None:
                raise NotFoundError(f"cursor {after} not found")
            values.update(cat=row.created_at, cseq=row.seq)
        rows = conn.execute(pages[(order == "desc", after is not None)], values).scalars().all()
        return rows[:limit], len(rows) > limit

    def _build(self, thread: Table, item: Table, att: Table) -> None:
        """Build every statement once; SQLAlchemy then reuses their compiled form. Upserts
        keep their rowcount (0 = someone else's row): SQLAlchemy drops it for INSERT otherwise."""
        insert = postgresql.insert if self._pg else sqlite.insert
        uid = _p("uid")

        def seq(table: Table) -> dict[str, Any]:  # Postgres fills `seq` from its identity
            if self._pg:
                return {}
            rowid = sa.literal_column("rowid", sa.BigInteger)
            last = sa.select(sa.func.coalesce(sa.func.max(rowid), 0) + 1).select_from(table)
            return {"seq": last.scalar_subquery()}

        def pages(table: Table, scope: sa.ColumnElement[bool]) -> dict[tuple[bool, bool], Select[Any]]:
            cols = (table.c.created_at, table.c.seq)
            key, cursor = sa.tuple_(*cols), sa.tuple_(_p("cat"), _p("cseq"))
            out = {}
            for desc, has_cursor in itertools.product((False, True), (False, True)):
                stmt = sa.select(table.c.data).where(scope).limit(_p("lim"))
                if has_cursor:
                    stmt = stmt.where(key < cursor if desc else key > cursor)
                out[(desc, has_cursor)] = stmt.order_by(*(c.desc() for c in cols) if desc else cols)
            return out

        thread_scope = (thread.c.id == _p("tid")) & (thread.c.user_id == uid)
        # A thread belongs to the workflow it was made in: another workflow's session
        # neither lists nor opens it (threads from before workflows were recorded: any).
        in_workflow = thread.c.workflow_id.is_(None) | (thread.c.workflow_id == _p("wf"))
        self._thread_owned = sa.select(thread.c.id).where(thread_scope)
        self._thread_get = sa.select(thread.c.data).where(thread_scope, in_workflow)
        self._thread_cursor = sa.select(thread.c.created_at, thread.c.seq).where(
            thread.c.id == _p("cid"), thread.c.user_id == uid, in_workflow
        )
        self._thread_pages = pages(thread, (thread.c.user_id == uid) & in_workflow)
        self._thread_delete = sa.delete(thread).where(thread_scope, in_workflow)
        t_ins = insert(thread).values(
            id=_p("tid"),
            user_id=uid,
            workflow_id=_p("wf"),
            created_at=_p("at"),
            title=_p("title"),
            data=_p("data"),
            **seq(thread),
        )
        self._thread_upsert = t_ins.on_conflict_do_update(
            index_elements=[thread.c.id],
            set_={"title": t_ins.excluded.title, "data": t_ins.excluded.data},
            where=(thread.c.user_id == t_ins.excluded.user_id)
            & (thread.c.workflow_id.is_(None) | (thread.c.workflow_id == t_ins.excluded.workflow_id)),
        ).execution_options(preserve_rowcount=True)

        item_scope = (item.c.thread_id == _p("tid")) & (item.c.user_id == uid)
        self._item_get = sa.select(item.c.data).where(item_scope, item.c.id == _p("iid"))
        self._item_cursor = sa.select(item.c.created_at, item.c.seq).where(item_scope, item.c.id == _p("cid"))
        self._item_pages = pages(item, item_scope)
        self._item_delete = sa.delete(item).where(item_scope, item.c.id == _p("iid"))
        self._items_delete = sa.delete(item).where(item_scope)
        in_ids = item.c.id.in_(sa.bindparam("iids", expanding=True))
        self._item_feedback = sa.update(item).where(item_scope, in_ids).values(feedback=_p("fb"))
        self._item_feedback_get = sa.select(item.c.feedback).where(item_scope, item.c.id == _p("iid"))
        # Insert only when the thread is the user's: the SELECT yields no row otherwise.
        source = {
            "id": _p("iid", sa.String),
            "thread_id": thread.c.id,
            "user_id": thread.c.user_id,
            "created_at": _p("at", sa.BigInteger),
            **seq(item),
            "type": _p("kind", sa.String),
            "data": _p("data", sa.JSON),
        }
        i_ins = insert(item).from_select(list(source), sa.select(*source.values()).where(thread_scope))
        self._item_upsert = i_ins.on_conflict_do_update(
            index_elements=[item.c.id],
            set_={"type": i_ins.excluded.type, "data": i_ins.excluded.data},
            where=(item.c.thread_id == i_ins.excluded.thread_id) & (item.c.user_id == i_ins.excluded.user_id),
        ).execution_options(preserve_rowcount=True)

        att_scope = (att.c.id == _p("aid")) & (att.c.user_id == uid)
        self._att_get = sa.select(att.c.data, att.c.storage_name, att.c.size, att.c.uploaded).where(att_scope)
        self._att_delete = sa.delete(att).where(att_scope)
        att_thread = (att.c.thread_id == _p("tid")) & (att.c.user_id == uid)
        self._att_thread_files = sa.select(att.c.storage_name).where(att_thread)
        self._att_thread_delete = sa.delete(att).where(att_thread)
        self._att_named = sa.select(att.c.storage_name).where(
            att.c.storage_name.in_(sa.bindparam("names", expanding=True))
        )
        self._att_sweep = (
            sa.delete(att)
            .where(att.c.thread_id.is_(None), att.c.created_at < _p("before"))
            .returning(att.c.storage_name)
        )
        self._att_mark = (
            sa.update(att)
            .where(att_scope, att.c.uploaded.is_(False))
            .values(storage_name=_p("sname"), size=_p("size"), uploaded=True)
        )
        a_ins = insert(att).values(id=_p("aid"), user_id=uid, thread_id=_p("tid"), data=_p("data"), created_at=_p("at"))
        self._att_upsert = a_ins.on_conflict_do_update(
            index_elements=[att.c.id],
            set_={"thread_id": a_ins.excluded.thread_id, "data": a_ins.excluded.data},
            where=att.c.user_id == a_ins.excluded.user_id,
        ).execution_options(preserve_rowcount=True)


async def _no_files(names: list[str]) -> None:
    return None


async def _to_thread(fn: Callable[[], _T]) -> _T:
    return await anyio.to_thread.run_sync(fn)
