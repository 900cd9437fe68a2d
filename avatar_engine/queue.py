"""Where jobs wait for a worker.

* :class:`LocalQueue` (no Redis): an asyncio queue and in-process workers. Jobs survive a
  restart in the long-term store; the service puts the unfinished ones back at start.
* :class:`SaqQueue` (``AVATAR_REDIS_URL`` set): SAQ, a well-kept asyncio job queue on Redis
  (MIT). Several worker processes (``python -m avatar_engine.worker``, and the server itself
  unless ``AVATAR_AVATAR_WORKER=external``) share the queue; a worker that dies mid-job stops
  beating its heart and SAQ's sweep hands the job to another worker, which resumes it from its
  last checkpoint; ``abort`` stops a job wherever it runs (a worker checks every 100 ms; the
  ``job.cancel`` event is faster still).

Why SAQ rather than arq: SAQ keeps being released (arq is in maintenance), aborts running jobs
across processes, sweeps jobs whose worker died (heartbeats), and leaves the Redis client to us
(arq pins ``redis<6``; the project runs redis 8).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
Execute = Callable[[str], Awaitable[None]]


class LocalQueue:
    kind = "in-process"

    def __init__(self, concurrency: int = 1) -> None:
        self.concurrency = concurrency
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []

    async def start(self, execute: Execute | None) -> None:
        if execute is None:
            return

        async def loop() -> None:
            while True:
                job_id = await self._queue.get()
                try:
                    await execute(job_id)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - the next job still runs
                    log.exception("avatar job %s", job_id)

        self._tasks = [asyncio.create_task(loop(), name=f"avatar-worker-{i}")
                       for i in range(self.concurrency)]

    async def enqueue(self, job_id: str) -> None:
        self._queue.put_nowait(job_id)

    async def abort(self, job_id: str) -> None:
        return None  # the job.cancel event reaches the worker running it

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class SaqQueue:
    kind = "redis (saq)"
    FUNCTION = "run_avatar_job"

    def __init__(self, url: str, name: str, concurrency: int = 1, heartbeat_s: float = 30.0,
                 handle_signals: bool = False) -> None:
        from saq import Queue

        self.queue = Queue.from_url(url, name=name)
        self.concurrency = concurrency
        self.heartbeat_s = max(1, int(round(heartbeat_s)))
        self.handle_signals = handle_signals
        self.worker = None
        self._task: asyncio.Task | None = None

    async def start(self, execute: Execute | None) -> None:
        await self.queue.connect()
        if execute is None:
            return
        from saq import Worker

        async def run_avatar_job(ctx, *, job_id: str) -> None:
            beat = asyncio.create_task(self._heartbeat(ctx["job"]))
            try:
                await execute(job_id)
            finally:
                beat.cancel()

        self.worker = Worker(self.queue, [(self.FUNCTION, run_avatar_job)],
                             concurrency=self.concurrency,
                             timers={"abort": 0.1, "sweep": max(1, self.heartbeat_s // 2),
                                     "schedule": 1, "worker_info": 10},
                             cancellation_hard_deadline_s=10.0)
        if not self.handle_signals:
            self.worker.SIGNALS = []  # the server (uvicorn) owns the signals
        self._task = asyncio.create_task(self.worker.start(), name="avatar-saq-worker")

    async def _heartbeat(self, job) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s / 3)
            with contextlib.suppress(Exception):
                await job.update()

    async def enqueue(self, job_id: str) -> None:
        await self.queue.enqueue(self.FUNCTION, key=job_id, job_id=job_id, timeout=0,
                                 heartbeat=self.heartbeat_s, retries=20, ttl=3600)

    async def abort(self, job_id: str) -> None:
        job = await self.queue.job(job_id)
        if job is not None and job.status in ("queued", "active"):
            await self.queue.abort(job, "cancelled")

    async def run_forever(self) -> None:
        if self._task is not None:
            await self._task

    async def aclose(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.queue.disconnect()
