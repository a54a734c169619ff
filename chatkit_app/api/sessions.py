"""Session routes: parse, call the session service, shape the answer."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from chatkit_app.api.deps import (
    BearerDep,
    CallerDep,
    ServicesDep,
    bearer_token,
    parse_json_body,
    require_api_key,
)
from chatkit_app.api.schemas import CreateSessionBody, session_object, validation_object
from chatkit_app.errors import Unauthorized

router = APIRouter(prefix="/api/chatkit/session")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post("", status_code=201, dependencies=[Depends(require_api_key)])
async def create_session(request: Request, services: ServicesDep) -> JSONResponse:
    body: CreateSessionBody = await parse_json_body(request, services, CreateSessionBody)
    workflow_id = body.workflow_id or services.registry.default_id
    issued = await run_in_threadpool(services.sessions.create, body.user_id, workflow_id, body.metadata)
    return JSONResponse(session_object(issued), status_code=201, headers=NO_STORE)


@router.post("/{session_id}/refresh")
async def refresh_session(session_id: str, services: ServicesDep, token: BearerDep) -> JSONResponse:
    issued = await run_in_threadpool(services.sessions.refresh, session_id, token)
    return JSONResponse(session_object(issued), headers=NO_STORE)


@router.get("/{session_id}/validate")
async def validate_session(session_id: str, services: ServicesDep, request: Request) -> JSONResponse:
    try:
        info = await run_in_threadpool(services.sessions.validate, session_id, bearer_token(request))
    except Unauthorized as exc:
        body = {"valid": False, **exc.envelope()}
        return JSONResponse(body, status_code=401, headers={**NO_STORE, "WWW-Authenticate": "Bearer"})
    return JSONResponse(validation_object(info), headers=NO_STORE)


@router.delete("/{session_id}", status_code=204)
async def revoke_session(session_id: str, services: ServicesDep, caller: CallerDep) -> Response:
    if caller.api_key:
        await run_in_threadpool(services.sessions.revoke, session_id)
    else:
        await run_in_threadpool(services.sessions.revoke_with_token, session_id, caller.token)
    return Response(status_code=204)
