"""The GPU half on stand-ins, for the gpu tests: vLLM and ComfyUI stand-ins (served in threads),
``python -m gpu_host`` as its own process (it starts the GPT-SoVITS stand-in as its child), a
simulated 3090 shared through a directory, and the realtime server (voice on: Silero + Whisper)
whose LLM is the vLLM stand-in and whose GPU host is that process. Also a small avatar "job"
that renders views on ComfyUI through its HTTP + WebSocket API under stage-sized leases."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from pathlib import Path

import httpx
import orjson
import websockets

from gpu_host.client import GpuSettings, build_gpu_client
from gpu_host.stage import run_stage
from tests.serving import free_port, serve
from tests.servers import ServerProcess

REPO = Path(__file__).resolve().parent.parent
MODEL = "gemma-3-27b-it"
STEPS = 8  # sampling steps per test view: 2 s at the published 0.25 s per SDXL step


def view_prompt(steps: int = STEPS, seed: int = 0) -> dict:
    """An SDXL style-transfer graph in ComfyUI's API format (what a style stage would send)."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple",
              "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "chibi avatar", "clip": ["4", 1]}},
        "5": {"class_type": "EmptyLatentImage",
              "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
        "3": {"class_type": "KSampler", "inputs": {
            "seed": seed, "steps": steps, "cfg": 7.0, "sampler_name": "euler",
            "scheduler": "normal", "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0],
            "negative": ["6", 0], "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "avatar",
                                                    "images": ["8", 0]}},
    }


class Interrupted(Exception):
    pass


async def render_view(comfy_url: str, steps: int = STEPS, seed: int = 0) -> dict:
    """One ComfyUI prompt, followed on /ws to its end; returns its first image's metadata.
    Raises :class:`Interrupted` on ``execution_interrupted``."""
    client_id = uuid.uuid4().hex
    ws_url = comfy_url.replace("http://", "ws://") + f"/ws?clientId={client_id}"
    async with websockets.connect(ws_url) as ws, httpx.AsyncClient(base_url=comfy_url) as http:
        status = orjson.loads(await ws.recv())
        assert status["type"] == "status"
        r = await http.post("/prompt", json={"prompt": view_prompt(steps, seed),
                                             "client_id": client_id})
        r.raise_for_status()
        prompt_id = r.json()["prompt_id"]
        progress = 0
        while True:
            msg = orjson.loads(await ws.recv())
            data = msg.get("data") or {}
            if data.get("prompt_id") != prompt_id:
                continue
            if msg["type"] == "progress":
                progress = data["value"]
            elif msg["type"] == "execution_interrupted":
                raise Interrupted(prompt_id)
            elif msg["type"] == "executing" and data.get("node") is None:
                break
        history = (await http.get(f"/history/{prompt_id}")).json()[prompt_id]
        image = history["outputs"]["9"]["images"][0]
        png = await http.get("/view", params=image)
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        return {"prompt_id": prompt_id, "file": image["filename"], "steps": progress}


async def style_job(gpu, comfy_url: str, job_id: str, views: int, stats: dict,
                    steps: int = STEPS) -> list:
    """The avatar job's style stage: ``views`` renders, checkpointed after each."""
    async def unit(done):
        done = list(done or [])
        done.append(await render_view(comfy_url, steps=steps, seed=len(done)))
        return done, len(done) >= views

    return await run_stage(gpu, job_id, "style", "style", unit, est_s=views * steps * 0.25,
                           retry_s=0.3, stats=stats, progress=lambda done: len(done) / views)


class GpuHostProcess(ServerProcess):
    """``python -m gpu_host`` with AVATAR_GPU_* settings; ``kill()`` is a SIGKILL."""

    def __init__(self, workdir: Path, settings: dict[str, str]) -> None:
        super().__init__(workdir)
        self.settings = settings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gpu_host", "--port", str(self.port),
                "--log-level", "warning"]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AVATAR_")}
        env["PYTHONPATH"] = str(REPO)
        env.update({f"AVATAR_GPU_{k.upper()}": str(v) for k, v in self.settings.items()})
        return env

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the port opens before the lifespan has run
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError("gpu_host did not become healthy")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None


