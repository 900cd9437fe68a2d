"""The CPU half of the jobs runs in processes of their own at the lowest priority (nice 19): the
conversation's threads (Whisper, TTS, the event loop) come first, and no job step ever holds the
server's GIL.

Each job holds a :class:`CpuSlot` (one process) while it runs; uploads are checked in a slot of
their own, so a ``POST`` never waits behind a running job. Cancelling a job kills its slot's
process if a step is in flight (the work stops at once, not at the end of the step) and starts a
fresh one, warmed in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

log = logging.getLogger(__name__)


def _init(nice: int, parent: int) -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging: warnings off
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        os.nice(nice)
    except OSError:  # not allowed: run at the normal priority
        pass
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    """A pool's worker holds both ends of its task pipe, so it never sees its server die: it
    would wait for work forever (each one holds MediaPipe, ~180 MB). Leave when the parent has."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _warm() -> bool:
    from avatar_engine.photo import landmarks
    from avatar_engine.template import Spec, make  # noqa: F401 - imports are the warm-up

    landmarks.warm_up()
    return True


def _processes(pool: ProcessPoolExecutor) -> list:
    """The pool's worker processes (CPython's executor internals)."""
    return list(getattr(pool, "_processes", {}).values())


class CpuSlot:
    """One process (a process pool of one) that can be killed and replaced."""

    def __init__(self, nice: int, name: str) -> None:
        self.nice, self.name = nice, name
        self._pool: ProcessPoolExecutor | None = None
        self.warm: asyncio.Future | None = None
        self.kills = 0

    def _start(self) -> None:
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init, initargs=(self.nice, os.getpid()))
        self.warm = asyncio.get_running_loop().run_in_executor(self._pool, _warm)
        self.warm.add_done_callback(lambda f: f.cancelled() or f.exception())

    def submit(self, fn, *args) -> asyncio.Future:
        """``fn(*args)`` in the process (plain data in and out). The future runs to its end even
        if whoever awaits it is cancelled (see :meth:`kill`)."""
        if self._pool is None:
            self._start()
        loop = asyncio.get_running_loop()
        try:
            return loop.run_in_executor(self._pool, fn, *args)
        except BrokenProcessPool:
            log.error("job process %s died; starting another", self.name)
            self._start()
            return loop.run_in_executor(self._pool, fn, *args)

    async def run(self, fn, *args):
        return await asyncio.shield(self.submit(fn, *args))

    async def kill(self) -> None:
        """Stop whatever the process is doing now (SIGKILL) and start a fresh one."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = _processes(pool)
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.kill()  # (a paused one too: SIGKILL needs no SIGCONT)
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            await asyncio.to_thread(proc.join, 5)
        self.kills += 1
        self._start()

    def pids(self) -> list[int]:
        pool = self._pool
        return [p.pid for p in _processes(pool)] if pool else []

    def signal(self, sig: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def close(self) -> None:
        if self._pool is not None:
            self.signal(signal.SIGCONT)  # a paused process could not take its sentinel
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class CpuPool:
    def __init__(self, workers: int = 1, nice: int = 19) -> None:
        self.slots = [CpuSlot(nice, f"job-{i}") for i in range(workers)]
        self.uploads = CpuSlot(nice, "uploads")
        self.paused = False
        self._free: asyncio.Queue[CpuSlot] | None = None

    async def start(self) -> None:
        if self._free is not None:  # started
            return
        self._free = asyncio.Queue()
        for slot in [*self.slots, self.uploads]:
            slot._start()
        for slot in self.slots:
            self._free.put_nowait(slot)

    def pause(self, paused: bool) -> None:
        """Stop (SIGSTOP) or continue (SIGCONT) every job process: live conversation is being
        served (realtime.pipeline.live.LiveWork). A step in flight simply takes longer. Upload
        checks go on (short, and a person is waiting for their answer)."""
        self.paused = paused
        for slot in self.slots:
            slot.signal(signal.SIGSTOP if paused else signal.SIGCONT)

    @property
    def warm(self) -> asyncio.Future:
        return asyncio.gather(*(s.warm for s in [*self.slots, self.uploads]),
                              return_exceptions=True)

    async def run(self, fn, *args):
        """An upload's check (``validate``, ``detect``)."""
        return await self.uploads.run(fn, *args)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[CpuSlot]:
        if self._free is None:
            await self.start()
        slot = await self._free.get()
        try:
            yield slot
        finally:
            self._free.put_nowait(slot)

    async def aclose(self) -> None:
        for slot in [*self.slots, self.uploads]:
            slot.close()
