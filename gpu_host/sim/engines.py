"""The simulated servers' behaviour (what happens inside vLLM, ComfyUI, the gen3d sidecar), on a
:class:`~gpu_host.ledger.SimulatedDevice`. The stand-ins put the real HTTP APIs in front of these;
the simulated services drive them in process. Upstream behaviour reproduced, with its source:

* vLLM (``vllm/entrypoints/serve/sleep``, sleep-mode docs): level-1 sleep moves the weights to host
  memory (the device keeps ``need.asleep``); ``/sleep`` with requests in flight kills the engine
  (vllm-project/vllm#45520); a request to a sleeping engine waits until ``/wake_up``
  (the behaviour before #45326).
* ComfyUI (``main.py`` ``prompt_worker``, ``server.py``, ``execution.py``): prompts run one at a
  time; models load with the first prompt; ``/interrupt`` stops the running prompt at its next
  sampling step (``execution_interrupted``) and is cleared when a prompt starts; ``/free`` only
  sets flags, acted on after the running prompt (or at once when idle).
* gen3d (Hunyuan3D ``api_server.py``): ``/send`` starts a run in a thread, ``/status`` reports
  ``processing`` until the mesh exists; models stay loaded for the process's life.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import struct
import uuid
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable

from gpu_host import figures as F
from gpu_host.figures import Need
from gpu_host.ledger import SimulatedDevice

MB = 2**20


class EngineDead(Exception):
    pass


class Interrupted(Exception):
    """A ComfyUI prompt ended with ``execution_interrupted``."""


class VllmEngine:
    def __init__(self, device: SimulatedDevice, need: Need, *, wake_s: float = F.VLLM_WAKE_S,
                 sleep_s: float = F.VLLM_SLEEP_S, tokens_per_s: float = F.LLM_TOKENS_PER_S,
                 first_token_s: float = F.LLM_FIRST_TOKEN_S, holder: str = "vllm") -> None:
        self.device, self.need, self.holder = device, need, holder
        self.wake_s, self.sleep_s = wake_s, sleep_s
        self.token_s, self.first_token_s = 1.0 / tokens_per_s, first_token_s
        self.state = "awake"  # awake | asleep | dead
        self.in_flight = 0
        self.awake = asyncio.Event()
        self.counters = {"sleeps": 0, "wakes": 0, "requests_while_asleep": 0, "crashes": 0,
                         "requests": 0}
        self.log: list[tuple[str, float]] = []  # (event, loop time): sleep/wake begin and end

    def start(self) -> None:
        self.device.set(self.holder, self.need.resident)
        self.awake.set()

    def _mark(self, event: str) -> None:
        self.log.append((event, asyncio.get_running_loop().time()))

    async def sleep(self, level: int = 1) -> None:
        if self.state == "dead":
            raise EngineDead("the engine died")
        if self.in_flight:  # vllm-project/vllm#45520: CUDA illegal access, EngineCore dies
            self.state = "dead"
            self.counters["crashes"] += 1
            raise EngineDead(f"/sleep with {self.in_flight} request(s) in flight")
        if self.state == "asleep":
            return
        self._mark("sleep_begin")
        self.awake.clear()
        self.state = "asleep"  # new requests park from now on
        await asyncio.sleep(self.sleep_s)
        self.device.set(self.holder, self.need.asleep)
        self.counters["sleeps"] += 1
        self._mark("sleep_end")

    async def wake(self) -> None:
        if self.state == "dead":
            raise EngineDead("the engine died")
        if self.state == "awake":
            return
        self._mark("wake_begin")
        self.device.set(self.holder, self.need.resident)  # the weights go back first
        await asyncio.sleep(self.wake_s)
        self.state = "awake"
        self.counters["wakes"] += 1
        self.awake.set()
        self._mark("wake_end")

    async def generate(self, text: str, max_tokens: int) -> AsyncIterator[str]:
        if self.state == "dead":
            raise EngineDead("the engine died")
        self.counters["requests"] += 1
        if self.state == "asleep":
            self.counters["requests_while_asleep"] += 1
            await self.awake.wait()
        self.in_flight += 1
        try:
            await asyncio.sleep(self.first_token_s)
            words = reply_words(text)[:max(1, max_tokens)]
            for i, word in enumerate(words):
                if self.state == "dead":
                    raise EngineDead("the engine died mid-stream")
                yield word if i == 0 else " " + word
                await asyncio.sleep(self.token_s)
        finally:
            self.in_flight -= 1


def reply_words(text: str) -> list[str]:
    """A deterministic two-sentence answer (the stand-in has no model)."""
    topic = " ".join(text.split()[:6]).strip(" ?!.,") or "that"
    return (f"You asked about {topic}. This answer comes from a stand-in for vLLM, "
            f"streamed word by word.").split()


class ComfyEngine:
    _ids = itertools.count(1)

    def __init__(self, device: SimulatedDevice, need: Need, *, step_s: float = F.SDXL_STEP_S,
                 load_s: float = F.COMFYUI_LOAD_S, unload_s: float = F.COMFYUI_UNLOAD_S,
                 holder: str = "comfyui") -> None:
        self.device, self.need, self.holder = device, need, holder
        self.step_s, self.load_s, self.unload_s = step_s, load_s, unload_s
        self.loaded = False
        self.queue: deque[tuple[str, dict, str | None]] = deque()
        self.running: str | None = None
        self.history: dict[str, dict] = {}
        self.images: dict[str, bytes] = {}
        self.uploads: dict[str, bytes] = {}  # POST /upload/image (the stand-in's LoadImage)
        self.flags: dict[str, bool] = {}
        self.interrupt_flag = False
        self.listeners: list[Callable[[str, dict, str | None], None]] = []
        self.counters = {"prompts": 0, "interrupted": 0, "frees_requested": 0, "unloads": 0,
                         "interrupts": 0}
        self.log: list[tuple[str, float]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.stuck = False  # a test switch: /free is accepted but never acted on

    def start(self) -> None:
        self.device.set(self.holder, self.need.stopped)  # the process's CUDA context
        self._task = asyncio.create_task(self._worker(), name="comfy-worker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])  # (a cancellation of stop() itself still propagates)

    def _emit(self, event: str, data: dict, client_id: str | None) -> None:
        for listener in list(self.listeners):
            listener(event, data, client_id)

    def _mark(self, event: str) -> None:
        self.log.append((event, asyncio.get_running_loop().time()))

    def submit(self, prompt: dict, client_id: str | None = None) -> str:
        prompt_id = str(uuid.uuid4())
        self.queue.append((prompt_id, prompt, client_id))
        self._wake.set()
        return prompt_id

    async def render(self, prompt: dict, poll_s: float = 0.1) -> str:
        """Submit ``prompt`` and wait for it as a client polling ``/history`` does: its id, or
        :class:`Interrupted`."""
        prompt_id = self.submit(prompt)
        while prompt_id not in self.history:
            await asyncio.sleep(poll_s)
        if self.history[prompt_id]["status"]["status_str"] != "success":
            raise Interrupted(prompt_id)
        return prompt_id

    def interrupt(self) -> None:
        self.interrupt_flag = True
        self.counters["interrupts"] += 1

    def clear_queue(self) -> None:
        self.queue.clear()

    def free(self, unload_models: bool, free_memory: bool) -> None:
        if unload_models:
            self.flags["unload_models"] = True
        if free_memory:
            self.flags["free_memory"] = True
        self.counters["frees_requested"] += 1
        self._mark("free_requested")
        self._wake.set()

    def vram_free_bytes(self) -> int:
        return max(0, self.device.total_mb - self.device.used_mb()) * MB

    def queue_info(self) -> dict:
        running = [[0, self.running]] if self.running else []
        pending = [[i + 1, pid] for i, (pid, _, _) in enumerate(self.queue)]
        return {"queue_running": running, "queue_pending": pending}

    async def _worker(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.queue:
                await self._execute(*self.queue.popleft())
                await self._apply_flags()
            await self._apply_flags()

    async def _apply_flags(self) -> None:
        if self.stuck:
            return
        flags, self.flags = self.flags, {}
        if (flags.get("unload_models") or flags.get("free_memory")) and self.loaded:
            await asyncio.sleep(self.unload_s)
            self.loaded = False
            # marked before the device shows the room: gpu_host (another thread or process)
            # may see it and begin a wake at once, and "unloaded" must never read as later
            self._mark("unloaded")
            self.counters["unloads"] += 1
            self.device.set(self.holder, self.need.stopped)

    async def _execute(self, prompt_id: str, prompt: dict, client_id: str | None) -> None:
        self.running = prompt_id
        self.interrupt_flag = False  # execution.py: nodes.interrupt_processing(False)
        steps, sampler, saver = _graph(prompt)
        self._emit("execution_start", {"prompt_id": prompt_id}, client_id)
        try:
            if not self.loaded:
                self._emit("executing", {"node": sampler, "prompt_id": prompt_id}, client_id)
                await asyncio.sleep(self.load_s)
                self.loaded = True
                self.device.set(self.holder, self.need.resident)
                self._mark("loaded")
            for i in range(steps):
                if self.interrupt_flag:
                    self.counters["interrupted"] += 1
                    self.history[prompt_id] = {
                        "prompt": [0, prompt_id, prompt, {}, [saver]], "outputs": {},
                        "status": {"status_str": "error", "completed": False,
                                   "messages": [["execution_interrupted",
                                                 {"prompt_id": prompt_id}]]}}
                    self._emit("execution_interrupted",
                               {"prompt_id": prompt_id, "node_id": sampler,
                                "node_type": "KSampler", "executed": []}, client_id)
                    return
                await asyncio.sleep(self.step_s)
                self._emit("progress", {"value": i + 1, "max": steps, "prompt_id": prompt_id,
                                        "node": sampler}, client_id)
            name = f"avatar_{next(self._ids):05d}_.png"
            loaded = [n.get("inputs", {}).get("image") for n in prompt.values()
                      if n.get("class_type") == "LoadImage"]
            self.images[name] = next((self.uploads[x] for x in loaded if x in self.uploads),
                                     None) or png_bytes(prompt_id)
            image = {"filename": name, "subfolder": "", "type": "output"}
            self.history[prompt_id] = {
                "prompt": [0, prompt_id, prompt, {}, [saver]],
                "outputs": {saver: {"images": [image]}},
                "status": {"status_str": "success", "completed": True, "messages": []}}
            self.counters["prompts"] += 1
            self._emit("executed", {"node": saver, "output": {"images": [image]},
                                    "prompt_id": prompt_id}, client_id)
            self._emit("execution_success", {"prompt_id": prompt_id}, client_id)
        finally:
            self.running = None
            self._emit("executing", {"node": None, "prompt_id": prompt_id}, client_id)


def _graph(prompt: dict) -> tuple[int, str, str]:
    """(sampling steps, the sampler's node id, the SaveImage node id) of an API-format graph."""
    steps, sampler, saver = 0, "", ""
    for node_id, node in prompt.items():
        kind = node.get("class_type")
        if kind in ("KSampler", "KSamplerAdvanced"):
            steps += int(node.get("inputs", {}).get("steps", F.SDXL_STEPS))
            sampler = sampler or node_id
        elif kind == "SaveImage":
            saver = node_id
    return max(1, steps), sampler or next(iter(prompt)), saver or next(iter(prompt))


def validate_graph(prompt) -> str | None:
    """ComfyUI's ``validate_prompt`` in brief: an error message, or None."""
    if not isinstance(prompt, dict) or not prompt:
        return "the prompt is not an API-format graph (a non-empty object of nodes)"
    for node_id, node in prompt.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            return f"node {node_id!r} has no class_type"
    if not any(n.get("class_type") == "SaveImage" for n in prompt.values()):
        return "Prompt has no outputs"
    return None


def png_bytes(seed: str, size: int = 16) -> bytes:
    """A small opaque PNG whose colour depends on ``seed`` (a stand-in's "image")."""
    r, g, b = zlib.crc32(seed.encode()).to_bytes(4, "big")[:3]
    row = b"\x00" + bytes((r, g, b)) * size
    raw = zlib.compress(row * size)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


class Gen3dEngine:
    def __init__(self, device: SimulatedDevice, need: Need, *, load_s: float = F.GEN3D_LOAD_S,
                 run_s: float = F.GEN3D_RUN_S, holder: str = "gen3d",
                 make_result: Callable[[dict], bytes] | None = None) -> None:
        self.device, self.need, self.holder = device, need, holder
        self.load_s, self.run_s = load_s, run_s
        self.make_result = make_result  # the GLB a run "makes" (default: an empty GLB)
        self.sent: list[dict] = []
        self.loaded = False
        self.runs: dict[str, asyncio.Task] = {}
        self.results: dict[str, bytes] = {}

    async def load(self) -> None:
        await asyncio.sleep(self.load_s)
        self.device.set(self.holder, self.need.resident)
        self.loaded = True

    def stop(self) -> None:
        """The process ends: its runs die with it and the driver frees its memory."""
        for task in self.runs.values():
            task.cancel()
        self.runs.clear()
        self.loaded = False
        self.device.set(self.holder, 0)

    def send(self, params: dict) -> str:
        uid = str(uuid.uuid4())
        self.sent.append(params)

        async def run() -> None:
            await asyncio.sleep(self.run_s)
            self.results[uid] = (self.make_result(params) if self.make_result
                                 else b"glTF" + struct.pack("<II", 2, 12))  # an empty GLB

        self.runs[uid] = asyncio.create_task(run(), name=f"gen3d-{uid}")
        return uid

    def status(self, uid: str) -> dict:
        if uid in self.results:
            return {"status": "completed",
                    "model_base64": base64.b64encode(self.results[uid]).decode()}
        return {"status": "processing"}
