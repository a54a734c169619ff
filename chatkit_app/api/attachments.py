"""Attachment bytes: upload (phase two of ChatKit's two-phase upload), download and
image previews. Owner only: the user comes from the session token (or, for previews,
from an unexpired signature made for that user and one of their sessions, which must
still be live), and the store finds only that user's rows."""

from __future__ import annotations

import urllib.parse

from chatkit.store import NotFoundError
from chatkit.types import ImageAttachment
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from chatkit_app.api.deps import request_context, services_of
from chatkit_app.chatkit_server.attachments import API_PREFIX
from chatkit_app.core.context import RequestContext
from chatkit_app.errors import NotFound
from chatkit_app.services import Services


async def upload(request: Request) -> Response:
    services = services_of(request)
    context = await request_context(request, services)
    attachment = await services.attachments.store_upload(
        request.path_params["attachment_id"], request.stream(), request.headers.get("content-type", ""), context
    )
    return JSONResponse(attachment.model_dump(mode="json"))


async def download(request: Request) -> Response:
    services = services_of(request)
    context = await request_context(request, services)
    return await _file_response(services, request.path_params["attachment_id"], context, inline=False)


async def preview(request: Request) -> Response:
    services = services_of(request)
    attachment_id = request.path_params["attachment_id"]
    grant = services.attachments.preview_owner(attachment_id, request.query_params.get("sig", ""))
    if grant is None or not await services.call_sessions(lambda s: s.is_live(grant.session_id, grant.user_id)):
        raise NotFound("No attachment with that id.")
    context = RequestContext(grant.user_id, grant.session_id, "", "")
    return await _file_response(services, attachment_id, context, inline=True)


async def _file_response(services: Services, attachment_id: str, context: RequestContext, *, inline: bool) -> Response:
    try:
        row = await services.store.load_attachment_file(attachment_id, context)
    except NotFoundError:
        raise NotFound("No attachment with that id.") from None
    if not row.uploaded or not row.storage_name:
        raise NotFound("This attachment has no file yet.")
    if inline and not isinstance(row.attachment, ImageAttachment):
        raise NotFound("Only images have previews.")
    quoted = urllib.parse.quote(row.attachment.name, safe="")
    disposition = "inline" if inline else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quoted}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=300",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return FileResponse(
        services.attachments.path_of(row.storage_name), media_type=row.attachment.mime_type, headers=headers
    )


routes = [
    Route(API_PREFIX + "/{attachment_id}/upload", upload, methods=["POST"]),
    Route(API_PREFIX + "/{attachment_id}/preview", preview, methods=["GET"]),
    Route(API_PREFIX + "/{attachment_id}", download, methods=["GET"]),
]
