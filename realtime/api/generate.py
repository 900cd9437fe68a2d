"""``/api/generate`` (the seeds' 5.6): a photo becomes an avatar, as a background job.

``POST /api/generate`` (multipart ``image`` + ``options`` JSON) checks the upload and finds the
face before answering (415, 413, ``INVALID_IMAGE`` 400, ``IMAGE_TOO_LARGE`` 413,
``NO_FACE_DETECTED`` / ``MULTIPLE_FACES`` 422, ``LICENSE_RESTRICTED`` 451), then queues the job:
202 ``{job_id, status_url, estimated_time}``. ``GET /api/generate/status/{id}`` -> ``status``,
``progress``, ``current_step``, ``result_url``, ``error``; ``DELETE`` on it cancels. ``GET
/api/generate/jobs`` pages through the caller's jobs. ``GET /api/models/{id}.glb`` (``.vrm``,
``.png`` thumbnail) serves the result. Every job is its owner's only: anyone else gets 404.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from avatar_engine.options import GenerateOptions
from realtime.api import jobs_common as jc
from realtime.api.deps import UserDep, store_call
from realtime.api.job_schemas import JobAcceptedResponse, JobPageResponse, JobStatusResponse
from realtime.api.schemas import errors
from realtime.api.uploads import read_form
from realtime.auth import resolve_user
from realtime.errors import ApiError

router = APIRouter(prefix="/api/generate", tags=["avatars"])
models = APIRouter(prefix="/api/models", tags=["avatars"])
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="a job id")]
_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["image"], "properties": {
        "image": {"type": "string", "format": "binary",
                  "description": "JPEG, PNG or WebP, at most 10 MB: one person, facing the camera"},
        "options": {"type": "string", "description": "JSON: " + json.dumps(
            GenerateOptions().model_dump())}}}}}}}


def parse_options(raw: str | None) -> dict:
    try:
        value = json.loads(raw) if raw else {}
        if not isinstance(value, dict):
            raise ValueError("options must be a JSON object")
        return GenerateOptions(**value).model_dump()
    except (ValueError, ValidationError) as exc:
        raise ApiError("VALIDATION_ERROR", f"options: {exc}"[:400]) from None


@router.post("", status_code=202, summary="Make an avatar from a photo (a background job)",
             response_model=JobAcceptedResponse,
             responses=errors(400, 413, 415, 422, 451, 503), openapi_extra=_FORM)
async def generate(request: Request, user: UserDep) -> dict:
    jobs = jc.avatars(request)
    data, fields = await read_form(request, jobs.settings.avatar_max_upload_bytes)
    return await jc.submit(jobs, "generate", user, data, parse_options(fields.get("options")))


@router.get("/status/{job_id}", summary="A job's status and progress",
            response_model=JobStatusResponse, responses=errors(404, 503))
async def generate_status(job_id: JobId, request: Request, user: UserDep) -> dict:
    return await jc.status(jc.avatars(request), job_id, user, "generate")


@router.delete("/status/{job_id}", summary="Cancel a job (its work stops at once)",
               response_model=JobStatusResponse, responses=errors(404, 503))
async def cancel_generate(job_id: JobId, request: Request, user: UserDep) -> dict:
    return await jc.cancel(jc.avatars(request), job_id, user, "generate")


@router.get("/jobs", summary="Your avatar jobs, newest first", response_model=JobPageResponse,
            responses=errors(400, 503))
async def list_generate_jobs(request: Request, user: UserDep,
                             limit: Annotated[int, Query(ge=1, le=100)] = 20,
                             before: Annotated[float | None, Query(
                                 description="cursor: next_before of the previous page")] = None
                             ) -> dict:
    return await jc.page(jc.avatars(request), user, "generate", limit, before)


_MEDIA = {"glb": ("model.glb", "model/gltf-binary"), "vrm": ("model.vrm", "model/gltf-binary"),
          "png": ("thumbnail.png", "image/png")}


@models.get("/{file_id}.{ext}", summary="A finished avatar: .glb, .vrm or .png (thumbnail)",
            response_class=Response, responses={
                200: {"content": {"model/gltf-binary": {}, "image/png": {}}},
                **errors(404, 503)})
async def model_file(file_id: JobId, ext: Annotated[str, Path(pattern=r"^(glb|vrm|png)$")],
                     request: Request,
                     token: Annotated[str | None, Query(description="a session token (token "
                                                                     "mode), for loaders that "
                                                                     "cannot send headers")] = None
                     ) -> Response:
    jobs = jc.avatars(request)
    user = resolve_user(jobs.settings, request.headers.get("authorization"), token)
    doc = await jc.owned(jobs, file_id, user, "generate")
    name, media = _MEDIA[ext]
    data = await store_call(jobs.jobs.get_file(file_id, name)) if doc["status"] == "completed" \
        else None
    if data is None:
        raise ApiError("NOT_FOUND", f"no {ext} file for {file_id} (not finished, or not asked "
                                    f"for)")
    return Response(data, media_type=media, headers={
        "Cache-Control": "private, max-age=86400, immutable",
        "Content-Disposition": f'inline; filename="avatar-{file_id[:8]}.{ext}"'})
