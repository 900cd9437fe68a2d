"""Avatar jobs as a service: uploads in (checked, and the face found, before a job exists), jobs
onto the queue, workers running them, cancels, and the events the server pushes to its users.
The realtime server embeds one (``realtime/avatar_jobs.py``); ``python -m avatar_engine.worker``
runs one without the server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from avatar_engine import licences
from avatar_engine.checks.gltf_validator import GltfValidator
from avatar_engine.cpu import CpuPool
from avatar_engine.errors import JobError
from avatar_engine.events import Events, RedisEvents
from avatar_engine.jobs import ACTIVE, Jobs
from avatar_engine.queue import LocalQueue, SaqQueue
from avatar_engine.runner import Runner, event
from avatar_engine.stages import detect, validate

log = logging.getLogger(__name__)


class AvatarJobs:
    def __init__(self, settings, store, gpu=None, *, worker: bool = True,
                 handle_signals: bool = False) -> None:
        self.settings = settings
        self.jobs = Jobs(store)
        self.gpu = gpu
        self.worker = worker
        prefix = f"{settings.redis_prefix}avatar-jobs"
        if settings.redis_url:
            self.events: Events = RedisEvents(settings.redis_url, f"{prefix}:events")
            self.queue = SaqQueue(settings.redis_url, prefix, settings.avatar_worker_concurrency,
                                  settings.avatar_job_heartbeat_s, handle_signals)
        else:
            self.events = Events()
            self.queue = LocalQueue(settings.avatar_worker_concurrency)
        self.pool = CpuPool(settings.avatar_worker_concurrency)
        self.validator = GltfValidator()
        self.runner = Runner(self.jobs, self.events, self.pool, gpu, settings, self.validator)
        self.running: dict[str, asyncio.Task] = {}
        self._unsubscribe = None
        self._warming: asyncio.Task | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.events.start()
        self._unsubscribe = self.events.subscribe(self._on_event)
        if self.settings.avatar_warm_at_start:
            await self.warm()
        await self.queue.start(self.execute if self.worker else None)
        if self.worker:
            await self.resume()

    async def warm(self) -> None:
        """Start the job processes (photo analysis, the template) and the glTF-Validator. At the
        first upload, unless ``AVATAR_AVATAR_WARM_AT_START``: a server nobody makes avatars on
        does not keep them resident (a few hundred MB)."""
        await self.pool.start()
        if self.worker and self.validator.available and self._warming is None:
            self._warming = asyncio.create_task(self._warm_validator())  # Node's start-up

    async def _warm_validator(self) -> None:
        from avatar_engine.template.__main__ import OUT_DIR

        with contextlib.suppress(Exception):
            await self.validator.validate(OUT_DIR / "default.glb")

    def live(self, busy: bool) -> None:
        """Live conversation started (True) or ended (False): the job processes pause while it
        runs (realtime.pipeline.live.LiveWork), so a live turn never shares the cores."""
        self.pool.pause(busy)

    async def resume(self) -> int:
        """Put back every unfinished job (after a restart): each resumes after its last step."""
        unfinished = await self.jobs.unfinished()
        for doc in unfinished:
            await self.queue.enqueue(doc["_id"])
        if unfinished:
            log.info("resuming %d avatar job(s)", len(unfinished))
        return len(unfinished)

    async def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        if self._warming is not None:
            self._warming.cancel()
        await self.queue.aclose()
        for task in list(self.running.values()):
            task.cancel()
        await self.pool.aclose()
        await self.validator.aclose()
        await self.events.aclose()

    # ------------------------------------------------------------------ workers
    async def execute(self, job_id: str) -> None:
        """Run one job, cancellable by a ``job.cancel`` event from any process."""
        task = asyncio.create_task(self.runner.run(job_id), name=f"avatar-job-{job_id}")
        self.running[job_id] = task
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # Who was cancelled? Not "is the job done": the worker can be stopped in the same
            # loop turn as its job ends, and returning then swallowed the worker's own
            # cancellation (it went back to waiting for work, and stop() waited forever).
            if not asyncio.current_task().cancelling():
                return  # the user cancelled this job: the worker goes on with the next
            task.cancel()  # the worker itself is stopping
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise
        finally:
            self.running.pop(job_id, None)

    async def _on_event(self, ev: dict) -> None:
        if ev.get("type") == "job.cancel":
            task = self.running.get(ev["job_id"])
            if task is not None:
                task.cancel()

    # ------------------------------------------------------------------ the API's side
    def _licences(self, options: dict) -> None:
        s = self.settings
        if options.get("engine") == "gpu3d":
            licences.check(s.avatar_gpu3d_model, s.avatar_region, s.avatar_allow_noncommercial)
        url = getattr(getattr(self.gpu, "settings", None), "comfyui_url", "")
        if url and options.get("style", options.get("style_preset", "none")) != "none":
            from avatar_engine.engines.comfyui import check_licences, load_workflow

            check_licences(s, load_workflow(s.avatar_style_workflow))

    def _engine(self, options: dict) -> str:
        if options.get("engine") != "gpu3d":
            return "template"
        return "gpu3d"

    async def _photo(self, data: bytes, face: bool) -> tuple[dict, dict | None]:
        s = self.settings
        await self.warm()  # (once)
        clean = await self.pool.run(validate.clean, data, s.avatar_max_upload_bytes,
                                    s.avatar_max_pixels)
        found = await self.pool.run(detect.find, clean["jpeg"]) if face else None
        return clean, found

    async def submit(self, kind: str, user_id: str, data: bytes, options: dict) -> dict:
        """Check the upload (``validate``; ``detect`` for avatars) and queue the job; raises
        :class:`JobError` with the upload's problem."""
        self._licences(options)
        clean, face = await self._photo(data, face=kind == "generate")
        engine = self._engine(options) if kind == "generate" else None
        done = ["validate", "detect"] if kind == "generate" else ["validate"]
        doc = await self.jobs.create(kind, user_id, options, engine=engine, steps_done=done,
                                     image={"width": clean["width"], "height": clean["height"]})
        await self.jobs.put(doc["_id"], "photo", clean["jpeg"])
        if face is not None:
            await self.jobs.put(doc["_id"], "face.json", json.dumps(face).encode())
        await self.queue.enqueue(doc["_id"])
        return doc

    async def cancel(self, job_id: str) -> dict | None:
        """Cancel a queued or running job; -> its record (None: no such job)."""
        doc = await self.jobs.get(job_id)
        if doc is None:
            return None
        now = time.time()
        if await self.jobs.update(job_id, status="cancelled", cancel_requested_at=now,
                                  finished_at=now):
            await self.events.publish({"type": "job.cancel", "job_id": job_id})
            await self.queue.abort(job_id)
            if doc["status"] == "queued":  # never started: nobody else will say it ended
                doc = await self.jobs.get(job_id)
                await self.jobs.drop_intermediates(job_id)
                await self.events.publish(event("job.done", doc))
        return await self.jobs.get(job_id)

    def estimate_s(self, options: dict) -> int:
        """Seconds a job takes when it starts now (the seeds' ``estimated_time``)."""
        gpu = getattr(self.gpu, "settings", None)
        style = options.get("style", "none") != "none"
        seconds = 6
        if style and getattr(gpu, "comfyui_url", ""):
            seconds += 40
        if options.get("engine") == "gpu3d" and getattr(gpu, "gen3d_url", ""):
            seconds += 120
        return seconds

    @staticmethod
    def owned(doc: dict | None, user_id: str, kind: str) -> dict:
        if doc is None or doc.get("user_id") != user_id or doc.get("kind") != kind:
            raise JobError("NOT_FOUND", "no such job")
        return doc

    ACTIVE = ACTIVE
