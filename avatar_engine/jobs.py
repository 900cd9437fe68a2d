"""Job records and their files, kept in the long-term store (``realtime.store``'s interface):
a job survives a restart and any worker process sharing the store can resume it.

A job document::

    {_id, kind: generate | style, user_id, status: queued | processing | completed | failed |
     cancelled, progress: 0..100, current_step, steps_done: [...], options, engine,
     result: {...} | None, error: {code, message} | None, created_at, updated_at,
     started_at, finished_at, cancel_requested_at, stopped_at, attempts, timings: {step: ms},
     notes: [...]}

Files (``put``/``get``) are blobs named ``{job_id}/{name}``: the photo and each step's
checkpoint (deleted when the job ends) and the results (kept: ``model.glb``, ``model.vrm``,
``thumbnail.png``, ``style.png``).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the store is the server's long-term store (realtime.store.base), any of them
    from realtime.store.base import LongTermStore

Doc = dict[str, Any]

ACTIVE = ("queued", "processing")
FINAL = ("completed", "failed", "cancelled")
RESULTS = ("model.glb", "model.vrm", "thumbnail.png", "style.png")
INTERMEDIATES = ("photo", "face.json", "styled.png", "avatar", "gpu3d.glb")


def new_id() -> str:
    return uuid.uuid4().hex


class Jobs:
    def __init__(self, store: "LongTermStore") -> None:
        self.store = store

    async def create(self, kind: str, user_id: str, options: dict, **fields) -> Doc:
        now = time.time()
        doc = {"_id": fields.pop("_id", None) or new_id(), "kind": kind, "user_id": user_id,
               "status": "queued", "progress": 0, "current_step": None, "steps_done": [],
               "options": options, "result": None, "error": None, "created_at": now,
               "updated_at": now, "started_at": None, "finished_at": None, "attempts": 0,
               "timings": {}, "notes": [], **fields}
        await self.store.put_job(doc)
        return doc

    async def get(self, job_id: str) -> Doc | None:
        return await self.store.get_job(job_id)

    async def update(self, job_id: str, statuses: tuple[str, ...] | None = ACTIVE,
                     **fields) -> bool:
        """Set fields while the job is in one of ``statuses`` (default: still active, so a
        cancelled job is never overwritten by late work)."""
        fields["updated_at"] = time.time()
        return await self.store.update_job(job_id, fields, list(statuses) if statuses else None)

    async def list(self, user_id: str, kind: str, limit: int, before: float | None) -> list[Doc]:
        return await self.store.list_jobs(user_id, kind, limit, before)

    async def unfinished(self) -> list[Doc]:
        return await self.store.unfinished_jobs()

    async def put(self, job_id: str, name: str, data: bytes) -> None:
        await self.store.put_blob(f"{job_id}/{name}", data)

    async def get_file(self, job_id: str, name: str) -> bytes | None:
        return await self.store.get_blob(f"{job_id}/{name}")

    async def drop_intermediates(self, job_id: str) -> int:
        return await self.store.delete_blobs([f"{job_id}/{n}" for n in INTERMEDIATES])


def public(doc: Doc) -> dict:
    """The status as the API shows it (the seeds' fields first)."""
    jid = doc["_id"]
    base = "/api/generate" if doc["kind"] == "generate" else "/api/style"
    result = doc.get("result") or {}
    return {
        "job_id": jid, "kind": doc["kind"], "status": doc["status"],
        "progress": int(doc.get("progress") or 0), "current_step": doc.get("current_step"),
        "result_url": result.get("url"), "error": doc.get("error"),
        "status_url": f"{base}/status/{jid}", "steps_done": doc.get("steps_done", []),
        "options": doc.get("options", {}), "engine": doc.get("engine"),
        "result": result or None, "notes": doc.get("notes", []),
        "created_at": doc.get("created_at"), "updated_at": doc.get("updated_at"),
        "finished_at": doc.get("finished_at"),
        # cancelled while running: how long after the cancel the worker had stopped
        "stopped_ms": round((doc["stopped_at"] - doc["cancel_requested_at"]) * 1000.0, 1)
        if doc.get("stopped_at") and doc.get("cancel_requested_at") else None,
        "timings": doc.get("timings", {}),
    }
