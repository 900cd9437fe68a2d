"""``GET /api/performance`` (the seeds' /performance): turns counted from every path, latencies
of the recent ones, success rate and open connections, on the live server."""

from __future__ import annotations

import httpx
import pytest

from tests.wsclient import Client

pytestmark = pytest.mark.slow


async def test_performance_counts_turns_and_connections(live):
    async with httpx.AsyncClient(base_url=live.url, timeout=120) as http:
        before = (await http.get("/api/performance")).json()["data"]
        c = await Client.connect(live.ws, max_tokens=16)
        try:
            assert (await c.turn("Hello!")).done["status"] == "completed"
            r = await http.post("/api/chat", json={"messages": [{"role": "user", "content": "Hi"}],
                                                   "max_tokens": 8})
            assert r.status_code == 200
            body = (await http.get("/api/performance")).json()
            assert body["success"] is True
            now = body["data"]
            assert now["active_connections"] >= 1  # this WebSocket
        finally:
            await c.close()
    assert now["total_requests"] - before["total_requests"] >= 2
    assert now["successful_requests"] + now["failed_requests"] == now["total_requests"]
    assert now["success_rate"] == pytest.approx(
        100.0 * now["successful_requests"] / now["total_requests"], abs=0.01)
    assert 0 < now["avg_response_time"] and 0 < now["p95_response_time"]
    assert 0 < now["avg_first_audio_time"] <= now["avg_response_time"]
    assert now["latency_window"] >= 2 and now["uptime_seconds"] > 0


async def test_performance_is_in_the_openapi_schema(live):
    async with httpx.AsyncClient(base_url=live.url) as http:
        spec = (await http.get("/api/openapi.json")).json()
    schema = spec["paths"]["/api/performance"]["get"]["responses"]["200"]
    assert "PerformanceResponse" in str(schema)
