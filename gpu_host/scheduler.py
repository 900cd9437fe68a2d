"""The scheduler: one GPU, live conversation first.

* The **conversation** plan (LLM + TTS + STT resident) is the default and what the GPU returns to
  whenever nothing else is running.
* Background work (an avatar job's stage) asks for a :class:`~gpu_host.leases.Lease` on an avatar
  plan. It is granted only in an **idle window**: no live signal for ``idle_window_s`` times the
  current back-off.
* A **live signal** (a session connects, ``input.text`` arrives, ``vad.speech_started`` fires, a
  turn asks for the conversation plan) preempts the lease at once: the service is interrupted,
  freed (checked against the ledger, never assumed) and the conversation plan is woken.
* **Hysteresis**: each preemption multiplies the idle window by ``backoff_factor`` (up to
  ``backoff_max``); a stage that completes resets it.
* **No starvation**: a job that has waited ``starve_after_s`` for a stage is granted after only
  ``starved_gap_s`` of quiet, and that lease is *protected* for its stage's estimate (at least
  ``min_lease_s``, at most ``max_protected_s``): live signals during it are deferred. This is the
  one case where a live turn waits for an avatar job: at most ``max_protected_s`` plus the wake
  time, at most once per ``starve_after_s`` for each starving job.
* **Modes** (``set_mode``) pin a plan for the operator: ``chat`` holds the conversation plan and
  grants nothing; ``tts``/``style``/``gen3d`` are applied at once and, like a lease, yield to live
  signals and come back after the idle window; ``auto`` unpins.

All times come from the event loop's clock, so the same code runs on a virtual clock
(``gpu_host.sim.clock``) for tests and ``bench/gpu_day.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math

from gpu_host.aio import wait_event
from gpu_host.config import GpuSettings
from gpu_host import report
from gpu_host.errors import GpuError
from gpu_host.leases import ACTIVE, Lease
from gpu_host.ledger import Ledger, Snapshot
from gpu_host.metrics import GpuMetrics
from gpu_host.plans import CONVERSATION, MODE_OF_PLAN, MODES, PLANS, Plan, plan_need_mb
from gpu_host.services.base import Service, ServiceError
from gpu_host.switch import SwitchFailed, Switcher

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, settings: GpuSettings, services: dict[str, Service], ledger: Ledger,
                 metrics: GpuMetrics | None = None) -> None:
        self.s = settings
        self.services = services
        self.ledger = ledger
        self.metrics = metrics or GpuMetrics()
        self.plan = CONVERSATION  # the last plan fully applied
        self.mode = "auto"
        self.pin: str | None = None  # a manual avatar plan, held while the conversation is idle
        self._pin_now = False  # just set: apply it before waiting for quiet
        self.ready = asyncio.Event()  # the conversation plan is in force
        self.last_live = -math.inf
        self.last_live_reason: str | None = None
        self._holds: list[tuple[str, float]] = []  # (speech | turn, expires): live in progress
        self.backoff = 1.0
        self.leases: dict[str, Lease] = {}
        self.active: Lease | None = None
        self._first_wait: dict[tuple[str, str], float] = {}
        self.switcher = Switcher(self)
        self._kick = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._interrupting: asyncio.Task | None = None
        self._retry_at = 0.0

    # ------------------------------------------------------------------ lifecycle
    @property
    def switching(self) -> str | None:
        return self.switcher.target

    @property
    def error(self) -> str | None:
        return self.switcher.error

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def start(self) -> None:
        for svc in self.services.values():
            svc.device = self.ledger.device
        await asyncio.gather(*(svc.start() for svc in self.services.values()))
        self.metrics.watch(self)
        if self.switcher.in_plan(PLANS[CONVERSATION]):
            self.ready.set()  # nothing to switch (no GPU services, or already conversing)
        self._task = asyncio.create_task(self._run(), name="gpu-scheduler")

    async def aclose(self) -> None:
        for task in (self._task, self._interrupting):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for svc in self.services.values():
            with contextlib.suppress(Exception):
                await svc.aclose()

    def kick(self) -> None:
        self._kick.set()

    async def restore_conversation(self) -> None:
        """Without the loop (the realtime server's fallback while gpu_host is down): stop any
        background work through the services' APIs and apply the conversation plan."""
        for svc in self.services.values():
            if svc.state == "unknown":
                await svc.start()
        for plan in PLANS.values():
            if plan.background:
                self._interrupt(plan)
                if self._interrupting is not None:
                    await self._interrupting
                    self._interrupting = None
        await self.switcher.switch(CONVERSATION, firm=True)
        self.ready.set()

    # ------------------------------------------------------------------ live conversation
    def live(self, reason: str) -> None:
        """A live conversation signal: take the GPU back now (never blocks).

        Some signals open or close a *hold*, a stretch in which the conversation is live even
        without new signals: ``speech_started`` holds until its turn asks for the LLM
        (:meth:`conversation_ready`; at most ``speech_hold_s``, for speech that never becomes a
        turn), and a turn holds until ``turn.end`` (at most ``turn_hold_s``, for a client that
        died).
        The idle window counts from the end of the last hold."""
        now = self.now()
        self.last_live, self.last_live_reason = now, reason
        if reason == "speech_started":
            self._holds.append(("speech", now + self.s.speech_hold_s))
        elif reason == "turn.end":
            self._release("turn")
        self._pin_now = False
        self.metrics.live_signals.labels(reason).inc()
        lease = self.active
        if lease is not None and not self._protected(lease, now):
            self._preempt(lease, reason)
        self.kick()

    async def conversation_ready(self, reason: str = "turn") -> float:
        """Signal live, then wait (at most ``ready_timeout_s``) for the conversation plan.
        Returns the milliseconds waited: the turn's ``gpu_wait_ms``."""
        t0 = self.now()
        self.live(reason)
        self._release("speech")  # the speech became this turn
        self._holds.append(("turn", t0 + self.s.turn_hold_s))
        if self.ready.is_set():
            waited = 0.0  # the plan is in force: the bookkeeping above is not a wait
        else:
            if not await wait_event(self.ready, self.s.ready_timeout_s):
                log.error("conversation plan not ready after %.0f s (%s); the turn goes on",
                          self.s.ready_timeout_s, self.error or self.switching)
            waited = self.now() - t0
        self.metrics.live_wait.observe(waited)
        return round(waited * 1000.0, 2)

    def _release(self, kind: str) -> None:
        for i, (k, _) in enumerate(self._holds):
            if k == kind:
                del self._holds[i]
                return

    def quiet_s(self, now: float) -> float:
        """Time since the conversation was last live (0 while a hold is open)."""
        for kind, expires in [h for h in self._holds if h[1] <= now]:
            self._holds.remove((kind, expires))
            self.last_live = max(self.last_live, expires)
        return 0.0 if self._holds else now - self.last_live

    def _protected(self, lease: Lease, now: float) -> bool:
        return lease.protected_until is not None and now < lease.protected_until

    def _preempt(self, lease: Lease, reason: str) -> None:
        now = self.now()
        lease.end("preempted", now, f"preempted by {reason}")
        self.metrics.preemptions.labels(reason).inc()
        self.metrics.leases.labels(lease.plan, "preempted").inc()
        if self.active is lease:
            self.active = None
        self.backoff = min(self.backoff * self.s.backoff_factor, self.s.backoff_max)
        self._interrupt(PLANS[lease.plan])

    def _interrupt(self, plan: Plan) -> None:
        """Stop the background services of ``plan`` at once (the switch then frees them)."""
        names = [n for n, t in plan.targets.items()
                 if t == "resident" and PLANS[CONVERSATION].targets.get(n) != "resident"
                 and n in self.services]

        async def run() -> None:
            for name in names:
                try:
                    await self.services[name].interrupt()
                except Exception as exc:  # noqa: BLE001 - the switch still frees it
                    log.warning("interrupting %s failed: %s", name, exc)

        if names:
            self._interrupting = asyncio.create_task(run(), name="gpu-interrupt")

    # ------------------------------------------------------------------ modes
    async def set_mode(self, mode: str) -> dict:
        if mode != "auto" and mode not in MODES:
            raise GpuError("VALIDATION_ERROR",
                           f"unknown mode {mode!r}: one of {', '.join([*MODES, 'auto'])}")
        t0 = self.now()
        previous = self.mode if self.mode != "auto" else MODE_OF_PLAN.get(self.plan, self.plan)
        plan = PLANS[MODES.get(mode, CONVERSATION)]
        self.check_fits(plan)  # refused before anything changes
        self.mode = mode
        self.pin = plan.name if mode not in ("auto", "chat") else None
        self._pin_now = self.pin is not None
        if mode != "auto" and self.active is not None and self.active.plan != plan.name:
            self._preempt(self.active, "operator")
        self.kick()
        if mode != "auto":
            await self._settle(plan.name)
        current = mode if mode != "auto" else "auto"
        return {"previous_mode": previous, "current_mode": current,
                "switch_time_ms": round((self.now() - t0) * 1000.0)}

    async def _settle(self, target: str) -> None:
        """Wait until ``target`` is in force; a failed switch is ``SERVICE_UNAVAILABLE``."""
        deadline = self.now() + self.s.switch_timeout_s
        self.switcher.error = None
        while True:
            if self.plan == target and self.switcher.in_plan(PLANS[target]) and not self.switching:
                if self.switcher.unhealthy:
                    raise GpuError("SERVICE_UNAVAILABLE", f"{', '.join(self.switcher.unhealthy)} "
                                   f"failed the health check after the switch to {target}")
                return
            if self.switcher.error:
                raise GpuError("SERVICE_UNAVAILABLE", self.switcher.error)
            if self.now() > deadline:
                raise GpuError("SERVICE_UNAVAILABLE", f"{target} was not in force in time")
            await asyncio.sleep(self.s.poll_s)

    def check_fits(self, plan: Plan) -> None:
        need = sum(plan_need_mb(plan, self.services).values()) + self.unattributed_mb()
        if need > self.ledger.budget_mb:
            raise GpuError("VRAM_INSUFFICIENT",
                           f"plan {plan.name!r} needs {need} MB; the device allows "
                           f"{self.ledger.budget_mb} MB ({self.ledger.device.total_mb} MB less "
                           f"{self.ledger.headroom_mb} MB headroom)")

    # ------------------------------------------------------------------ leases
    def request(self, job_id: str, plan: str, stage: str, est_s: float | None = None) -> Lease:
        if plan not in PLANS or not PLANS[plan].background:
            raise GpuError("VALIDATION_ERROR", f"a lease is for an avatar plan, not {plan!r}")
        self.check_fits(PLANS[plan])
        now = self.now()
        first = self._first_wait.setdefault((job_id, stage), now)
        lease = Lease(job_id, plan, stage, est_s, queued_at=now, first_wait=first, last_seen=now)
        self.leases[lease.id] = lease
        self._prune()
        self.kick()
        return lease

    def lease(self, lease_id: str) -> Lease:
        lease = self.leases.get(lease_id)
        if lease is None:
            raise GpuError("NOT_FOUND", f"no lease {lease_id!r}")
        return lease

    def touch(self, lease_id: str, progress: float | None = None, checkpoint=None) -> Lease:
        lease = self.lease(lease_id)
        lease.last_seen = self.now()
        if progress is not None:
            lease.progress = progress
        if checkpoint is not None:
            lease.checkpoint = checkpoint
        return lease

    def release(self, lease_id: str, completed: bool = False, checkpoint=None) -> Lease:
        lease = self.touch(lease_id, checkpoint=checkpoint)
        if lease.state in ACTIVE:
            lease.end("released", self.now())
            self.metrics.leases.labels(lease.plan, "completed" if completed else "released").inc()
        if self.active is lease:
            self.active = None
            if not completed:  # given up mid-stage: whatever it left running is stopped
                self._interrupt(PLANS[lease.plan])
        if completed:
            self._first_wait.pop((lease.job_id, lease.stage), None)
            self.backoff = 1.0
        self.kick()
        return lease

    def _grant(self, lease: Lease) -> None:
        now = self.now()
        lease.state, lease.granted_at = "granted", now
        if now - lease.first_wait >= self.s.starve_after_s:
            length = min(max(self.s.min_lease_s, lease.est_s or 0.0), self.s.max_protected_s)
            lease.protected_until = now + length
            self.metrics.protected.labels(lease.plan).inc()
        self.active = lease
        self.metrics.lease_wait.labels(lease.plan).observe(now - lease.queued_at)
        lease.changed()

    def _expire(self, now: float) -> None:
        for lease in list(self.leases.values()):
            if lease.state in ACTIVE and now - lease.last_seen > self.s.lease_ttl_s:
                lease.end("expired", now, "not polled within lease_ttl_s")
                self.metrics.leases.labels(lease.plan, "expired").inc()
                if self.active is lease:
                    self.active = None
                    self._interrupt(PLANS[lease.plan])

    def _prune(self, keep: int = 50) -> None:
        ended = [le for le in self.leases.values() if le.state not in ACTIVE]
        for lease in ended[:-keep] if len(ended) > keep else []:
            del self.leases[lease.id]

    # ------------------------------------------------------------------ the loop
    def decide(self, now: float) -> tuple[str, Lease | None]:
        """The plan that should be in force now, and the lease to grant once it is."""
        if self.mode == "chat":
            return CONVERSATION, None
        active = self.active
        if active is not None:
            if (self._protected(active, now) or self.last_live < active.granted_at
                    or self.quiet_s(now) >= self.s.idle_window_s):
                return active.plan, active
            self._preempt(active, "deferred")  # live while it was protected
        quiet = self.quiet_s(now)
        queued = sorted((le for le in self.leases.values() if le.state == "queued"),
                        key=lambda le: le.first_wait)
        if queued:
            head = queued[0]
            starving = now - head.first_wait >= self.s.starve_after_s
            need = self.s.starved_gap_s if starving else self.s.idle_window_s * self.backoff
            if quiet >= need:
                return head.plan, head
        if self.pin is not None and (self._pin_now or quiet >= self.s.idle_window_s):
            return self.pin, None
        return CONVERSATION, None

    def _deadline(self, now: float) -> float:
        """Seconds until the decision could change with no new event."""
        times = [self._retry_at] + [expires for _, expires in self._holds]
        quiet_from = self.last_live
        for mult in (self.backoff, 1.0):
            times.append(quiet_from + self.s.idle_window_s * mult)
        times.append(quiet_from + self.s.starved_gap_s)
        for lease in self.leases.values():
            if lease.state in ACTIVE:
                times.append(lease.last_seen + self.s.lease_ttl_s)
                times.append(lease.first_wait + self.s.starve_after_s)
                if lease.protected_until is not None:
                    times.append(lease.protected_until)
        future = [t - now for t in times if t > now]
        return min(future, default=60.0) + 1e-3

    async def _run(self) -> None:
        try:  # first, the conversation plan: services found in an unknown state are settled
            await self.switcher.switch(CONVERSATION, firm=True)
        except SwitchFailed as exc:
            self._retry_at = self.now() + exc.retry_s
        while True:
            self._kick.clear()
            now = self.now()
            self._expire(now)
            target, lease = self.decide(now)
            in_force = self.plan == target and self.switcher.in_plan(PLANS[target])
            if not in_force and now >= self._retry_at:
                try:
                    await self.switcher.switch(target)
                except SwitchFailed as exc:
                    self._retry_at = self.now() + exc.retry_s
                except ServiceError as exc:  # a service failed mid-step: re-probe, retry soon
                    log.error("switch to %s: %s", target, exc)
                    self._retry_at = self.now() + 1.0
                continue
            if in_force and lease is not None and lease.state == "queued":
                self._grant(lease)
            if in_force and target == CONVERSATION:
                self.ready.set()
            await wait_event(self._kick, self._deadline(self.now()))

    # ------------------------------------------------------------------ reports
    def unattributed_mb(self, snap: Snapshot | None = None) -> int:
        return report.unattributed_mb(self, snap or self.ledger.snapshot())

    def service_mb(self, snap: Snapshot) -> dict[str, int]:
        return report.service_mb(self, snap)

    def vram(self) -> dict:
        return report.vram(self)

    def status(self) -> dict:
        return report.status(self)
