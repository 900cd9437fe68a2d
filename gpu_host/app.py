"""``create_app(settings)``: the GPU host's small HTTP API (``python -m gpu_host``).

Answers use the project's envelope: ``{"success": true, "data": ...}`` or
``{"success": false, "error": {"code", "message"}}`` with the code's HTTP status.

=========================================  ==============================================
``GET  /health``                            liveness and the plan in force
``GET  /v1/status``                         everything the operator view shows
``GET  /v1/vram``                           the seeds' ``/api/system/vram`` shape, per service
``POST /v1/mode {mode}``                    the seeds' ``/api/system/mode`` (and ``auto``)
``POST /v1/live {reason}``                  a live conversation signal (202, at once)
``POST /v1/ready {reason}``                 wait for the conversation plan -> ``waited_ms``
``POST /v1/leases {job_id, plan, stage}``   ask for a lease (201)
``POST /v1/leases/{id}/poll``               heartbeat + progress; waits ``wait_s`` for a change
``POST /v1/leases/{id}/release``            done with the stage (``completed``) or giving up
``GET  /metrics``                           Prometheus
=========================================  ==============================================
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from gpu_host.config import GpuSettings
from gpu_host.errors import GpuError
from gpu_host.host import build_scheduler
from gpu_host.scheduler import Scheduler

log = logging.getLogger(__name__)
_NAME = r"^[A-Za-z0-9_.:-]{1,80}$"


class ModeIn(BaseModel):
    mode: str = Field(max_length=20)


class LiveIn(BaseModel):
    reason: str = Field("signal", max_length=40)


class LeaseIn(BaseModel):
    job_id: str = Field(pattern=_NAME)
    plan: str = Field(max_length=20)
    stage: str = Field(pattern=_NAME)
    est_s: float | None = Field(None, ge=0)


class PollIn(BaseModel):
    wait_s: float = Field(10.0, ge=0, le=30)
    progress: float | None = Field(None, ge=0, le=1)
    checkpoint: Any = None


class ReleaseIn(BaseModel):
    completed: bool = False
    checkpoint: Any = None


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"success": True, "data": data}, status_code=status)


def create_app(settings: GpuSettings | None = None, *,
               scheduler: Scheduler | None = None) -> FastAPI:
    settings = settings or GpuSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sch = scheduler or build_scheduler(settings)
        app.state.scheduler = sch
        await sch.start()
        log.info("gpu_host ready: %s device, services %s", sch.ledger.device.kind,
                 ", ".join(sch.services) or "none")
        try:
            yield
        finally:
            await sch.aclose()

    app = FastAPI(title="GPU host", lifespan=lifespan, docs_url="/docs",
                  description="The single authority over the GPU (see docs/gpu.md).")

    @app.exception_handler(GpuError)
    async def _gpu_error(_: Request, exc: GpuError) -> JSONResponse:
        return JSONResponse({"success": False, "error": {"code": exc.code, "message": str(exc)}},
                            status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        msg = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors()[:3])
        return JSONResponse({"success": False, "error": {"code": "VALIDATION_ERROR",
                                                         "message": msg}}, status_code=400)

    def sch_of(request: Request) -> Scheduler:
        return request.app.state.scheduler

    @app.get("/health")
    async def health(request: Request) -> JSONResponse:
        s = sch_of(request)
        return ok({"status": "healthy", "plan": s.plan, "ready": s.ready.is_set(),
                   "device": s.ledger.device.kind})

    @app.get("/v1/status")
    async def status(request: Request) -> JSONResponse:
        return ok(sch_of(request).status())

    @app.get("/v1/vram")
    async def vram(request: Request) -> JSONResponse:
        return ok(sch_of(request).vram())

    @app.post("/v1/mode")
    async def mode(body: ModeIn, request: Request) -> JSONResponse:
        return ok(await sch_of(request).set_mode(body.mode))

    @app.post("/v1/live")
    async def live(body: LiveIn, request: Request) -> JSONResponse:
        sch_of(request).live(body.reason)
        return ok({"accepted": True}, 202)

    @app.post("/v1/ready")
    async def ready(body: LiveIn, request: Request) -> JSONResponse:
        s = sch_of(request)
        waited = await s.conversation_ready(body.reason)
        return ok({"waited_ms": waited, "plan": s.plan, "ready": s.ready.is_set()})

    @app.post("/v1/leases")
    async def lease(body: LeaseIn, request: Request) -> JSONResponse:
        s = sch_of(request)
        return ok(s.request(body.job_id, body.plan, body.stage, body.est_s).to_dict(s.now()), 201)

    @app.post("/v1/leases/{lease_id}/poll")
    async def poll(lease_id: str, body: PollIn, request: Request) -> JSONResponse:
        s = sch_of(request)
        lease = s.touch(lease_id, body.progress, body.checkpoint)
        if lease.state in ("queued", "granted"):
            await lease.wait_change(body.wait_s)
            s.touch(lease_id)
        return ok(lease.to_dict(s.now()))

    @app.post("/v1/leases/{lease_id}/release")
    async def release(lease_id: str, body: ReleaseIn, request: Request) -> JSONResponse:
        s = sch_of(request)
        return ok(s.release(lease_id, body.completed, body.checkpoint).to_dict(s.now()))

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(sch_of(request).metrics.registry),
                        media_type=CONTENT_TYPE_LATEST)

    return app
