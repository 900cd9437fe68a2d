"""Services kept resident in the conversation plan: GPT-SoVITS ``api_v2`` (no sleep verb: left
alone, or restarted as a child process where gpu_host started it) and faster-whisper on CUDA
inside the realtime process (a declared need only: nothing outside that process can free it)."""

from __future__ import annotations

from gpu_host.figures import Need
from gpu_host.services.base import Service, ServiceError, State, poll_until
from gpu_host.services.process import ChildProcess


class SovitsService(Service):
    def __init__(self, url: str, need: Need, *, command: str = "", log_dir=None, child=None,
                 start_timeout_s: float = 120.0, poll_s: float = 0.1) -> None:
        super().__init__("sovits", need, url, timeout_s=10.0)
        self.child = child or (ChildProcess("sovits", command, log_dir) if command else None)
        self.start_timeout_s = start_timeout_s
        self.poll_s = poll_s
        if self.child is not None:
            self.verbs = ("start", "stop", "health")
            self.reachable = ("resident", "stopped")

    async def start(self) -> None:
        if self.child is not None:
            await self.to("resident")
        await super().start()

    async def aclose(self) -> None:
        if self.child is not None:
            await self.child.stop()
        await super().aclose()

    async def probe(self) -> State:
        if self.child is not None and not self.child.running:
            return "stopped"
        return "resident" if await self._health() else "failed"

    async def _health(self) -> bool:
        # api_v2 has no health route; any HTTP answer below 500 means it is up and serving
        r = await self.http.get("/", timeout=5.0)
        return r.status_code < 500

    async def _to(self, target: str) -> None:
        if self.child is None:
            raise ServiceError("sovits is not started by gpu_host: it stays resident")
        if target == "stopped":
            await self.child.stop()
            return
        await self.child.start()
        if not await poll_until(self.health, self.start_timeout_s, self.poll_s):
            raise ServiceError(f"sovits did not answer within {self.start_timeout_s:g} s")

    def observed_mb(self, by_holder: dict[str, int]) -> int | None:
        if self.child is not None and self.child.pid is not None:
            return by_holder.get(f"pid:{self.child.pid}", by_holder.get(self.name))
        return by_holder.get(self.name)


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
