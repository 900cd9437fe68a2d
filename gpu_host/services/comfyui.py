"""ComfyUI through its HTTP API (``server.py``): ``POST /free``, ``GET /system_stats``,
``POST /interrupt``, ``POST /queue``.

``/free {unload_models, free_memory}`` only sets flags on the prompt queue and returns 200 at
once; the prompt worker unloads the models when it next wakes (``main.py`` ``prompt_worker``:
after the prompt it is running, if any). So "freed" is never assumed: after ``/free`` this
adapter polls ``/system_stats`` until ``devices[0].vram_free`` is back within a tolerance of the
baseline it read when ComfyUI was given the GPU, and fails (``SERVICE_UNAVAILABLE``) if that does
not happen in time. ``/interrupt`` stops only the prompt running now, so preemption first clears
the pending queue (``POST /queue {clear}``) and then interrupts.

States: ``resident`` = ComfyUI may load and hold its models (they load with the first prompt);
``stopped`` = models unloaded (the process keeps its CUDA context, ``need.stopped``).
"""

from __future__ import annotations

from gpu_host.figures import Need
from gpu_host.services.base import Service, ServiceError, State, poll_until

MB = 2**20


class ComfyUIService(Service):
    verbs = ("load", "unload", "interrupt", "health")
    reachable = ("resident", "stopped")

    def __init__(self, url: str, need: Need, *, free_timeout_s: float = 10.0,
                 tolerance_mb: int = 500, poll_s: float = 0.05) -> None:
        super().__init__("comfyui", need, url, timeout_s=10.0)
        self.free_timeout_s = free_timeout_s
        self.tolerance_mb = tolerance_mb
        self.poll_s = poll_s
        self.baseline_free_mb: int | None = None
        self.frees = 0  # completed /free cycles (for the tests and the status)

    # -- transport: the HTTP calls (the simulated service overrides these four) --------------
    async def vram_free_mb(self) -> int:
        r = await self.http.get("/system_stats", timeout=5.0)
        r.raise_for_status()
        return int(r.json()["devices"][0]["vram_free"] // MB)

    async def call_free(self) -> None:
        r = await self.http.post("/free", json={"unload_models": True, "free_memory": True})
        r.raise_for_status()

    async def call_interrupt(self) -> None:
        r = await self.http.post("/queue", json={"clear": True})
        r.raise_for_status()
        r = await self.http.post("/interrupt")
        r.raise_for_status()

    async def _health(self) -> bool:
        return (await self.http.get("/system_stats", timeout=5.0)).status_code == 200

    # -- the adapter -----------------------------------------------------------------------
    async def probe(self) -> State:
        await self.vram_free_mb()
        # whether it holds models cannot be read from its API: assume it may, so the first
        # plan that needs the room frees it (POST /free is harmless when nothing is loaded)
        return "resident"

    async def _to(self, target: str) -> None:
        if target == "resident":
            self.baseline_free_mb = await self.vram_free_mb()
            return
        await self.call_free()
        baseline = self.baseline_free_mb
        if baseline is None:  # we did not see it start (gpu_host restarted): the ledger decides
            return
        want = baseline - self.tolerance_mb

        async def freed() -> bool:
            return await self.vram_free_mb() >= want

        if not await poll_until(freed, self.free_timeout_s, self.poll_s):
            raise ServiceError(f"comfyui: /free accepted but vram_free stayed below "
                               f"{want} MB for {self.free_timeout_s:g} s")
        self.frees += 1

    async def interrupt(self) -> None:
        await self.call_interrupt()
