"""One image from a multipart form, with the size cap holding while the body streams (a
client that sends no Content-Length, or a false one, cannot make the server spool more)."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import UploadFile

from realtime.errors import ApiError

FORM_SLACK = 64 * 1024  # the form's other fields and boundaries


async def read_form(request: Request, limit: int) -> tuple[bytes, dict[str, str]]:
    """-> (the ``image`` part's bytes, the other fields)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "multipart/form-data":
        raise ApiError("UNSUPPORTED_MEDIA_TYPE",
                       f"send multipart/form-data with an 'image' file, not {ctype or 'nothing'!r}")
    cap = limit + FORM_SLACK
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise ApiError("PAYLOAD_TOO_LARGE", f"the image is over {limit // 2**20} MB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise ApiError("PAYLOAD_TOO_LARGE", f"the image is over {limit // 2**20} MB")
    request._body = bytes(body)  # noqa: SLF001 - Starlette parses the form from it
    try:
        form = await request.form(max_files=1, max_fields=8, max_part_size=64 * 1024)
    except Exception as exc:  # noqa: BLE001 - a malformed form
        raise ApiError("VALIDATION_ERROR", f"unreadable form: {exc}") from None
    image = form.get("image")
    if not isinstance(image, UploadFile):
        raise ApiError("VALIDATION_ERROR", "the form needs an 'image' file")
    data = await image.read()
    if len(data) > limit:
        raise ApiError("PAYLOAD_TOO_LARGE", f"the image is over {limit // 2**20} MB")
    if not data:
        raise ApiError("INVALID_IMAGE", "the image is empty")
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    return data, fields
