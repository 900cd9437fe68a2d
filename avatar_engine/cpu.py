"""The CPU half of the jobs runs in a process of its own at the lowest priority (nice 19): the
conversation's threads (Whisper, TTS, the event loop) always come first, and no job step ever
holds this process's GIL. Steps are short (tens to hundreds of milliseconds), so a cancelled
job stops at the end of the step in flight."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

log = logging.getLogger(__name__)


def _init(nice: int) -> None:
    try:
        os.nice(nice)
    except OSError:  # not allowed: run at the normal priority
        pass


def _warm() -> bool:
    from avatar_engine.photo import landmarks
    from avatar_engine.template import make, Spec  # noqa: F401 - imports are the warm-up

    landmarks.warm_up()
    return True


class CpuPool:
    def __init__(self, workers: int = 1, nice: int = 19) -> None:
        self.workers, self.nice = workers, nice
        self._pool: ProcessPoolExecutor | None = None
        self.warm: asyncio.Future | None = None

    def _make(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init, initargs=(self.nice,))

    async def start(self) -> None:
        self._pool = self._make()
        loop = asyncio.get_running_loop()
        self.warm = asyncio.gather(*(loop.run_in_executor(self._pool, _warm)
                                     for _ in range(self.workers)), return_exceptions=True)

    def submit(self, fn, *args) -> asyncio.Future:
        """``fn(*args)`` in the pool (``fn`` and its arguments must pickle: plain data). The
        future runs to its end even if whoever awaits it is cancelled."""
        loop = asyncio.get_running_loop()
        if self._pool is None:
            self._pool = self._make()
        try:
            return loop.run_in_executor(self._pool, fn, *args)
        except BrokenProcessPool:
            log.error("the job CPU process died; starting another")
            self._pool = self._make()
            return loop.run_in_executor(self._pool, fn, *args)

    async def run(self, fn, *args):
        return await asyncio.shield(self.submit(fn, *args))

    async def aclose(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
