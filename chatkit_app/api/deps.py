"""Request dependencies: services, bearer credentials and size-bounded JSON bodies.

Credentials come only from the `Authorization` header; a token in the query string
is ignored on purpose (it would end up in access logs and browser history).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from chatkit_app.auth.sessions import SessionInfo
from chatkit_app.errors import BadRequest, PayloadTooLarge, ServiceUnavailable, Unauthorized, ValidationFailed
from chatkit_app.services import Services


def get_app_services(request: Request) -> Services:
    provider = request.app.state.services_provider
    services: Services = provider()
    return services


ServicesDep = Annotated[Services, Depends(get_app_services)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Send `Authorization: Bearer <token>`.", code="missing_credentials")
    return value.strip()


BearerDep = Annotated[str, Depends(bearer_token)]


def is_api_key(services: Services, presented: str) -> bool:
    configured = services.settings.chatkit_api_key
    if configured is None:
        return False
    return hmac.compare_digest(presented.encode(), configured.get_secret_value().encode())


def require_api_key(services: ServicesDep, token: BearerDep) -> None:
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


def api_key_or_token(services: ServicesDep, token: BearerDep) -> Caller:
    if is_api_key(services, token):
        return Caller(api_key=True, token=token)
    return Caller(api_key=False, token=token)


CallerDep = Annotated[Caller, Depends(api_key_or_token)]


async def read_body(request: Request, limit: int) -> bytes:
    """Reads the body, stopping with 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Invalid Content-Length header.")
        if int(declared) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_json_body(request: Request, services: Services, model: type[BaseModel]) -> Any:
    raw = await read_body(request, services.settings.chatkit_max_body_bytes)
    try:
        data = json.loads(raw) if raw.strip() else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{field}: {first['msg']}"
