"""The server's side of avatar jobs: an :class:`avatar_engine.service.AvatarJobs` on the app's
long-term store and GPU client (and, unless ``AVATAR_AVATAR_WORKER=external``, a worker in this
process), and ``job.progress`` / ``job.done`` pushed to the owner's ``/ws`` sessions -- events
from any worker process reach every server through Redis."""

from __future__ import annotations

import contextlib
import logging

from avatar_engine.service import AvatarJobs
from realtime.protocol.messages import JobDone, JobProgress
from realtime.sinks import WebSocketSink

log = logging.getLogger(__name__)


async def start_avatar_jobs(settings, services) -> AvatarJobs:
    inprocess = settings.avatar_worker == "inprocess"
    if not inprocess and not settings.redis_url:
        log.error("AVATAR_AVATAR_WORKER=external needs AVATAR_REDIS_URL (the queue the worker "
                  "processes share); running avatar jobs in this process instead")
        inprocess = True
    jobs = AvatarJobs(settings, services.memory.long, services.gpu, worker=inprocess)
    try:
        await jobs.start()
    except Exception as exc:  # noqa: BLE001 - conversation goes on without avatar jobs
        log.error("avatar jobs could not start: %s", exc)
    jobs.events.subscribe(lambda ev: push(services, ev))
    if inprocess:  # its job processes share this machine's cores with the conversation
        services.live.subscribe(jobs.live)
    return jobs


async def push(services, ev: dict) -> None:
    kind = ev.get("type")
    if kind not in ("job.progress", "job.done"):
        return
    fields = {k: ev.get(k) for k in ("job_id", "kind", "status", "progress", "current_step")}
    msg = JobProgress(**fields) if kind == "job.progress" else JobDone(
        **fields, result_url=ev.get("result_url"), error=ev.get("error"))
    for session in list(services.sessions):
        if session.user_id == ev.get("user_id") and isinstance(session.sink, WebSocketSink):
            with contextlib.suppress(Exception):  # a socket closing meanwhile
                await session.sink.json(msg)
