"""What ``/api/generate`` and ``/api/style`` share: the job service, its errors as API errors,
status, cancel and the paged list, each for the caller's own jobs only."""

from __future__ import annotations

from fastapi import Request

from avatar_engine.errors import JobError
from avatar_engine.jobs import public
from avatar_engine.service import AvatarJobs
from realtime.api.deps import store_call
from realtime.errors import ApiError


def avatars(request: Request) -> AvatarJobs:
    jobs = getattr(request.app.state, "avatars", None)
    if jobs is None:
        raise ApiError("SERVICE_UNAVAILABLE", "avatar jobs are not running", retry_after=5)
    return jobs


def api_error(exc: JobError) -> ApiError:
    return ApiError(exc.code, exc.message, exc.status)


async def submit(jobs: AvatarJobs, kind: str, user: str, data: bytes, options: dict) -> dict:
    try:
        doc = await store_call(jobs.submit(kind, user, data, options))
    except JobError as exc:
        raise api_error(exc) from None
    return {"success": True, "data": {"job_id": doc["_id"], "status_url": public(doc)["status_url"],
                                      "estimated_time": jobs.estimate_s(options)}}


async def owned(jobs: AvatarJobs, job_id: str, user: str, kind: str) -> dict:
    doc = await store_call(jobs.jobs.get(job_id)) if len(job_id) <= 64 else None
    try:
        return jobs.owned(doc, user, kind)
    except JobError as exc:
        raise api_error(exc) from None


async def status(jobs: AvatarJobs, job_id: str, user: str, kind: str) -> dict:
    return {"success": True, "data": public(await owned(jobs, job_id, user, kind))}


async def cancel(jobs: AvatarJobs, job_id: str, user: str, kind: str) -> dict:
    await owned(jobs, job_id, user, kind)
    doc = await store_call(jobs.cancel(job_id))
    return {"success": True, "data": public(doc)}


async def page(jobs: AvatarJobs, user: str, kind: str, limit: int, before: float | None) -> dict:
    docs = await store_call(jobs.jobs.list(user, kind, limit + 1, before))
    more = len(docs) > limit
    docs = docs[:limit]
    return {"success": True, "data": {"items": [public(d) for d in docs],
                                      "next_before": docs[-1]["created_at"] if more else None}}
