"""The pipeline, one small module per step, each named as the ``current_step`` a user sees.

``generate``: validate -> detect -> style -> build -> rig -> face -> clips -> export -> check ->
thumbnail. ``style``: validate -> style. ``validate`` and ``detect`` run when the upload arrives
(so a bad photo is refused with its HTTP status at once); the worker runs the rest. Each module
has ``async def run(ctx)``: it reads the files it needs, computes (CPU work in the job process,
GPU work under a ``gpu_host`` lease), and writes its checkpoint, so a restarted job resumes
after the last step that finished.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

GENERATE = ["validate", "detect", "style", "build", "rig", "face", "clips", "export", "check",
            "thumbnail"]
STYLE = ["validate", "style"]
# relative cost of each step (the progress bar); the style step counts more on a GPU
WEIGHTS = {"validate": 3, "detect": 4, "style": 14, "build": 22, "rig": 6, "face": 9,
           "clips": 3, "export": 14, "check": 15, "thumbnail": 10}


class Fallback(Exception):
    """The experimental engine failed a check: start again from ``build`` with the template."""


def steps_of(kind: str) -> list[str]:
    return GENERATE if kind == "generate" else STYLE


def progress(kind: str, done: list[str], current: str | None = None, within: float = 0.0) -> int:
    steps = steps_of(kind)
    total = sum(WEIGHTS[s] for s in steps)
    got = sum(WEIGHTS[s] for s in steps if s in done)
    if current is not None:
        got += WEIGHTS[current] * max(0.0, min(1.0, within))
    return min(99, int(100 * got / total)) if len(done) < len(steps) else 100


def module(name: str):
    return importlib.import_module(f"avatar_engine.stages.{name}")


@dataclass
class Ctx:
    """What a step sees: its job, the job's files, the CPU process, the GPU and the engines."""

    job: dict
    jobs: Any  # avatar_engine.jobs.Jobs
    pool: Any  # avatar_engine.cpu.CpuPool
    gpu: Any  # gpu_host.client.GpuClient | None
    settings: Any  # realtime.config.Settings
    validator: Any  # avatar_engine.checks.gltf_validator.GltfValidator
    report: Callable[[float], Awaitable[None]]  # progress within the step, 0..1
    inflight: set = field(default_factory=set)

    @property
    def id(self) -> str:
        return self.job["_id"]

    @property
    def options(self) -> dict:
        return self.job.get("options") or {}

    async def file(self, name: str) -> bytes | None:
        return await self.jobs.get_file(self.id, name)

    async def save(self, name: str, data: bytes) -> None:
        await self.jobs.put(self.id, name, data)

    async def set(self, **fields) -> None:
        self.job.update(fields)
        await self.jobs.update(self.id, **fields)

    async def note(self, text: str) -> None:
        await self.set(notes=[*self.job.get("notes", []), text])

    async def cpu(self, fn, *args):
        """``fn(*args)`` in the job process; the step in flight is waited for on cancel."""
        fut = self.pool.submit(fn, *args)
        self.inflight.add(fut)
        fut.add_done_callback(self.inflight.discard)
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # read, even if killed
        return await asyncio.shield(fut)
