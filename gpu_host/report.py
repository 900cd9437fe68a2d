"""What the scheduler reports: VRAM per service (the seeds' ``/api/system/vram`` shape and more)
and its whole state for the operator view."""

from __future__ import annotations

import math

from gpu_host.ledger import Snapshot
from gpu_host.plans import active_services


def unattributed_mb(sch, snap: Snapshot) -> int:
    """Device memory held by something that is none of our services (a stray process)."""
    ours = 0
    for svc in sch.services.values():
        seen = svc.observed_mb(snap.by_holder)
        ours += seen if seen is not None else 0
    if sch.ledger.device.kind == "simulated":
        return max(0, snap.used_mb - ours)
    return 0  # NVML: processes of other containers cannot be told apart from ours


def service_mb(sch, snap: Snapshot) -> dict[str, int]:
    """Observed where the device tells the service apart, else declared for its state."""
    out = {}
    for name, svc in sch.services.items():
        seen = svc.observed_mb(snap.by_holder)
        out[name] = seen if seen is not None else svc.mb()
    return out


def vram(sch) -> dict:
    snap = sch.ledger.snapshot()
    per = service_mb(sch, snap)
    total = snap.total_mb
    device = sch.ledger.device
    return {"used_mb": snap.used_mb, "total_mb": total,
            "usage_percent": round(100.0 * snap.used_mb / total, 1) if total else 0.0,
            "active_services": active_services(sch.services),
            "device": {"kind": device.kind, "name": device.name, "peak_mb": sch.ledger.peak_mb,
                       "headroom_mb": sch.ledger.headroom_mb},
            "services": [{**svc.status(), "mb": per[name]} for name, svc in sch.services.items()]}


def status(sch) -> dict:
    now = sch.now()
    s = sch.s
    return {"mode": sch.mode, "plan": sch.plan, "switching": sch.switching,
            "ready": sch.ready.is_set(), "error": sch.error, "vram": vram(sch),
            "leases": [le.to_dict(now) for le in sch.leases.values()],
            "policy": {"idle_window_s": s.idle_window_s, "backoff": sch.backoff,
                       "quiet_s": None if sch.last_live == -math.inf
                       else round(sch.quiet_s(now), 3),
                       "holds": len(sch._holds),  # noqa: SLF001
                       "last_live": sch.last_live_reason, "starve_after_s": s.starve_after_s,
                       "min_lease_s": s.min_lease_s, "max_protected_s": s.max_protected_s},
            "switches": list(sch.switcher.history)}
