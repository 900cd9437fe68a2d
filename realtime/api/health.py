"""``GET /api/health`` (engines, 5 s timeouts) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from realtime.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/api/health", summary="Aggregated engine health")
async def health(services: ServicesDep) -> dict:
    checks, gpu = await asyncio.gather(services.health(), _gpu_health(services))
    tts = checks["tts"]
    ok = (checks["llm"] == "healthy" and all(v == "healthy" for v in tts.values())  # type: ignore[union-attr]
          and checks["stt"] in ("healthy", "disabled")
          and "unhealthy" not in checks["short_term_store"] + checks["long_term_store"])
    llama = services.llama
    return {"success": True, "data": {
        "status": "healthy" if ok else "degraded",
        "backend": "healthy",
        "llm": checks["llm"],
        "llm_embedded": None if llama is None else {
            "running": llama.is_running(), "restarts": llama.restarts, "pid": llama.pid},
        "tts": tts,
        "stt": checks["stt"],
        "voice_error": services.voice_error,
        "short_term_store": checks["short_term_store"],
        "long_term_store": checks["long_term_store"],
        "outbox_pending": checks["outbox_pending"],
        "sessions": len(services.sessions),
        "gpu_host": gpu,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }}


async def _gpu_health(services) -> dict | None:
    return None if services.gpu is None else await services.gpu.health()


@router.get("/metrics", include_in_schema=False)
async def metrics(services: ServicesDep) -> Response:
    body = generate_latest(services.metrics.registry)
    gpu = services.gpu.metrics_registry() if services.gpu is not None else None
    if gpu is not None:  # the embedded GPU host's metrics (a remote one serves its own)
        body += generate_latest(gpu)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
