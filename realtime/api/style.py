"""``/api/style`` (the seeds' 5.7): a photo in a style (chibi, anime, cartoon) as a background
job -> a PNG. ``POST /api/style/transform`` (multipart ``image``, ``style_preset``, ``strength``
0..1) -> 202 ``{job_id, status_url, estimated_time}``; ``GET /api/style/status/{id}``;
``DELETE`` on it cancels; ``GET /api/style/jobs``; ``GET /api/style/images/{id}.png``. On
ComfyUI when one is configured, else a CPU toon filter (the status's ``notes`` say which)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from avatar_engine.options import StyleOptions
from realtime.api import jobs_common as jc
from realtime.api.deps import UserDep, store_call
from realtime.api.generate import JobId
from realtime.api.job_schemas import JobAcceptedResponse, JobPageResponse, JobStatusResponse
from realtime.api.schemas import errors
from realtime.api.uploads import read_form
from realtime.auth import resolve_user
from realtime.errors import ApiError

router = APIRouter(prefix="/api/style", tags=["style"])
_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["image"], "properties": {
        "image": {"type": "string", "format": "binary"},
        "style_preset": {"type": "string", "enum": ["chibi", "anime", "cartoon"]},
        "strength": {"type": "number", "minimum": 0, "maximum": 1}}}}}}}


@router.post("/transform", status_code=202, summary="Restyle a photo (a background job)",
             response_model=JobAcceptedResponse, responses=errors(400, 413, 415, 451, 503),
             openapi_extra=_FORM)
async def transform(request: Request, user: UserDep) -> dict:
    jobs = jc.avatars(request)
    data, fields = await read_form(request, jobs.settings.avatar_max_upload_bytes)
    try:
        options = StyleOptions(**{k: v for k, v in fields.items()
                                  if k in ("style_preset", "strength")}).model_dump()
    except ValidationError as exc:
        raise ApiError("VALIDATION_ERROR", f"{exc}"[:400]) from None
    return await jc.submit(jobs, "style", user, data, {**options, "style": options["style_preset"]})


@router.get("/status/{job_id}", summary="A style job's status", response_model=JobStatusResponse,
            responses=errors(404, 503))
async def style_status(job_id: JobId, request: Request, user: UserDep) -> dict:
    return await jc.status(jc.avatars(request), job_id, user, "style")


@router.delete("/status/{job_id}", summary="Cancel a style job", response_model=JobStatusResponse,
               responses=errors(404, 503))
async def cancel_style(job_id: JobId, request: Request, user: UserDep) -> dict:
    return await jc.cancel(jc.avatars(request), job_id, user, "style")


@router.get("/jobs", summary="Your style jobs, newest first", response_model=JobPageResponse,
            responses=errors(400, 503))
async def list_style_jobs(request: Request, user: UserDep,
                          limit: Annotated[int, Query(ge=1, le=100)] = 20,
                          before: Annotated[float | None, Query()] = None) -> dict:
    return await jc.page(jc.avatars(request), user, "style", limit, before)


@router.get("/images/{job_id}.png", summary="A finished style job's PNG", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, **errors(404, 503)})
async def style_image(job_id: JobId, request: Request,
                      token: Annotated[str | None, Query()] = None) -> Response:
    jobs = jc.avatars(request)
    user = resolve_user(jobs.settings, request.headers.get("authorization"), token)
    doc = await jc.owned(jobs, job_id, user, "style")
    data = await store_call(jobs.jobs.get_file(job_id, "style.png")) \
        if doc["status"] == "completed" else None
    if data is None:
        raise ApiError("NOT_FOUND", f"no image for {job_id} (not finished)")
    return Response(data, media_type="image/png",
                    headers={"Cache-Control": "private, max-age=86400, immutable"})
