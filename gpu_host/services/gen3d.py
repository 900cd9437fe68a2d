"""The gen3d sidecar (experimental): Hunyuan3D's ``api_server.py`` job contract, ``POST /send``
-> ``{uid}`` and ``GET /status/{uid}`` -> ``{status: processing|completed, model_base64}``.

The contract has no cancel and no unload: its models live as long as its process. So gpu_host
controls it at process level, and only a process it started (``AVATAR_GPU_GEN3D_COMMAND``):
``resident`` = running, ``stopped`` = not running; preemption stops it (the run under way is
lost; the job resumes from its last stage checkpoint). A sidecar gpu_host did not start is
reported but never signalled; its memory is counted as always in use.
"""

from __future__ import annotations

from gpu_host.figures import Need
from gpu_host.services.base import Service, ServiceError, State, poll_until
from gpu_host.services.process import ChildProcess

# SIGTERM, then SIGKILL after this: a preempted sidecar holds 15 GB until it is gone, and its
# run is lost either way (api_server.py's uvicorn would wait for idle keep-alive connections)
STOP_GRACE_S = 1.0


class Gen3dService(Service):
    def __init__(self, url: str, need: Need, *, command: str = "", log_dir=None, child=None,
                 start_timeout_s: float = 180.0, poll_s: float = 0.1) -> None:
        super().__init__("gen3d", need, url, timeout_s=10.0)
        self.child = child or (ChildProcess("gen3d", command, log_dir) if command else None)
        self.start_timeout_s = start_timeout_s
        self.poll_s = poll_s
        if self.child is not None:
            self.verbs = ("start", "stop", "interrupt", "health")
            self.reachable = ("resident", "stopped")

    @property
    def driven(self) -> bool:
        return self.child is not None

    def nearest(self, target: str) -> str:
        if self.child is None:  # not ours: it stays as it is (running holds its memory)
            return "resident" if self.state == "resident" else "stopped"
        return super().nearest(target)

    async def aclose(self) -> None:
        if self.child is not None:
            await self.child.stop(STOP_GRACE_S)
        await super().aclose()

    async def probe(self) -> State:
        if self.child is not None and not self.child.running:
            return "stopped"
        return "resident" if await self.health() else "stopped"

    async def _health(self) -> bool:
        r = await self.http.get("/status/health-probe", timeout=5.0)
        return r.status_code == 200

    async def _to(self, target: str) -> None:
        if self.child is None:
            raise ServiceError("gen3d is not started by gpu_host: it cannot be stopped")
        if target == "stopped":
            await self.child.stop(STOP_GRACE_S)
            return
        await self.child.start()
        if not await poll_until(self.health, self.start_timeout_s, self.poll_s):
            raise ServiceError(f"gen3d did not answer within {self.start_timeout_s:g} s")

    async def interrupt(self) -> None:
        if self.child is not None:
            await self.to("stopped")

    def observed_mb(self, by_holder: dict[str, int]) -> int | None:
        if self.child is not None and self.child.pid is not None:
            return by_holder.get(f"pid:{self.child.pid}", by_holder.get(self.name))
        return by_holder.get(self.name)
