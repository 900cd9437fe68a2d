"""Applying a plan: service by service, memory down before memory up, the ledger checked first.

Steps that free memory (sleep, unload, stop) run before steps that take it (wake, load, start);
before each step that takes memory the ledger must show the room (polled: ComfyUI frees late),
and a step that would not fit is never tried. Between steps the scheduler's decision is read
again: a live signal arriving mid-switch turns it around after the step under way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from gpu_host.errors import GpuError
from gpu_host.plans import CONVERSATION, PLANS, Plan
from gpu_host.services.base import Service, ServiceError

log = logging.getLogger(__name__)


class SwitchFailed(Exception):
    def __init__(self, message: str, retry_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_s = retry_s


class Switcher:
    def __init__(self, scheduler) -> None:
        self.sch = scheduler
        self.target: str | None = None
        self.error: str | None = None
        self.history: deque[dict] = deque(maxlen=20)
        self.unhealthy: list[str] = []  # services that failed their check after the last switch

    def targets(self, plan: Plan) -> dict[str, str]:
        return {name: svc.nearest(plan.targets.get(name, "resident"))
                for name, svc in self.sch.services.items()}

    def in_plan(self, plan: Plan) -> bool:
        """Every service gpu_host drives is where ``plan`` wants it."""
        services = self.sch.services
        return all(services[n].state == t for n, t in self.targets(plan).items()
                   if services[n].driven)

    def steps(self, plan: Plan) -> list[tuple[Service, str]]:
        down, up = [], []
        for name, target in self.targets(plan).items():
            svc = self.sch.services[name]
            if svc.state == target or not svc.driven:
                continue
            (up if svc.mb(target) > svc.mb() else down).append((svc, target))
        # take back the biggest first: the conversation's LLM before anything else wakes
        up.sort(key=lambda st: -st[0].mb(st[1]))
        return down + up

    async def switch(self, target: str, firm: bool = False) -> None:
        """Apply ``target``; unless ``firm``, give up between steps if it is no longer wanted."""
        sch = self.sch
        plan = PLANS[target]
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        previous = sch.plan
        self.target = target
        if target != CONVERSATION:
            sch.ready.clear()
        result = "ok"
        try:
            sch.check_fits(plan)
            if sch._interrupting is not None:  # noqa: SLF001 - ours: interrupt, then free
                await sch._interrupting  # noqa: SLF001
                sch._interrupting = None  # noqa: SLF001
            await self._reprobe()
            for svc, state in self.steps(plan):
                if not firm and sch.decide(loop.time())[0] != target \
                        or not await self._step(svc, state, target, firm):
                    result = "abandoned"  # a live signal (or a new plan) came in: re-plan
                    return
            self.unhealthy = [n for n, t in self.targets(plan).items()
                              if t == "resident" and not await sch.services[n].health()]
            if self.unhealthy:  # reported (set_mode answers SERVICE_UNAVAILABLE); the plan holds
                log.error("after the switch to %s: %s failed the health check", target,
                          ", ".join(self.unhealthy))
            sch.plan, self.error = target, None
        except ServiceError as exc:
            result = "busy" if exc.code == "BUSY" else "failed"
            self.error = None if exc.code == "BUSY" else str(exc)
            log.log(logging.INFO if exc.code == "BUSY" else logging.ERROR,
                    "switch to %s: %s", target, exc)
            raise SwitchFailed(str(exc), retry_s=0.5 if exc.code == "BUSY" else 2.0) from exc
        except GpuError as exc:
            result, self.error = "refused", str(exc)
            raise SwitchFailed(str(exc), retry_s=5.0) from exc
        finally:
            self.target = None
            took = loop.time() - t0
            sch.metrics.switches.labels(previous, target, result).inc()
            if result == "ok":
                sch.metrics.switch_seconds.labels(target).observe(took)
            self.history.appendleft({"at": time.time(), "from": previous, "to": target,
                                     "result": result, "took_s": round(took, 3),
                                     "error": self.error})

    async def _reprobe(self) -> None:
        """Services whose state is not known (failed, never probed) are asked first."""
        for svc in self.sch.services.values():
            if svc.state in ("failed", "unknown"):
                try:
                    svc.state = await svc.probe()
                except Exception as exc:  # noqa: BLE001 - it stays failed; the step will say
                    svc.detail = f"probe: {exc}"

    async def _step(self, svc: Service, state: str, target: str, firm: bool) -> bool:
        """One transition; False if the switch was abandoned while waiting for room."""
        sch = self.sch
        grow = svc.mb(state) - svc.mb()
        if grow > 0:
            room = await self._room(grow, None if firm else target)
            if room == "abandon":
                return False
            if room == "timeout":
                raise ServiceError(f"{svc.name} needs {grow} MB more to be {state}; the ledger "
                                   f"shows {sch.ledger.room_mb()} MB free beyond the headroom")
        async with asyncio.timeout(sch.s.switch_timeout_s):
            await svc.to(state)
        return True

    async def _room(self, mb: int, target: str | None) -> str:
        """Poll the ledger until it shows ``mb`` free: ok, abandon (no longer wanted), timeout."""
        sch = self.sch
        loop = asyncio.get_running_loop()
        deadline = loop.time() + sch.s.switch_timeout_s
        while sch.ledger.room_mb() < mb:
            if target is not None and sch.decide(loop.time())[0] != target:
                return "abandon"
            if loop.time() > deadline:
                return "timeout"
            await asyncio.sleep(sch.s.poll_s)
        return "ok"
