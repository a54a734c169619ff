"""The FastAPI app that Reflex mounts in front of its own routes (`api_transformer`).

Every error leaves as `{"error": {"code", "message"}}`, with `Retry-After` when the
error says when to retry: ours, FastAPI's validation errors, Starlette's 404/405,
database outages (503) and anything unexpected (500, logged server side, never echoed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute

from chatkit_app.api import attachments, auth_routes, chatkit, entities, sessions, workflows
from chatkit_app.errors import ChatKitAppError, error_envelope
from chatkit_app.services import Services, get_services

logger = logging.getLogger("chatkit_app.api")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "invalid_request", 401: "unauthorized"}


def create_api(services_provider: Callable[[], Services] = get_services) -> FastAPI:
    api = FastAPI(title="chatkit_app", docs_url=None, redoc_url=None, openapi_url=None)
    api.state.services_provider = services_provider
    api.router.routes.extend(api_routes())
    api.add_exception_handler(ChatKitAppError, _app_error)  # type: ignore[arg-type]
    api.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    api.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    api.add_exception_handler(OperationalError, _database_error)
    api.add_exception_handler(PoolTimeout, _database_error)
    api.add_exception_handler(DBAPIError, _database_error)
    api.add_exception_handler(Exception, _unexpected_error)
    return api


def api_routes() -> list[BaseRoute]:
    """Every route of the API (the metrics label requests with their path templates)."""
    return [
        *sessions.routes,
        *workflows.routes,
        *chatkit.routes,
        *entities.routes,
        *attachments.routes,
        *auth_routes.routes,
    ]


async def _app_error(_request: Request, exc: ChatKitAppError) -> JSONResponse:
    headers: dict[str, str] = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(exc.envelope(), status_code=exc.status, headers=headers or None)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    field = ".".join(str(part) for part in first.get("loc", ()))
    return JSONResponse(error_envelope("validation_error", f"{field}: {first.get('msg')}"), status_code=422)


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    return JSONResponse(error_envelope(code, message), status_code=exc.status_code, headers=exc.headers)


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("database unavailable: %s", type(exc).__name__)
    body = error_envelope("database_unavailable", "The database is unavailable; try again shortly.")
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error while handling a request", exc_info=exc)
    return JSONResponse(error_envelope("internal_error", "Something went wrong on the server."), status_code=500)
