"""``GET /api/performance``: a summary for people who do not run Grafana, in the spirit of the
seeds' ``/performance`` (003: total_requests, avg_response_time, success_rate,
active_connections): every turn the server answered (REST, ``/ws``, ``/v1/realtime``, typed or
spoken) since it started, and the latency of the most recent ones."""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

WINDOW = 1000  # turns kept for the latency figures


class PerformanceStats:
    def __init__(self, window: int = WINDOW) -> None:
        self.started = time.time()
        self.total = 0
        self.by_status: dict[str, int] = {}
        self.turn_s: deque[float] = deque(maxlen=window)  # turn received -> response.done
        self.first_audio_s: deque[float] = deque(maxlen=window)  # -> first audio byte sent
        self._lock = threading.Lock()  # REST turns may end on another thread's loop (tests)

    def observe(self, status: str, done_ms: float | None, first_audio_ms: float | None) -> None:
        with self._lock:
            self.total += 1
            self.by_status[status] = self.by_status.get(status, 0) + 1
            if done_ms is not None:
                self.turn_s.append(done_ms / 1000.0)
            if first_audio_ms is not None:
                self.first_audio_s.append(first_audio_ms / 1000.0)

    def snapshot(self, *, active_connections: int) -> dict:
        with self._lock:
            total, by_status = self.total, dict(self.by_status)
            turn, first = np.array(self.turn_s), np.array(self.first_audio_s)
        failed = by_status.get("failed", 0)
        return {
            "total_requests": total,
            "successful_requests": total - failed,
            "failed_requests": failed,
            "interrupted_requests": by_status.get("interrupted", 0),
            "success_rate": round(100.0 * (total - failed) / total, 2) if total else 0.0,
            "avg_response_time": _round(turn.mean()) if turn.size else None,
            "p95_response_time": _round(np.percentile(turn, 95)) if turn.size else None,
            "avg_first_audio_time": _round(first.mean()) if first.size else None,
            "p95_first_audio_time": _round(np.percentile(first, 95)) if first.size else None,
            "latency_window": int(turn.size),
            "active_connections": active_connections,
            "uptime_seconds": round(time.time() - self.started, 1),
        }


def _round(value: float) -> float:
    return round(float(value), 3)
