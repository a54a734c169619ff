"""Request helpers: services, bearer credentials and size-bounded JSON bodies.

Routes call these directly rather than through FastAPI's `Depends`: on the hot
issuance path, dependency resolution cost more CPU than JWT signing and the INSERT
together (measured by bench/issuance.py).

Credentials come only from the `Authorization` header; a token in the query string
is ignored on purpose (it would end up in access logs and browser history).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from chatkit_app.auth.sessions import SessionInfo
from chatkit_app.core.context import RequestContext
from chatkit_app.errors import BadRequest, PayloadTooLarge, ServiceUnavailable, Unauthorized, ValidationFailed
from chatkit_app.net import public_base_url
from chatkit_app.services import Services
from chatkit_app.urls import configured_backend_url

M = TypeVar("M", bound=BaseModel)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services_provider()
    return services


async def request_context(request: Request, services: Services) -> RequestContext:
    """Who is calling, from a live session token: the context every store call is scoped by."""
    token = bearer_token(request)
    info = await services.call_sessions(lambda s: s.authenticate(token))
    return RequestContext(info.user_id, info.session_id, info.workflow_id, base_url_of(request, services))


def base_url_of(request: Request, services: Services) -> str:
    """The absolute base for URLs we hand out: CHATKIT_PUBLIC_URL, else the configured
    backend address (X-Forwarded-* from trusted proxies only; never the Host header)."""
    settings = services.settings
    peer = request.client.host if request.client else None
    return public_base_url(
        settings.chatkit_public_url, configured_backend_url(), peer, request.headers, settings.trusted_proxies
    )


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Send `Authorization: Bearer <token>`.", code="missing_credentials")
    return value.strip()


def is_api_key(services: Services, presented: str) -> bool:
    configured = services.settings.chatkit_api_key
    if configured is None:
        return False
    return hmac.compare_digest(presented.encode(), configured.get_secret_value().encode())


def require_api_key(services: Services, token: str) -> None:
    if services.settings.chatkit_api_key is None:
        raise ServiceUnavailable(
            "Session creation over HTTP is disabled: set CHATKIT_API_KEY on the server.",
            code="api_key_not_configured",
        )
    if not is_api_key(services, token):
        raise Unauthorized("The API key is not valid.", code="invalid_api_key")


@dataclass(frozen=True)
class Caller:
    """Either the trusted backend (API key) or the holder of one session's token."""

    api_key: bool
    token: str
    session: SessionInfo | None = None


def api_key_or_token(services: Services, token: str) -> Caller:
    if is_api_key(services, token):
        return Caller(api_key=True, token=token)
    return Caller(api_key=False, token=token)


DRAIN_FACTOR = 4


async def read_body(request: Request, limit: int) -> bytes:
    """Reads the body, refusing with 413 once it passes `limit` bytes (nothing beyond
    the limit is kept). A modest excess is read and discarded first so that clients
    still writing their body can read the 413 instead of a reset connection."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Invalid Content-Length header.")
        if int(declared) > limit:
            await _discard(request, int(declared), 0, limit)
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            await _discard(request, size, size, limit)
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def _discard(request: Request, declared: int, seen: int, limit: int) -> None:
    if declared > DRAIN_FACTOR * limit:
        return
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > DRAIN_FACTOR * limit:
            return


async def parse_json_body(request: Request, services: Services, model: type[M]) -> M:
    """Parses and validates in one pass (pydantic's JSON parser)."""
    raw = await read_body(request, services.settings.chatkit_max_body_bytes)
    if not raw.strip():
        raise ValidationFailed("The request body must be a JSON object.")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise BadRequest("The request body is not valid JSON.", code="invalid_json") from None
        if first["type"] == "model_type":
            raise ValidationFailed("The request body must be a JSON object.") from None
        raise ValidationFailed(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{field}: {first['msg']}"
