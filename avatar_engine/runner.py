"""Running one job: its remaining steps in order, a checkpoint after each (the job record and its
files), progress events to its owner, and its end -- completed, failed or cancelled -- after
which the photo and the intermediates are deleted.

A job found ``processing`` (its worker died, or the server restarted) runs again from the step
after the last one that finished. A cancelled job stops at once: the step in flight is
abandoned (the CPU step running in the job process is waited for, a GPU lease is released and
its work interrupted) and nothing after it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from avatar_engine import stages
from avatar_engine.errors import JobError
from avatar_engine.events import Events
from avatar_engine.jobs import ACTIVE, Jobs
from avatar_engine.stages import Ctx, Fallback
from gpu_host.errors import GpuError

log = logging.getLogger(__name__)


def event(kind: str, doc: dict) -> dict:
    from avatar_engine.jobs import public

    p = public(doc)
    out = {"type": kind, "job_id": doc["_id"], "user_id": doc["user_id"], "kind": doc["kind"],
           "status": doc["status"], "progress": p["progress"], "current_step": p["current_step"]}
    if kind == "job.done":
        out.update(result_url=p["result_url"], error=doc.get("error"))
    return out


class Runner:
    def __init__(self, jobs: Jobs, events: Events, pool, gpu, settings, validator) -> None:
        self.jobs, self.events, self.pool, self.gpu = jobs, events, pool, gpu
        self.settings, self.validator = settings, validator

    async def _progress(self, doc: dict, step: str, within: float) -> None:
        doc["current_step"] = step
        doc["progress"] = stages.progress(doc["kind"], doc["steps_done"], step, within)
        await self.jobs.update(doc["_id"], current_step=step, progress=doc["progress"])
        await self.events.publish(event("job.progress", doc))

    async def run(self, job_id: str) -> str | None:
        """Run (or resume) the job; -> its final status, or None if it was not runnable."""
        doc = await self.jobs.get(job_id)
        if doc is None or doc["status"] not in ACTIVE:
            return None
        started = doc.get("started_at") or time.time()
        attempts = int(doc.get("attempts") or 0) + 1
        if not await self.jobs.update(job_id, status="processing", started_at=started,
                                      attempts=attempts):
            return None
        doc.update(status="processing", started_at=started, attempts=attempts)
        async with self.pool.slot() as slot:  # this job's CPU process
            ctx = Ctx(doc, self.jobs, slot, self.gpu, self.settings, self.validator,
                      report=lambda f: None)
            return await self._run(doc, ctx)

    async def _run(self, doc: dict, ctx: Ctx) -> str | None:
        job_id = doc["_id"]
        try:
            await self._steps(doc, ctx)
            return await self._finish(doc)
        except JobError as exc:
            return await self._finish(doc, error=exc)
        except GpuError as exc:  # e.g. VRAM_INSUFFICIENT: the plan can never fit this GPU
            return await self._finish(doc, error=JobError(
                "GENERATION_FAILED", f"the GPU host refused the work: {exc.code}: {exc}"))
        except asyncio.CancelledError:
            await asyncio.shield(self._stopped(doc, ctx))
            raise
        except Exception as exc:  # noqa: BLE001 - a bug must fail the job, not the worker
            log.exception("job %s failed", job_id)
            return await self._finish(doc, error=JobError("GENERATION_FAILED", f"{exc}"[:300]))

    async def _steps(self, doc: dict, ctx: Ctx) -> None:
        steps = stages.steps_of(doc["kind"])
        i = 0
        while i < len(steps):
            name = steps[i]
            i += 1
            if name in doc["steps_done"]:
                continue
            ctx.report = lambda f, name=name: self._progress(doc, name, f)
            await self._progress(doc, name, 0.0)
            t0 = time.perf_counter()
            try:
                await stages.module(name).run(ctx)
            except Fallback as why:
                await self._fallback(doc, ctx, str(why))
                i = steps.index("build")
                continue
            doc["steps_done"] = [*doc["steps_done"], name]
            doc["timings"] = {**doc.get("timings", {}),
                              name: round((time.perf_counter() - t0) * 1000.0, 1)}
            # which attempt finished each step: a resumed job shows where it picked up
            doc["step_attempts"] = {**doc.get("step_attempts", {}), name: doc["attempts"]}
            await self.jobs.update(doc["_id"], steps_done=doc["steps_done"],
                                   timings=doc["timings"], step_attempts=doc["step_attempts"])

    async def _fallback(self, doc: dict, ctx: Ctx, why: str) -> None:
        log.warning("job %s: gpu3d failed (%s); the template takes over", doc["_id"], why)
        keep = [s for s in doc["steps_done"] if s in ("validate", "detect", "style")]
        doc.update(engine="template", steps_done=keep)
        await ctx.set(engine="template", steps_done=keep)
        await ctx.note(f"gpu3d: {why[:300]}; fell back to the template")

    async def _finish(self, doc: dict, error: JobError | None = None) -> str:
        now = time.time()
        if error is None:
            kind = doc["kind"]
            name = "model.glb" if kind == "generate" else "style.png"
            url = f"/api/models/{doc['_id']}.glb" if kind == "generate" else \
                f"/api/style/images/{doc['_id']}.png"
            result = {"url": url}
            if kind == "generate":
                result["thumbnail_url"] = f"/api/models/{doc['_id']}.png"
                if doc.get("options", {}).get("vrm"):
                    result["vrm_url"] = f"/api/models/{doc['_id']}.vrm"
                result["checks"] = doc.get("checks")
            elif await self.jobs.get_file(doc["_id"], name) is None:  # style "none"
                await self.jobs.put(doc["_id"], name, await self.jobs.get_file(doc["_id"],
                                                                               "photo"))
            fields = {"status": "completed", "progress": 100, "current_step": "done",
                      "result": result, "finished_at": now}
        else:
            fields = {"status": "failed", "error": error.to_doc(), "finished_at": now}
        if not await self.jobs.update(doc["_id"], **fields):  # cancelled meanwhile
            return (await self.jobs.get(doc["_id"]) or {}).get("status", "cancelled")
        doc.update(fields)
        await self.jobs.drop_intermediates(doc["_id"])
        await self.events.publish(event("job.done", doc))
        return doc["status"]

    async def _stopped(self, doc: dict, ctx: Ctx) -> None:
        """Cancelled by the user (or the worker is shutting down: then the job resumes later
        from its last checkpoint): a CPU step in flight is killed with its process, then the
        time the work stopped is recorded and the files go."""
        current = await self.jobs.get(doc["_id"])
        if current is None or current["status"] != "cancelled":
            return
        if any(not f.done() for f in ctx.inflight):
            await ctx.pool.kill()
        stopped = time.time()
        await self.jobs.update(doc["_id"], statuses=("cancelled",), stopped_at=stopped,
                               current_step=None)
        with contextlib.suppress(Exception):
            await self.jobs.drop_intermediates(doc["_id"])
        current.update(stopped_at=stopped)
        await self.events.publish(event("job.done", current))
