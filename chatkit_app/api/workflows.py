"""Public workflow descriptions for any authenticated caller."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from chatkit_app.api.deps import CallerDep, ServicesDep

router = APIRouter(prefix="/api/chatkit/workflows")


@router.get("/{workflow_id}")
async def get_workflow(workflow_id: str, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    if not caller.api_key:
        await run_in_threadpool(services.sessions.authenticate, caller.token)
    return JSONResponse(services.registry.get(workflow_id).public())
