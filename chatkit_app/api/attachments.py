"""Attachment bytes: upload (phase two of ChatKit's two-phase upload), download and
image previews, streamed to and from the file storage (`chatkit_app.storage`). Owner
only: the user comes from the session token (or, for previews, from an unexpired
signature made for that user and one of their sessions, which must still be live), and
the store finds only that user's rows."""

from __future__ import annotations

import urllib.parse

from chatkit.store import NotFoundError
from chatkit.types import ImageAttachment
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
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
    return await _file_response(request, services, request.path_params["attachment_id"], context, inline=False)


async def preview(request: Request) -> Response:
    services = services_of(request)
    attachment_id = request.path_params["attachment_id"]
    grant = services.attachments.preview_owner(attachment_id, request.query_params.get("sig", ""))
    if grant is None or not await services.call_sessions(lambda s: s.is_live(grant.session_id, grant.user_id)):
        raise NotFound("No attachment with that id.")
    context = RequestContext(grant.user_id, grant.session_id, "", "")
    return await _file_response(request, services, attachment_id, context, inline=True)


async def _file_response(
    request: Request, services: Services, attachment_id: str, context: RequestContext, *, inline: bool
) -> Response:
    """The stored bytes, streamed from the file storage (whichever host stored them); one
    byte range when the client asks (`Range: bytes=a-b`), the whole file otherwise."""
    try:
        row = await services.attachments.uploaded_file(attachment_id, context)
    except NotFoundError:
        raise NotFound("No attachment with that id, or it has no file yet.") from None
    if inline and not isinstance(row.attachment, ImageAttachment):
        raise NotFound("Only images have previews.")
    quoted = urllib.parse.quote(row.attachment.name, safe="")
    disposition = "inline" if inline else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quoted}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=300",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Accept-Ranges": "bytes",
    }
    total = row.size or 0
    try:
        wanted = _byte_range(request.headers.get("range"), total)
    except _Unsatisfiable:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{total}"})
    offset, length = wanted if wanted else (0, None)
    try:
        opened = await services.attachments.open_file(row, offset=offset, length=length)
    except NotFoundError:
        raise NotFound("The file of this attachment is no longer stored.") from None
    headers["Content-Length"] = str(opened.length)
    status = 200
    if wanted:
        status = 206
        headers["Content-Range"] = f"bytes {offset}-{offset + opened.length - 1}/{total}"
    return StreamingResponse(opened, status_code=status, media_type=row.attachment.mime_type, headers=headers)


class _Unsatisfiable(Exception):
    pass


def _byte_range(header: str | None, total: int) -> tuple[int, int] | None:
    """One range of `Range: bytes=...` as (offset, length); None for the whole file (no
    header, several ranges or a malformed one: RFC 9110 lets a server ignore those);
    `_Unsatisfiable` for a range outside the file (416)."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[len("bytes=") :].strip().partition("-")
    try:
        if not first:  # the last N bytes
            suffix = int(last)
            if suffix <= 0 or not total:
                raise _Unsatisfiable
            return max(0, total - suffix), min(suffix, total)
        start = int(first)
        end = int(last) if last else total - 1
    except ValueError:
        return None
    if start >= total or end < start:
        raise _Unsatisfiable
    return start, min(end, total - 1) - start + 1


routes = [
    Route(API_PREFIX + "/{attachment_id}/upload", upload, methods=["POST"]),
    Route(API_PREFIX + "/{attachment_id}/preview", preview, methods=["GET"]),
    Route(API_PREFIX + "/{attachment_id}", download, methods=["GET"]),
]
