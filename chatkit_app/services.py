"""Builds the app's long-lived services once per process (engine, codec, registry,
session service and issuer, ChatKit store and server, file storage, limit policy, MCP
connections) and migrates the database before first use."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout

from chatkit_app import fast_paths
from chatkit_app.auth.issuer import SessionIssuer
from chatkit_app.auth.sessions import SessionService
from chatkit_app.auth.site_sessions import SiteSessions
from chatkit_app.auth.tokens import TokenCodec
from chatkit_app.chatkit_server.attachments import StoredAttachments
from chatkit_app.chatkit_server.server import AppChatKitServer
from chatkit_app.chatkit_server.store import SQLModelStore
from chatkit_app.core.attachment_limits import attachment_limits
from chatkit_app.db import make_engine, migrate, on_loop_else_waiting
from chatkit_app.limits import LimitPolicy, build_policy
from chatkit_app.settings import Settings, ensure_data_dir, get_settings, resolve_secret
from chatkit_app.storage import FileStorage
from chatkit_app.storage.build import build_storage
from chatkit_app.upstream.hosted import HostedSessions
from chatkit_app.workflows.mcp_connections import McpConnections
from chatkit_app.workflows.registry import WorkflowRegistry, build_registry

logger = logging.getLogger("chatkit_app.services")
P = ParamSpec("P")
T = TypeVar("T")


class DatabaseRunner:
    """Runs blocking database work off the event loop, on threads of its own: one for
    SQLite (one writer at a time: no busy-waiting between our own threads), for Postgres
    as many as the pool keeps (`CHATKIT_DB_POOL_SIZE`), each call waiting its turn in the
    queue, not on a thread. On the shared thread pool (40 threads for 2 x the pool's
    connections), 500 streams at once on one worker kept every thread borrowed: some waiting
    for a connection, the rest holding their slot until the busy event loop took their
    result, and the connections beyond the pool were closed on return and opened again
    (~150 per run); the worker spent ~20% more CPU per token and PostgreSQL ~60% more
    (docs/benchmarks.md, "Scale").

    A call still queued after `wait_seconds` (the pool's own wait, `CHATKIT_DB_TIMEOUT_SECONDS`)
    never runs and raises the pool's `TimeoutError` (503 `database_unavailable`)."""

    def __init__(self, engine: Engine, threads: int = 1, wait_seconds: float | None = None) -> None:
        sqlite = engine.dialect.name == "sqlite"
        self._threads = ThreadPoolExecutor(1 if sqlite else threads, thread_name_prefix="db")
        self._wait = None if sqlite else wait_seconds

    async def __call__(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)  # keeps the request id
        queued = self._threads.submit(call)
        done = asyncio.wrap_future(queued)  # cancelling the wait cancels a call still queued
        if self._wait is None:
            return await done
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = queued.cancel()  # only a call still queued: a running one ends by its deadlines

        timer = asyncio.get_running_loop().call_later(self._wait, expire)
        try:
            return await done
        except asyncio.CancelledError:
            if expired:
                raise PoolTimeout(f"no database connection free within {self._wait:g} s") from None
            raise
        finally:
            timer.cancel()

    def close(self) -> None:
        self._threads.shutdown(wait=False)


@dataclass
class Services:
    settings: Settings
    secret: bytes
    engine: Engine
    codec: TokenCodec
    registry: WorkflowRegistry
    sessions: SessionService
    run_db: DatabaseRunner
    store: SQLModelStore
    attachments: StoredAttachments
    chatkit: AppChatKitServer
    site_sessions: SiteSessions
    limits: LimitPolicy
    _fast_sessions: SessionService | None = field(default=None, repr=False)
    _fast_engine: Engine | None = field(default=None, repr=False)
    hosted: HostedSessions | None = field(default=None, repr=False)
    # Connected on first use by a turn, closed by `aclose` / `close_mcp_connections` (async only).
    mcp: McpConnections = field(default_factory=McpConnections, repr=False)
    issuer: SessionIssuer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.issuer = SessionIssuer(
            self.call_sessions,
            self.registry,
            initial_expires_in=self.sessions.initial_expires_in,
            hosted=self.hosted,
            limits=self.limits,
        )

    @property
    def storage(self) -> FileStorage:
        """Where attachment bytes live (`CHATKIT_STORAGE_URL`); `await storage.ready()`
        raises `StorageUnavailable` when it cannot be used (for a readiness check)."""
        return self.attachments.storage

    async def aclose(self) -> None:
        """`close`, closing the OpenAI client and the MCP connections on the running loop
        first (preferred in async code)."""
        await self.mcp.aclose()
        if self.hosted is not None:
            await self.hosted.aclose()
        self.close()

    def close(self) -> None:
        if self.hosted is not None:
            self.hosted.close()
        self.run_db.close()
        if self._fast_engine is not None:
            self._fast_engine.dispose()
        self.engine.dispose()

    async def call_sessions(self, operation: Callable[[SessionService], T]) -> T:
        """Run a session operation; on SQLite via `on_loop_else_waiting` (the thread hop
        alone had cost a third of the CPU of an issuance)."""
        fast = self._fast_sessions
        if fast is None:
            return await self.run_db(operation, self.sessions)
        return await on_loop_else_waiting(lambda: operation(fast), lambda: self.run_db(operation, self.sessions))


def build_services(
    settings: Settings,
    *,
    registry: WorkflowRegistry | None = None,
    production: bool | None = None,
    clock: Callable[[], float] = time.time,
) -> Services:
    secret = resolve_secret(settings, production=production)
    ensure_data_dir(settings)
    engine = make_engine(
        settings.resolved_database_url,
        pool_size=settings.chatkit_db_pool_size,
        timeout_seconds=settings.chatkit_db_timeout_seconds,
    )
    _migrate(engine, settings.resolved_database_url)
    codec = TokenCodec(secret, issuer=settings.chatkit_issuer)
    mcp = registry.mcp if registry is not None else McpConnections(settings.chatkit_mcp_servers)
    registry = registry or build_registry(settings, mcp=mcp)
    session_service = functools.partial(
        SessionService,
        codec=codec,
        registry=registry,
        token_ttl_seconds=settings.chatkit_token_ttl_seconds,
        max_age_seconds=settings.chatkit_session_max_age_seconds,
        clock=clock,
    )
    run_db = DatabaseRunner(engine, settings.chatkit_db_pool_size, settings.chatkit_db_timeout_seconds)
    fast_engine = (
        make_engine(settings.resolved_database_url, busy_timeout_ms=0) if engine.dialect.name == "sqlite" else None
    )
    store = SQLModelStore(engine, runner=run_db, fast_engine=fast_engine)
    limits = build_policy(settings, store.transaction, clock=clock)
    attachments = StoredAttachments(
        store,
        build_storage(settings),
        max_bytes=settings.chatkit_max_upload_bytes,
        signing_key=secret,
        preview_ttl_seconds=settings.chatkit_token_ttl_seconds,
        clock=clock,
        limits=limits,
        limits_for=lambda workflow_id: attachment_limits(
            registry.get(workflow_id).ui if workflow_id in registry else {},
            settings.chatkit_max_upload_bytes,
            settings.upload_size_limits,
        ),
        uploads_at_once=settings.chatkit_limit_uploads_at_once,
    )
    chatkit = AppChatKitServer(
        store,
        registry,
        attachments,
        limits=limits,
        fast_paths=fast_paths.enabled(settings),
        answers_in_flight=settings.chatkit_limit_answers_in_flight,
    )
    return Services(
        settings,
        secret,
        engine,
        codec,
        registry,
        session_service(engine),
        run_db,
        store,
        attachments,
        chatkit,
        SiteSessions(
            engine,
            idle_seconds=settings.chatkit_site_session_idle_seconds,
            max_age_seconds=settings.chatkit_site_session_max_age_seconds,
            clock=clock,
        ),
        limits,
        _fast_sessions=session_service(fast_engine) if fast_engine is not None else None,
        _fast_engine=fast_engine,
        hosted=_hosted_sessions(settings, registry),
        mcp=mcp,
    )


def _migrate(engine: Engine, url: str) -> None:
    """Migrations on PostgreSQL take their own connection without timeouts: a long one, or
    waiting for another worker's, must not be cut after a few seconds."""
    if engine.dialect.name == "sqlite":
        migrate(engine)
        return
    untimed = make_engine(url, pool_size=1)
    try:
        migrate(untimed)
    finally:
        untimed.dispose()


def _hosted_sessions(settings: Settings, registry: WorkflowRegistry) -> HostedSessions | None:
    """The OpenAI hosted-sessions client when a key is set (its SDK client is made on first
    use); without a key, hosted workflows answer 503 `upstream_not_configured`."""
    hosted_ids = registry.hosted_ids()
    if settings.openai_api_key is None:
        if hosted_ids:
            logger.warning(
                "hosted workflow(s) %s registered but OPENAI_API_KEY is not set: "
                "creating their sessions fails with 503 upstream_not_configured",
                ", ".join(hosted_ids),
            )
        return None
    return HostedSessions(
        settings.openai_api_key,
        base_url=settings.openai_base_url or None,
        timeout=settings.chatkit_hosted_timeout_seconds,
    )


_lock = threading.Lock()
_services: Services | None = None


def get_services() -> Services:
    """The process-wide services, built from the environment on first use."""
    global _services
    if _services is None:
        with _lock:
            if _services is None:
                _services = build_services(get_settings())
    return _services


async def close_mcp_connections() -> None:
    """At shutdown: close the MCP connections of the services, if they were built (stdio
    servers' processes exit)."""
    services = _services
    if services is not None:
        await services.mcp.aclose()


def reset_services() -> None:
    """Forget the built services (after the environment changed, e.g. in tests)."""
    global _services
    with _lock:
        if _services is not None:
            _services.close()
        _services = None
