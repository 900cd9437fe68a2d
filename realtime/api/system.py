"""``/api/system``: the GPU host's plans and VRAM, in the seeds' shapes (000 §5.8).

* ``POST /api/system/mode {mode}`` -> ``{previous_mode, current_mode, switch_time_ms}``: ``chat``,
  ``tts``, ``style``, ``gen3d`` pin that plan; ``auto`` hands the GPU back to the automatic
  scheduler. An unknown mode is ``VALIDATION_ERROR`` (400), a plan that cannot fit
  ``VRAM_INSUFFICIENT`` (507, nothing changes), a service that fails its health check after the
  switch (or a GPU host that does not answer) ``SERVICE_UNAVAILABLE`` (503).
* ``GET /api/system/vram`` -> ``{used_mb, total_mb, usage_percent, active_services}`` plus
  ``services`` (state, MB, last switch each) and ``device``.
* ``GET /api/system/gpu``: everything the operator view shows (plan, services, leases, policy,
  recent switches).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from gpu_host.client import GpuError
from realtime.api.deps import ServicesDep, UserDep, services_of
from realtime.api.schemas import GpuResponse, ModeResponse, VramResponse, errors
from realtime.auth import resolve_user
from realtime.errors import ApiError

router = APIRouter(prefix="/api/system", tags=["system"])


class ModeRequest(BaseModel):
    mode: str = Field(max_length=20, description="chat | tts | style | gen3d | auto")


def operator(request: Request) -> str:
    """Authenticated (token mode) but not rate-limited: the operator view polls once a second."""
    services = services_of(request.app)
    return resolve_user(services.settings, request.headers.get("authorization"),
                        request.query_params.get("token"))


OperatorDep = Annotated[str, Depends(operator)]


async def _gpu(call):
    try:
        return {"success": True, "data": await call}
    except GpuError as exc:
        raise ApiError(exc.code, str(exc), exc.status) from exc


@router.post("/mode", summary="Switch the GPU plan (the seeds' VRAM modes)",
             response_model=ModeResponse, responses=errors(400, 503, 507))
async def set_mode(body: ModeRequest, services: ServicesDep, _: UserDep) -> dict:
    return await _gpu(services.gpu.set_mode(body.mode))


@router.get("/vram", summary="VRAM in use, per service", response_model=VramResponse,
            responses=errors(503))
async def vram(services: ServicesDep, _: OperatorDep) -> dict:
    return await _gpu(services.gpu.vram())


@router.get("/gpu", summary="The GPU host's state: plan, services, leases, policy",
            response_model=GpuResponse, responses=errors(503))
async def gpu(services: ServicesDep, _: OperatorDep) -> dict:
    return await _gpu(services.gpu.status())
