"""vLLM through its sleep-mode endpoints (``vllm serve --enable-sleep-mode``, with
``VLLM_SERVER_DEV_MODE=1``): ``POST /sleep?level=N``, ``POST /wake_up``, ``GET /is_sleeping``.

Two upstream hazards shape this adapter:

* sleeping while requests are in flight crashes the engine (vllm-project/vllm#45520, #31618):
  before ``/sleep`` it reads ``vllm:num_requests_running`` and ``..._waiting`` from ``/metrics``
  and refuses (``BUSY``) unless both are 0;
* a request sent to a sleeping engine crashes it or hangs until ``/wake_up`` (#15483, #45326):
  the scheduler only lets turns through once ``/is_sleeping`` says false.

Level 2 discards the weights; waking it also needs ``/collective_rpc reload_weights`` and
``/reset_prefix_cache`` (vLLM's sleep-mode blog post, 2025-10-26).
"""

from __future__ import annotations

import logging

from gpu_host.figures import Need
from gpu_host.services.base import Service, ServiceError, State

_INFLIGHT = ("vllm:num_requests_running", "vllm:num_requests_waiting")
log = logging.getLogger(__name__)


class VllmService(Service):
    verbs = ("sleep", "wake", "health")
    reachable = ("resident", "asleep")

    def __init__(self, url: str, need: Need, *, level: int = 1, timeout_s: float = 120.0,
                 pinned_version: str = "") -> None:
        super().__init__("vllm", need, url, timeout_s=timeout_s)
        self.level = level
        self.pinned_version = pinned_version
        self.version: str | None = None

    async def start(self) -> None:
        await super().start()
        if self.pinned_version and self.url:
            try:
                r = await self.http.get("/version", timeout=5.0)
                self.version = str(r.json().get("version"))
            except Exception as exc:  # noqa: BLE001 - reported, not fatal
                self.version = f"unknown ({exc})"
            if self.version != self.pinned_version:
                log.warning("vLLM is %s, pinned to %s: sleep mode was checked on the pinned "
                            "release only (docs/gpu.md)", self.version, self.pinned_version)

    def status(self) -> dict:
        return {**super().status(), "version": self.version, "pinned_version": self.pinned_version}

    # -- transport: the HTTP calls (the simulated service overrides these four) --------------
    async def is_sleeping(self) -> bool:
        r = await self.http.get("/is_sleeping", timeout=5.0)
        r.raise_for_status()
        return bool(r.json().get("is_sleeping"))

    async def in_flight(self) -> int:
        r = await self.http.get("/metrics", timeout=5.0)
        r.raise_for_status()
        total = 0.0
        for line in r.text.splitlines():
            if line.startswith(_INFLIGHT):
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    async def call_sleep(self) -> None:
        r = await self.http.post("/sleep", params={"level": self.level})
        r.raise_for_status()

    async def call_wake(self) -> None:
        r = await self.http.post("/wake_up")
        r.raise_for_status()
        if self.level == 2:
            r = await self.http.post("/collective_rpc", json={"method": "reload_weights"})
            r.raise_for_status()
            r = await self.http.post("/reset_prefix_cache")
            r.raise_for_status()

    # -- the adapter -----------------------------------------------------------------------
    async def probe(self) -> State:
        return "asleep" if await self.is_sleeping() else "resident"

    async def _to(self, target: str) -> None:
        if target == "asleep":
            busy = await self.in_flight()
            if busy:
                raise ServiceError(f"vllm has {busy} request(s) in flight; not sleeping", "BUSY")
            await self.call_sleep()
            if not await self.is_sleeping():
                raise ServiceError("vllm answered /sleep but /is_sleeping is still false")
        else:
            await self.call_wake()
            if await self.is_sleeping():
                raise ServiceError("vllm answered /wake_up but /is_sleeping is still true")

    async def _health(self) -> bool:
        r = await self.http.get("/health", timeout=5.0)
        return r.status_code == 200
