"""Builds the app's long-lived services once per process (engine, codec, registry,
session service) and migrates the database before first use."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from chatkit_app.auth.sessions import SessionService
from chatkit_app.auth.tokens import TokenCodec
from chatkit_app.db import make_engine, migrate
from chatkit_app.settings import Settings, ensure_data_dir, get_settings, resolve_secret
from chatkit_app.workflows.registry import WorkflowRegistry, build_registry

logger = logging.getLogger("chatkit_app.services")


@dataclass
class Services:
    settings: Settings
    secret: bytes
    engine: Engine
    codec: TokenCodec
    registry: WorkflowRegistry
    sessions: SessionService


def build_services(
    settings: Settings, *, registry: WorkflowRegistry | None = None, production: bool | None = None
) -> Services:
    secret = resolve_secret(settings, production=production)
    ensure_data_dir(settings)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    codec = TokenCodec(secret, issuer=settings.chatkit_issuer)
    registry = registry or build_registry(default_id=settings.chatkit_workflow_id)
    sessions = SessionService(
        engine,
        codec,
        registry,
        token_ttl_seconds=settings.chatkit_token_ttl_seconds,
        max_age_seconds=settings.chatkit_session_max_age_seconds,
    )
    return Services(settings, secret, engine, codec, registry, sessions)


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


def reset_services() -> None:
    """Forget the built services (after the environment changed, e.g. in tests)."""
    global _services
    with _lock:
        if _services is not None:
            _services.engine.dispose()
        _services = None
