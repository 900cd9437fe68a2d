"""Services kept resident in the conversation plan: GPT-SoVITS ``api_v2`` (no sleep verb: left
alone, or restarted as a child process where gpu_host started it) and faster-whisper on CUDA
inside the realtime process (a declared need only: nothing outside that process can free it)."""

from __future__ import annotations

from gpu_host.figures import Need
from gpu_host.services.base import Service, ServiceError, State
from gpu_host.services.process import ProcessService


class SovitsService(ProcessService):
    """GPT-SoVITS api_v2: no sleep verb. Resident in every plan; with a command, gpu_host starts
    it at start-up (and may restart it)."""

    def __init__(self, url: str, need: Need, **kw) -> None:
        super().__init__("sovits", need, url, **kw)

    async def start(self) -> None:
        if self.child is not None:
            await self.to("resident")
        await super().start()

    async def _health(self) -> bool:
        # api_v2 has no health route; any HTTP answer below 500 means it is up and serving
        r = await self.http.get("/", timeout=5.0)
        return r.status_code < 500


class WhisperService(Service):
    """faster-whisper on CUDA in the realtime process: always resident, never driven."""

    def __init__(self, need: Need) -> None:
        super().__init__("whisper", need)

    async def start(self) -> None:
        self.state = "resident"
        self.declare(self.need.resident)

    async def aclose(self) -> None:
        self.declare(0)

    async def probe(self) -> State:
        return "resident"

    async def _to(self, target: str) -> None:  # pragma: no cover - reachable is resident only
        raise ServiceError("whisper runs inside the realtime process and stays resident")
