"""Prometheus metrics, one registry per app (no import-time globals)."""

from __future__ import annotations

import threading

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import HistogramMetricFamily

from realtime.performance import PerformanceStats
from realtime.pipeline.response import Response

_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
STAGES = ("llm_first_token", "first_sentence", "tts_first_audio", "first_audio_sent", "done")
VOICE_STAGES = ("stt_done", "llm_first_token", "first_sentence", "tts_first_audio",
                "first_audio_sent")
_LAG_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0)


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
        self.voice_stage = Histogram(
            "avatar_voice_stage_seconds",
            "Voice turns: time from the end-of-turn decision (speech_stopped) to each stage",
            ["stage"], registry=self.registry, buckets=_BUCKETS)
        self.voice_to_voice = Histogram(
            "avatar_voice_to_voice_seconds",
            "Voice turns: end of the user's speech -> first answer audio sent "
            "(end-of-turn silence included)", registry=self.registry, buckets=_BUCKETS)
        self.vad_lag = BulkHistogram(
            "avatar_vad_frame_lag_seconds",
            "Microphone frame received -> its VAD result processed", _LAG_BUCKETS)
        self.registry.register(self.vad_lag)
        self.barge_ins = Counter("avatar_barge_ins_total", "Responses cut by user speech",
                                 registry=self.registry)
        self.interruptions = Counter(
            "avatar_interruptions_total",
            "Responses cut, by reason (barge_in, cancel, new_input, closed)", ["reason"],
            registry=self.registry)
        self.barge_in_latency = Histogram(
            "avatar_barge_in_seconds",
            "Frame that completed the barge-in minimum received -> response cut",
            registry=self.registry, buckets=_LAG_BUCKETS)
        self.turn_ends = Counter(
            "avatar_turn_ends_total", "Voice turns ended, by rule (smart_turn: the end-of-turn "
            "model; silence; max_length; commit)", ["rule"], registry=self.registry)
        self.transcripts = Counter("avatar_transcripts_total",
                                   "Utterances transcribed, by result (ok or rejection reason)",
                                   ["result"], registry=self.registry)
        self.audio_dropped = Counter("avatar_audio_frames_dropped_total",
                                     "Microphone frames refused (AUDIO_OVERRUN)",
                                     registry=self.registry)
        self.errors = Counter("avatar_protocol_errors_total", "error events sent, by code",
                              ["code"], registry=self.registry)
        self.refused = Counter("avatar_refused_total",
                               "Requests refused by a limit (sessions or rate)", ["limit"],
                               registry=self.registry)
        self.outbox_pending = Gauge("avatar_outbox_pending",
                                    "History writes waiting for the long-term store",
                                    registry=self.registry)
        self.outbox_dropped = Counter("avatar_outbox_dropped_total",
                                      "History writes dropped because the outbox was full",
                                      registry=self.registry)
        self.llm_background = Gauge(
            "avatar_llm_background_requests", "Background LLM requests (summaries) in flight",
            registry=self.registry)
        self.llm_preemptions = Counter(
            "avatar_llm_preemptions_total",
            "Background LLM requests cut because a live turn started (made again later)",
            registry=self.registry)
        self.gpu_wait = Histogram(
            "avatar_turn_gpu_wait_seconds",
            "Time a turn's LLM request waited for the GPU host's conversation plan",
            registry=self.registry, buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0,
                                             5.0, 10.0, 30.0))
        self.summaries = Counter("avatar_context_summaries_total",
                                 "Conversation summaries made by the LLM", registry=self.registry)
        # operations (docs/deploy.md): engines and stores as /api/health sees them, refreshed when
        # /metrics is scraped; the event loop's tasks; the process's memory and descriptors
        self.component_up = Gauge("avatar_component_up",
                                  "1 when the component answers its health check (llm, tts, "
                                  "stt, short_term_store, long_term_store)", ["component"],
                                  registry=self.registry)
        self.loop_tasks = Gauge("avatar_event_loop_tasks", "asyncio tasks alive on the server's "
                                "event loop", registry=self.registry)
        self.heap_trim = Histogram("avatar_heap_trim_seconds",
                                   "malloc_trim at idle moments (realtime/heap.py)",
                                   registry=self.registry, buckets=_LAG_BUCKETS)
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, _open_fds, ...
        self.performance = PerformanceStats()  # GET /api/performance
        self.health_checked_at = float("-inf")  # monotonic time of the last component_up refresh
        # labelled series exist from the start, so a first observation is a visible increase
        for stage in STAGES:
            self.stage.labels(stage)
        for stage in VOICE_STAGES:
            self.voice_stage.labels(stage)
        for status in ("completed", "interrupted", "failed"):
            self.responses.labels(status)

    def observe_response(self, resp: Response) -> None:
        self.responses.labels(resp.status).inc()
        self.performance.observe(resp.status, resp.timings.done, resp.timings.first_audio_sent)
        for stage in STAGES:
            value = getattr(resp.timings, stage)
            if value is not None:
                self.stage.labels(stage).observe(value / 1000.0)
        t = resp.timings
        if resp.spec.speak_sentences is None:  # a turn that asked the LLM
            self.gpu_wait.observe(t.gpu_wait_ms / 1000.0)
        if t.overhead_ms is not None:
            self.overhead.observe(max(0.0, t.overhead_ms) / 1000.0)
        if t.speech_stopped is not None:
            for stage in VOICE_STAGES:
                value = getattr(t, stage)
                if value is not None:
                    self.voice_stage.labels(stage).observe(value / 1000.0)
            if t.voice_to_voice_ms is not None:
                self.voice_to_voice.observe(t.voice_to_voice_ms / 1000.0)


class BulkHistogram:
    """A Prometheus histogram fed many values at once (numpy), for per-frame figures: thousands
    of ``Histogram.observe`` calls a second cost the event loop more than the VAD state machines.
    Exposed like any histogram (``_bucket``, ``_sum``, ``_count``)."""

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = np.array(buckets, dtype=np.float64)
        self.counts = np.zeros(len(buckets) + 1, dtype=np.int64)  # last: +Inf
        self.sum = 0.0
        self._lock = threading.Lock()

    def observe_many(self, values) -> None:
        v = np.asarray(values, dtype=np.float64)
        if not v.size:
            return
        idx = np.searchsorted(self.bounds, v, side="left")  # le semantics: v <= bound
        add = np.bincount(idx, minlength=len(self.counts))
        with self._lock:
            self.counts += add
            self.sum += float(v.sum())

    def collect(self):
        with self._lock:
            cum = np.cumsum(self.counts)
            total = self.sum
        buckets = [(repr(float(b)), int(c)) for b, c in zip(self.bounds, cum[:-1], strict=True)]
        buckets.append(("+Inf", int(cum[-1])))
        family = HistogramMetricFamily(self.name, self.documentation)
        family.add_metric([], buckets, total)
        yield family
