"""Wires the Reflex app: pages, the API in front of Reflex's routes, startup checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator

from chatkit_app import log_redaction
from chatkit_app.api.app import create_api
from chatkit_app.api.security_headers import security_headers
from chatkit_app.api.upload_guard import upload_guard
from chatkit_app.auth.gate import sign_in_gate
from chatkit_app.fast_paths import FastPathsUnavailable, check_available, close_shared_clients
from chatkit_app.housekeeping import sweep_hourly
from chatkit_app.ops import logs as ops_logs
from chatkit_app.ops.layer import ops_layer
from chatkit_app.services import close_mcp_connections, get_services
from chatkit_app.settings import (
    ConfigError,
    check_production,
    get_settings,
    is_production,
    resolve_secret,
    settings_or_exit,
)
from chatkit_app.shell import ChatApp, log_backend_error
from chatkit_app.ui.pages import embed, index
from chatkit_app.ui.thread_page import ROUTE as THREAD_ROUTE
from chatkit_app.ui.thread_page import thread_page
from chatkit_app.workflows.config import WorkflowConfigError, load_public_config
from chatkit_app.workflows.modules import load_workflow_modules

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
for _client_log in ("httpx", "httpx2"):  # a line per request at INFO, URL and all (model, MCP servers)
    logging.getLogger(_client_log).setLevel(logging.WARNING)
log_redaction.install()


def _building_the_frontend() -> bool:
    """`reflex export` (`make build`) imports the app only to compile its pages."""
    from reflex.constants import CompileContext
    from reflex.utils.exec import get_compile_context

    return get_compile_context() == CompileContext.EXPORT


try:
    load_public_config()  # a bad field in assets/chatkit-config.json stops the start, named
    settings_or_exit()
    ops_logs.install(get_settings().chatkit_log_format)  # CHATKIT_LOG_FORMAT=json: JSON lines
    load_workflow_modules(get_settings())  # CHATKIT_WORKFLOW_MODULES: a bad entry stops the start, named
    check_available(get_settings())  # a private name the fast paths use is gone: say to turn them off
    if is_production() and not _building_the_frontend():  # `make build` signs nothing: no secret needed
        resolve_secret(get_settings(), production=True)
        check_production(get_settings())
except (ConfigError, WorkflowConfigError, FastPathsUnavailable) as exc:
    print(f"chatkit_app: {exc}", file=sys.stderr)
    raise SystemExit(2) from None


async def _prepare_services() -> None:
    """Migrate the database and load the workflows before the first request; redact the
    logs again now that the server (a Granian worker) has configured its own logging."""
    log_redaction.install()
    ops_logs.install(get_settings().chatkit_log_format)
    await asyncio.to_thread(get_services)


@contextlib.asynccontextmanager
async def _model_clients() -> AsyncIterator[None]:
    """The model clients' and the MCP servers' connections are closed when the server stops."""
    yield
    await close_mcp_connections()
    await close_shared_clients()


def _reflex_app() -> ChatApp:
    return app


# Inside out: our API; upload_guard (Reflex's /_upload takes only bodies within the limit,
# from connected clients); sign_in_gate (strangers get nothing when sign-in is required);
# security_headers on every response, the gate's included; ops_layer outermost (request
# ids, request metrics, /healthz /readyz /metrics before the gate).
app: ChatApp = ChatApp(
    api_transformer=[create_api(), upload_guard(_reflex_app), sign_in_gate, security_headers, ops_layer],
    backend_exception_handler=log_backend_error,
)
app.register_lifespan_task(_prepare_services)
app.register_lifespan_task(sweep_hourly)
app.register_lifespan_task(_model_clients)
app.add_page(index, route="/", title=get_settings().chatkit_site_title)
app.add_page(thread_page, route=THREAD_ROUTE, title=get_settings().chatkit_site_title)
app.add_page(embed, route="/embed/[workflow_id]", title=get_settings().chatkit_site_title)
