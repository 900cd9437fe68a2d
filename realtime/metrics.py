"""Prometheus metrics, one registry per app (no import-time globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from realtime.pipeline.response import Response

_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
STAGES = ("first_token", "first_sentence", "first_audio_synthesized", "first_audio_sent", "done")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stage = Histogram("avatar_turn_stage_seconds",
                               "Time from turn received to each stage", ["stage"],
                               registry=self.registry, buckets=_BUCKETS)
        self.overhead = Histogram("avatar_turn_overhead_seconds",
                                  "Server-added time to first audio (total minus engine time)",
                                  registry=self.registry,
                                  buckets=(0.001, 0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1))
        self.responses = Counter("avatar_responses_total", "Responses by final status",
                                 ["status"], registry=self.registry)
        self.sessions = Gauge("avatar_ws_sessions", "Open WebSocket sessions",
                              registry=self.registry)
        self.errors = Counter("avatar_protocol_errors_total", "error events sent, by code",
                              ["code"], registry=self.registry)

    def observe_response(self, resp: Response) -> None:
        self.responses.labels(resp.status).inc()
        for stage in STAGES:
            value = getattr(resp.timings, stage)
            if value is not None:
                self.stage.labels(stage).observe(value / 1000.0)
        if resp.timings.overhead_ms is not None:
            self.overhead.observe(max(0.0, resp.timings.overhead_ms) / 1000.0)
