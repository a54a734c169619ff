"""Session routes: parse, call the session issuer (self-hosted or hosted), shape the answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatkit_app.api.deps import api_key_or_token, bearer_token, parse_json_body, require_api_key, services_of
from chatkit_app.api.schemas import CreateSessionBody, session_object, validation_object
from chatkit_app.errors import Unauthorized

PREFIX = "/api/chatkit/session"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def create_session(request: Request) -> Response:
    services = services_of(request)
    require_api_key(services, bearer_token(request))
    body = await parse_json_body(request, services, CreateSessionBody)
    workflow_id = body.workflow_id or services.registry.default_id
    issued = await services.issuer.create(body.user_id, workflow_id, body.metadata)
    return JSONResponse(session_object(issued), status_code=201, headers=NO_STORE)


async def refresh_session(request: Request) -> Response:
    services = services_of(request)
    token = bearer_token(request)
    issued = await services.issuer.refresh(request.path_params["session_id"], token)
    return JSONResponse(session_object(issued), headers=NO_STORE)


async def validate_session(request: Request) -> Response:
    services = services_of(request)
    try:
        token = bearer_token(request)
        info = await services.issuer.validate(request.path_params["session_id"], token)
    except Unauthorized as exc:
        body = {"valid": False, **exc.envelope()}
        return JSONResponse(body, status_code=401, headers={**NO_STORE, "WWW-Authenticate": "Bearer"})
    return JSONResponse(validation_object(info), headers=NO_STORE)


async def revoke_session(request: Request) -> Response:
    services = services_of(request)
    caller = api_key_or_token(services, bearer_token(request))
    session_id = request.path_params["session_id"]
    if caller.api_key:
        await services.issuer.revoke(session_id)
    else:
        await services.issuer.revoke_with_token(session_id, caller.token)
    return Response(status_code=204)


routes = [
    Route(PREFIX, create_session, methods=["POST"]),
    Route(PREFIX + "/{session_id}/refresh", refresh_session, methods=["POST"]),
    Route(PREFIX + "/{session_id}/validate", validate_session, methods=["GET"]),
    Route(PREFIX + "/{session_id}", revoke_session, methods=["DELETE"]),
]
