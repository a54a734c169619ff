"""`POST /api/chatkit`: the ChatKit protocol, for the holder of a session token.

The user, session and workflow come from the verified token, never from the body.
Streaming answers are Server-Sent Events with headers that stop proxies buffering;
a request that names someone else's thread fails before any byte is streamed (404).
The body is parsed once, here; the ChatKit server takes the parsed request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from chatkit.server import StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import ChatKitReq
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from chatkit_app.api.deps import read_body, request_context, services_of
from chatkit_app.chatkit_server.server import CHATKIT_REQUEST
from chatkit_app.core.context import RequestContext
from chatkit_app.errors import BadRequest, NotFound
from chatkit_app.services import Services

SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}


async def chatkit_endpoint(request: Request) -> Response:
    services = services_of(request)
    context = await request_context(request, services)
    body = await read_body(request, services.settings.chatkit_max_body_bytes)
    arrival = services.chatkit.head_start.arrive()  # from here on, work without waiting on the client
    try:
        request_model = CHATKIT_REQUEST.validate_json(body)
        await _check_attachments(services, request_model, context)
        result = await services.chatkit.process_request(request_model, context, arrival, raw=body)
    except ValidationError as exc:
        raise BadRequest(f"Not a valid ChatKit request ({_first_error(exc)}).") from None
    except NotFoundError:
        raise NotFound("Not found.") from None
    finally:
        arrival.done()
    if not isinstance(result, StreamingResult):
        return Response(result.json, media_type="application/json")
    events = aiter(result)
    try:
        first = await anext(events)
    except StopAsyncIteration:
        first = b""
    except NotFoundError:
        raise NotFound("Not found.") from None
    return StreamingResponse(_prepend(first, events), media_type="text/event-stream", headers=SSE_HEADERS)


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


async def _check_attachments(services: Services, request: ChatKitReq, context: RequestContext) -> None:
    """A message may only carry the sender's own attachments whose bytes arrived;
    checked up front so the stream never breaks half-way."""
    params_input = getattr(getattr(request, "params", None), "input", None)
    for attachment_id in getattr(params_input, "attachments", None) or []:
        row = await services.store.load_attachment_file(attachment_id, context)
        if not row.uploaded:
            raise BadRequest("An attachment of this message has not been uploaded yet.", code="attachment_not_uploaded")


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"][:3]) or "body"
    return f"{where}: {first['msg']}"


routes = [Route("/api/chatkit", chatkit_endpoint, methods=["POST"])]
