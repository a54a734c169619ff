"""Public workflow descriptions for any authenticated caller."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatkit_app.api.deps import api_key_or_token, bearer_token, services_of


async def get_workflow(request: Request) -> Response:
    services = services_of(request)
    caller = api_key_or_token(services, bearer_token(request))
    if not caller.api_key:
        await services.call_sessions(lambda s: s.authenticate(caller.token))
    return JSONResponse(services.registry.get(request.path_params["workflow_id"]).public())


routes = [Route("/api/chatkit/workflows/{workflow_id}", get_workflow, methods=["GET"])]