@contextlib.contextmanager
def stand_ins(sim_dir: Path):
    """The vLLM and ComfyUI stand-ins served in threads: ``((app, url), (app, url))``."""
    from tests.stand_ins import comfyui_server, vllm_server

    vllm_app = vllm_server.create_app(sim_dir)
    comfy_app = comfyui_server.create_app(sim_dir)
    with serve(vllm_app) as vllm_url, serve(comfy_app) as comfy_url:
        yield (vllm_app, vllm_url), (comfy_app, comfy_url)


class GpuRig:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.sim_dir = tmp / "sim"
        self.sim_dir.mkdir(parents=True, exist_ok=True)
        self._stack = contextlib.ExitStack()
        self.vllm_url = self.comfy_url = self.url = ""
        self.sovits_port = free_port()
        self.gen3d_port = free_port()

    def gpu_settings(self, **over) -> dict[str, str]:
        python = sys.executable
        base = {
            "device": "simulated", "sim_dir": str(self.sim_dir), "vllm_url": self.vllm_url,
            "comfyui_url": self.comfy_url, "whisper_mb": 1536,
            "sovits_url": f"http://127.0.0.1:{self.sovits_port}",
            "sovits_command": f"{python} -m tests.stand_ins.sovits_launch --port "
                              f"{self.sovits_port} --sim-dir {self.sim_dir}",
            # a gen3d sidecar gpu_host would start, declared too big to sit beside the resident
            # conversation services: POST /api/system/mode gen3d must be refused (507)
            "gen3d_url": f"http://127.0.0.1:{self.gen3d_port}", "gen3d_mb": 21000,
            "gen3d_command": f"{python} -m tests.stand_ins.gen3d_server --port "
                             f"{self.gen3d_port} --sim-dir {self.sim_dir}",
            "idle_window_s": 1.0, "lease_ttl_s": 6.0, "ready_timeout_s": 15.0,
            "comfyui_free_timeout_s": 3.0, "client_down_retry_s": 2.0}
        base.update(over)
        return {k: str(v) for k, v in base.items()}

    def start(self) -> None:
        (self.vllm_app, self.vllm_url), (self.comfy_app, self.comfy_url) = \
            self._stack.enter_context(stand_ins(self.sim_dir))
        self.host = GpuHostProcess(self.tmp / "gpu_host", self.gpu_settings())
        self.host.start()
        self._stack.callback(self.host.stop)

    def start_realtime(self) -> None:
        from realtime.app import create_app
        from realtime.config import ModelInfo
        from realtime.services import Services
        from tests.conftest import embedded_settings

        settings = embedded_settings(
            self.tmp / "realtime", llm_base_url=self.vllm_url + "/v1",
            llm_models=[ModelInfo(id=MODEL, name="Gemma 3 27B (vLLM stand-in)",
                                  context_length=8192)],
            llm_default_model=MODEL, gpu_host_url=self.host.url, rate_limit_per_minute=0)
        gpu = GpuSettings(_env_file=None, **self.gpu_settings())
        self.services = Services.build(settings, gpu_settings=gpu)
        self.app = create_app(settings, services=self.services)
        self.url = self._stack.enter_context(serve(self.app))

    def stop(self) -> None:
        self._stack.close()

    # ------------------------------------------------------------------ helpers
    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    @property
    def vllm(self):
        return self.vllm_app.state.engine

    @property
    def comfy(self):
        return self.comfy_app.state.engine

    def client(self, **over):
        """A GPU client of the kind the avatar job worker uses, to the gpu_host process."""
        return build_gpu_client(self.host.url, GpuSettings(_env_file=None,
                                                           **self.gpu_settings(**over)))

    async def until(self, predicate, timeout: float = 30.0, what: str = "condition") -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            assert loop.time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.02)

    async def status(self) -> dict:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{self.host.url}/v1/status")).json()["data"]

    async def settled(self, timeout: float = 20.0) -> dict:
        """Wait until the conversation plan is in force and no lease is active."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            st = await self.status()
            if st["plan"] == "conversation" and st["ready"] and not st["switching"] and not any(
                    le["state"] in ("queued", "granted") for le in st["leases"]):
                return st
            assert loop.time() < deadline, f"the GPU did not settle: {st}"
            await asyncio.sleep(0.05)

    def states(self, status: dict) -> dict[str, str]:
        return {s["name"]: s["state"] for s in status["vram"]["services"]}
