"""``GET /api/health`` (engines, 5 s timeouts) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from realtime.api.deps import ServicesDep
from realtime.api.schemas import HealthResponse, errors

router = APIRouter(tags=["health"])


def _state(value: object) -> str:
    return value if value in ("healthy", "unhealthy") else "unknown"  # type: ignore[return-value]


@router.get("/api/health", summary="Aggregated engine health (the seeds' keys first)",
            response_model=HealthResponse, responses=errors(auth=False))
async def health(services: ServicesDep) -> dict:
    checks, gpu = await asyncio.gather(services.health(), _gpu_health(services))
    tts: dict = checks["tts"]  # type: ignore[assignment]
    tts_ok = bool(tts) and all(v == "healthy" for v in tts.values())
    ok = (checks["llm"] == "healthy" and tts_ok
          and checks["stt"] in ("healthy", "disabled")
          and "unhealthy" not in checks["short_term_store"] + checks["long_term_store"])
    llama = services.llama
    return {"success": True, "data": {
        # the seeds' shape (000:1781-1803): healthy | unhealthy | unknown
        "backend": "healthy",
        "llm": _state(checks["llm"]),
        "tts": "healthy" if tts_ok else "unhealthy",
        "gen3d": "unhealthy",  # avatar generation is not built (avatar_engine/)
        "style": "unhealthy",  # nor style transfer
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        # details
        "status": "healthy" if ok else "degraded",
        "tts_engines": {k: _state(v) for k, v in tts.items()},
        "llm_languages": services.settings.answer_languages,
        "stt": checks["stt"],
        "llm_embedded": None if llama is None else {
            "running": llama.is_running(), "restarts": llama.restarts, "pid": llama.pid},
        "voice_error": services.listen_error,
        "short_term_store": checks["short_term_store"],
        "long_term_store": checks["long_term_store"],
        "outbox_pending": checks["outbox_pending"],
        "sessions": len(services.sessions),
        "gpu_host": gpu,
    }}


async def _gpu_health(services) -> dict | None:
    return None if services.gpu is None else await services.gpu.health()


HEALTH_EVERY_S = 5.0  # component_up is refreshed at most this often (scrapes may come faster)


async def refresh_operations(services) -> None:
    """Scrape-time gauges: the event loop's tasks, and each component's health check."""
    m = services.metrics
    m.loop_tasks.set(len(asyncio.all_tasks()))
    now = time.monotonic()
    if now - m.health_checked_at < HEALTH_EVERY_S:
        return
    m.health_checked_at = now
    checks = await services.health()
    tts = checks["tts"]
    up = {"llm": checks["llm"] == "healthy",
          "tts": bool(tts) and all(v == "healthy" for v in tts.values()),  # type: ignore[union-attr]
          "short_term_store": str(checks["short_term_store"]).endswith(": healthy"),
          "long_term_store": str(checks["long_term_store"]).endswith(": healthy")}
    if checks["stt"] != "disabled":
        up["stt"] = checks["stt"] == "healthy"
    for component, ok in up.items():
        m.component_up.labels(component).set(1.0 if ok else 0.0)


@router.get("/metrics", include_in_schema=False)
async def metrics(services: ServicesDep) -> Response:
    await refresh_operations(services)
    body = generate_latest(services.metrics.registry)
    gpu = services.gpu.metrics_registry() if services.gpu is not None else None
    if gpu is not None:  # the embedded GPU host's metrics (a remote one serves its own)
        body += generate_latest(gpu)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
