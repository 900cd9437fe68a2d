"""``GET /api/performance``: the seeds' performance summary (requests, mean and p95 turn latency,
success rate, active connections) for people who do not run Prometheus and Grafana."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from realtime.api.deps import ServicesDep
from realtime.api.schemas import errors

router = APIRouter(tags=["health"])


class PerformanceResult(BaseModel):
    total_requests: int = Field(..., description="Turns answered since the server started "
                                                 "(REST, /ws, /v1/realtime; typed or spoken)")
    successful_requests: int = Field(..., description="Completed or interrupted by the user")
    failed_requests: int
    interrupted_requests: int = Field(..., description="Cut by barge-in, cancel or new input")
    success_rate: float = Field(..., description="Percent")
    avg_response_time: float | None = Field(..., description="Seconds, turn received -> "
                                                             "response.done (recent turns)")
    p95_response_time: float | None
    avg_first_audio_time: float | None = Field(..., description="Seconds, turn received -> "
                                                                "first audio byte sent")
    p95_first_audio_time: float | None
    latency_window: int = Field(..., description="How many recent turns the latencies cover")
    active_connections: int = Field(..., description="Open /ws and /v1/realtime sessions")
    uptime_seconds: float


class PerformanceResponse(BaseModel):
    success: Literal[True] = True
    data: PerformanceResult


@router.get("/api/performance", summary="Turns, latency, success rate, connections",
            response_model=PerformanceResponse, responses=errors(auth=False))
async def performance(services: ServicesDep) -> dict:
    data = services.metrics.performance.snapshot(active_connections=len(services.sessions))
    return {"success": True, "data": data}
