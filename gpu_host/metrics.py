"""Prometheus metrics of the GPU host, one registry per scheduler (no import-time globals).

Gauges are read from the scheduler at scrape time (VRAM per service, the plan, service states);
counters and histograms count what happened (switches, preemptions, waits).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

_WAIT_BUCKETS = (0.001, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
_LONG_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class GpuMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.switches = Counter("avatar_gpu_plan_switches_total", "Plan switches",
                                ["from_plan", "to_plan", "result"], registry=r)
        self.switch_seconds = Histogram("avatar_gpu_plan_switch_seconds",
                                        "Time to apply a plan", ["to_plan"], registry=r,
                                        buckets=_WAIT_BUCKETS)
        self.preemptions = Counter("avatar_gpu_preemptions_total",
                                   "Background leases taken back, by the live signal that did it",
                                   ["reason"], registry=r)
        self.live_signals = Counter("avatar_gpu_live_signals_total", "Live conversation signals",
                                    ["reason"], registry=r)
        self.live_wait = Histogram("avatar_gpu_live_wait_seconds",
                                   "Time a turn waited for the conversation plan (gpu_wait_ms)",
                                   registry=r, buckets=_WAIT_BUCKETS)
        self.lease_wait = Histogram("avatar_gpu_lease_wait_seconds",
                                    "Time a background lease waited to be granted", ["plan"],
                                    registry=r, buckets=_LONG_BUCKETS)
        self.leases = Counter("avatar_gpu_leases_total", "Leases by how they ended",
                              ["plan", "end"], registry=r)
        self.protected = Counter("avatar_gpu_protected_leases_total",
                                 "Leases of starving jobs that live signals could not preempt",
                                 ["plan"], registry=r)
        self.collector: _StateCollector | None = None

    def watch(self, scheduler) -> None:
        """Export the scheduler's state (VRAM per service, plan, service states) at scrape time."""
        self.collector = _StateCollector(scheduler)
        self.registry.register(self.collector)


class _StateCollector:
    def __init__(self, scheduler) -> None:
        self.scheduler = scheduler

    def collect(self):
        s = self.scheduler
        snap = s.ledger.snapshot()
        vram = GaugeMetricFamily("avatar_gpu_vram_mb", "VRAM held per service (MiB; observed "
                                 "where the device tells services apart, else declared)",
                                 labels=["service"])
        for name, mb in s.service_mb(snap).items():
            vram.add_metric([name], mb)
        yield vram
        dev = GaugeMetricFamily("avatar_gpu_device_mb", "Device memory (MiB)", labels=["kind"])
        dev.add_metric(["total"], snap.total_mb)
        dev.add_metric(["used"], snap.used_mb)
        dev.add_metric(["peak"], s.ledger.peak_mb)
        yield dev
        plan = GaugeMetricFamily("avatar_gpu_plan", "1 for the plan in force", labels=["plan"])
        from gpu_host.plans import PLANS

        for name in PLANS:
            plan.add_metric([name], 1.0 if s.plan == name and not s.switching else 0.0)
        yield plan
        state = GaugeMetricFamily("avatar_gpu_service_state", "1 for each service's state",
                                  labels=["service", "state"])
        for name, svc in s.services.items():
            state.add_metric([name, svc.state], 1.0)
        yield state
        queued = GaugeMetricFamily("avatar_gpu_leases", "Leases now", labels=["state"])
        for st in ("queued", "granted"):
            queued.add_metric([st], sum(1 for le in s.leases.values() if le.state == st))
        yield queued
