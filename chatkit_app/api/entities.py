"""`POST /api/chatkit/entities`: ChatKit's entity callbacks (`onRequestPreview`,
`onTagSearch`) answered by the page's Python handlers (`chatkit_app.ui.chatkit.entities`),
for the holder of a session token, with that session's user as the handler's context."""

from __future__ import annotations

import asyncio
import json
import logging

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatkit_app.api.deps import read_body, request_context, services_of
from chatkit_app.core import entity_handlers as entities
from chatkit_app.errors import BadRequest, NotFound

logger = logging.getLogger("chatkit_app.api.entities")
MAX_BODY = 16 * 1024
HANDLER_SECONDS = 10.0


async def entity_callback(request: Request) -> Response:
    services = services_of(request)
    context = await request_context(request, services)
    await services.limits.lookup(context.user_id)  # the app's handlers may be slow: 429 past the rate
    try:
        body = json.loads(await read_body(request, MAX_BODY))
    except ValueError:
        raise BadRequest("The body must be JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    found = entities.handlers(str(body.get("handler", "")))
    op = body.get("op")
    if found is None or op not in found.ops:
        raise NotFound("No such entity handler.")
    try:
        if op == "preview":
            entity = entities.EntityRef.model_validate(body.get("entity"))
            widget = await asyncio.wait_for(entities.preview(found, entity, context), HANDLER_SECONDS)
            return JSONResponse({"preview": widget})
        query = str(body.get("query", ""))[:500]
        found_entities = await asyncio.wait_for(entities.search(found, query, context), HANDLER_SECONDS)
        return JSONResponse({"entities": found_entities})
    except ValidationError:
        raise BadRequest("Not an entity.") from None
    except Exception:  # the app's handler failed: the browser gets no preview, the log the reason
        logger.exception("entity %s handler failed", op)
        return JSONResponse({"preview": None} if op == "preview" else {"entities": []})


routes = [Route("/api/chatkit/entities", entity_callback, methods=["POST"])]
