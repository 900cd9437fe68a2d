"""The real adapters, driving the simulated engines in process instead of over HTTP: only the
transport methods are replaced, so the adapters' logic (in-flight check, waiting for the free)
is what runs. :func:`build_world` assembles a simulated deployment for tests and the bench."""

from __future__ import annotations

from dataclasses import dataclass

from gpu_host.config import GpuSettings
from gpu_host.figures import Need
from gpu_host.ledger import Ledger, SimulatedDevice
from gpu_host.scheduler import Scheduler
from gpu_host.services.comfyui import MB, ComfyUIService
from gpu_host.services.gen3d import Gen3dService
from gpu_host.services.resident import SovitsService, WhisperService
from gpu_host.services.vllm import VllmService
from gpu_host.sim.engines import ComfyEngine, EngineDead, Gen3dEngine, VllmEngine
from gpu_host.services.base import ServiceError, State


class SimVllmService(VllmService):
    def __init__(self, engine: VllmEngine, need: Need) -> None:
        super().__init__("", need)
        self.engine = engine

    async def is_sleeping(self) -> bool:
        return self.engine.state == "asleep"

    async def in_flight(self) -> int:
        return self.engine.in_flight

    async def call_sleep(self) -> None:
        try:
            await self.engine.sleep(self.level)
        except EngineDead as exc:
            raise ServiceError(str(exc)) from exc

    async def call_wake(self) -> None:
        try:
            await self.engine.wake()
        except EngineDead as exc:
            raise ServiceError(str(exc)) from exc

    async def _health(self) -> bool:
        return self.engine.state != "dead"


class SimComfyService(ComfyUIService):
    def __init__(self, engine: ComfyEngine, need: Need, **kw) -> None:
        super().__init__("", need, **kw)
        self.engine = engine

    async def vram_free_mb(self) -> int:
        return self.engine.vram_free_bytes() // MB

    async def call_free(self) -> None:
        self.engine.free(True, True)

    async def call_interrupt(self) -> None:
        self.engine.clear_queue()
        self.engine.interrupt()

    async def _health(self) -> bool:
        return True


class SimChild:
    """The gen3d sidecar's process, simulated: start = load its models, stop = it ends."""

    pid = None

    def __init__(self, engine: Gen3dEngine) -> None:
        self.engine = engine
        self.starts = 0

    @property
    def running(self) -> bool:
        return self.engine.loaded

    async def start(self) -> None:
        self.starts += 1
        await self.engine.load()

    async def stop(self, timeout_s: float = 10.0) -> None:
        self.engine.stop()


class SimGen3dService(Gen3dService):
    def __init__(self, engine: Gen3dEngine, need: Need) -> None:
        super().__init__("", need, child=SimChild(engine), poll_s=0.05)

    async def _health(self) -> bool:
        return self.child.running


class SimSovitsService(SovitsService):
    """GPT-SoVITS left resident (not started by gpu_host), its need declared."""

    async def start(self) -> None:
        await super().start()
        self.declare(self.need.resident)

    async def probe(self) -> State:
        return "resident"

    async def _health(self) -> bool:
        return True


@dataclass
class World:
    settings: GpuSettings
    device: SimulatedDevice
    scheduler: Scheduler
    vllm: VllmEngine
    comfy: ComfyEngine
    gen3d: Gen3dEngine


def build_world(settings: GpuSettings | None = None, **engine_overrides) -> World:
    """The 3090 deployment, simulated: vLLM, GPT-SoVITS, Whisper on CUDA, ComfyUI, gen3d."""
    s = settings or GpuSettings(_env_file=None, whisper_mb=1536)
    device = SimulatedDevice(s.sim_total_mb)
    vneed = Need(s.vllm_mb, asleep=s.vllm_asleep_mb)
    cneed = Need(s.comfyui_mb, stopped=s.comfyui_idle_mb)
    gneed = Need(s.gen3d_mb)
    vllm = VllmEngine(device, vneed, **engine_overrides.get("vllm", {}))
    comfy = ComfyEngine(device, cneed, **engine_overrides.get("comfy", {}))
    gen3d = Gen3dEngine(device, gneed, **engine_overrides.get("gen3d", {}))
    services = {
        "vllm": SimVllmService(vllm, vneed),
        "sovits": SimSovitsService("", Need(s.sovits_mb)),
        "whisper": WhisperService(Need(s.whisper_mb)),
        "comfyui": SimComfyService(comfy, cneed, free_timeout_s=s.comfyui_free_timeout_s,
                                   tolerance_mb=s.comfyui_free_tolerance_mb, poll_s=s.poll_s),
        "gen3d": SimGen3dService(gen3d, gneed),
    }
    scheduler = Scheduler(s, services, Ledger(device, s.headroom_mb))
    return World(s, device, scheduler, vllm, comfy, gen3d)


async def start_world(world: World) -> None:
    """Boot order of a real host: vLLM loads, ComfyUI starts idle, then the scheduler probes."""
    world.vllm.start()
    world.comfy.start()
    await world.scheduler.start()


async def stop_world(world: World) -> None:
    await world.scheduler.aclose()
    await world.comfy.stop()
    world.gen3d.stop()
