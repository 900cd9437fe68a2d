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
from gpu_host.services.process import ProcessService

# SIGTERM, then SIGKILL after this: a preempted sidecar holds 15 GB until it is gone, and its
# run is lost either way (api_server.py's uvicorn would wait for idle keep-alive connections)
STOP_GRACE_S = 1.0


class Gen3dService(ProcessService):
    verbs = ("interrupt", "health")
    stop_grace_s = STOP_GRACE_S
    absent = "stopped"  # not running: it holds nothing

    def __init__(self, url: str, need: Need, **kw) -> None:
        kw.setdefault("start_timeout_s", 180.0)
        super().__init__("gen3d", need, url, **kw)

    @property
    def driven(self) -> bool:
        return self.child is not None

    def nearest(self, target: str) -> str:
        if self.child is None:  # not ours: it stays as it is (running holds its memory)
            return "resident" if self.state == "resident" else "stopped"
        return super().nearest(target)

    async def _health(self) -> bool:
        r = await self.http.get("/status/health-probe", timeout=5.0)
        return r.status_code == 200

    async def interrupt(self) -> None:
        if self.child is not None:
            await self.to("stopped")
