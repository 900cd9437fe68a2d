"""Live turns first: background LLM work (summaries) never sits in front of a turn's first token.

A single-slot server (the embedded llama.cpp, a one-GPU llama.cpp) serves one request at a time,
so a summary that is running when a turn arrives delays the turn by its whole remaining time.
:class:`LLMScheduler` wraps the LLM. Live streams (:meth:`LLMScheduler.stream`, what the turn
engine uses) go straight through. Background streams (:meth:`LLMScheduler.background`) follow
``AVATAR_LLM_BACKGROUND``:

* ``preempt`` (default): a background request starts only while no live stream runs, and a
  live stream that starts meanwhile **cancels it at once** (the HTTP stream is closed, so the
  server frees its slot within a token). The background request is made again, from the start,
  once the server is free; its caller sees only the finished text. A job whose result a turn is
  waiting for (a prompt over budget needs its summary) is marked ``urgent``: it no longer waits
  and can no longer be preempted.
* ``priority``: sent at once with ``priority: 1`` (vLLM started with
  ``--scheduling-policy priority`` serves live requests, priority 0, first; other servers reject
  the field).
* ``concurrent``: sent at once, as before (a server with parallel slots).
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import aclosing
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

from realtime.engines.llm.base import LLM, ChatRequest, StreamStats, WrappedLLM

log = logging.getLogger(__name__)
POLICIES = ("preempt", "priority", "concurrent")
BACKGROUND_PRIORITY = 1  # vLLM: lower values are served first; live requests carry 0


class BackgroundJob:
    """One piece of background work (e.g. a conversation's summary), possibly several requests."""

    def __init__(self, scheduler: LLMScheduler) -> None:
        self.scheduler = scheduler
        self.urgent = False
        self.preemptions = 0
        self._wake = asyncio.Event()

    def promote(self) -> None:
        """A live turn now waits for this job: run it now, and never preempt it."""
        self.urgent = True
        self._wake.set()

    def stream(self, request: ChatRequest, stats: StreamStats) -> AsyncIterator[str]:
        return self.scheduler._background_stream(self, request, stats)


class LLMScheduler(WrappedLLM):
    """The LLM seam, with live streams first (see the module docstring)."""

    name = "scheduler"

    def __init__(self, inner: LLM, policy: str = "preempt", metrics=None) -> None:
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}")
        super().__init__(inner)
        self.policy = policy
        self.metrics = metrics
        self._live = 0
        self._running: dict[asyncio.Task, BackgroundJob] = {}  # background requests in flight
        self._jobs: set[BackgroundJob] = set()  # waiting for the server to be free
        self.preemptions = 0

    @property
    def live(self) -> int:
        """Live streams running now."""
        return self._live

    @property
    def busy_in_background(self) -> bool:
        return bool(self._running)

    def background(self) -> BackgroundJob:
        return BackgroundJob(self)

    # ------------------------------------------------------------------ live
    def stream(self, request: ChatRequest, stats: StreamStats) -> AsyncIterator[str]:
        return self._live_stream(request, stats)

    async def _live_stream(self, request: ChatRequest, stats: StreamStats) -> AsyncIterator[str]:
        self._live += 1
        if self.policy == "preempt":
            for task, job in list(self._running.items()):
                if not job.urgent:
                    job.preemptions += 1
                    self.preemptions += 1
                    if self.metrics is not None:
                        self.metrics.llm_preemptions.inc()
                    task.cancel()
        try:
            async with aclosing(self.inner.stream(request, stats)) as stream:
                async for delta in stream:
                    yield delta
        finally:
            self._live -= 1
            if self._live == 0:
                for job in list(self._jobs):
                    job._wake.set()

    # ------------------------------------------------------------------ background
    async def _background_stream(self, job: BackgroundJob, request: ChatRequest,
                                 stats: StreamStats) -> AsyncIterator[str]:
        if self.policy == "priority":
            request = replace(request, priority=BACKGROUND_PRIORITY)
        if self.policy != "preempt":
            async with aclosing(self.inner.stream(request, stats)) as stream:
                async for delta in stream:
                    yield delta
            return
        while True:
            await self._wait_turn(job)
            run = asyncio.create_task(self._collect(request))
            self._running[run] = job
            if self.metrics is not None:
                self.metrics.llm_background.set(len(self._running))
            try:
                parts, got = await asyncio.shield(run)
            except asyncio.CancelledError:
                if asyncio.current_task().cancelling():  # our caller is cancelled (perhaps
                    # in the same loop turn as the request was preempted: ask the caller, not
                    # the request, or the caller's cancellation is swallowed)
                    run.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await run
                    raise
                log.debug("background LLM request preempted by a live turn; again later")
                continue
            finally:
                self._running.pop(run, None)
                if self.metrics is not None:
                    self.metrics.llm_background.set(len(self._running))
            stats.prompt_tokens = got.prompt_tokens
            stats.completion_tokens = got.completion_tokens
            stats.finish_reason = got.finish_reason
            if parts:
                yield "".join(parts)
            return

    async def _wait_turn(self, job: BackgroundJob) -> None:
        """Until no live stream runs (or a turn waits for this job)."""
        self._jobs.add(job)
        try:
            while self._live and not job.urgent:
                job._wake.clear()
                await job._wake.wait()
        finally:
            self._jobs.discard(job)

    async def _collect(self, request: ChatRequest) -> tuple[list[str], StreamStats]:
        stats = StreamStats()
        async with aclosing(self.inner.stream(request, stats)) as stream:
            parts = [delta async for delta in stream]
        return parts, stats
