"""The server process's C heap (glibc malloc): few arenas, and free pages handed back to the
system while nobody is talking.

Whisper, Piper, the VAD and numpy allocate and free tens of MB per turn from worker threads.
glibc keeps what was freed inside the heap for later, so the process's resident memory is the
high-water mark of every arena, not what is in use: over 60 typed turns, ``malloc_trim`` at
idle moments kept the server process ~70 MB (12 %) smaller (543 vs 612 MB at turn 60). Trimming
walks the free lists under the arena's lock, so it runs only when no turn is in progress: when
live work goes idle (:class:`realtime.pipeline.live.LiveWork` says so) and when the last turn
in progress ends (in a continuous conversation live signals keep live work busy while the user
listens to the answer: without this, 100 voice turns grew the server from 941 to 1002 MB by
medians), in a worker thread, at most every ``min_interval_s``, after the engines have given
back what they cache between runs (Piper's onnxruntime arena: ``TTSEngine.release_memory``).
Not glibc (musl, macOS): no trim.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

M_ARENA_MAX = -8


@functools.cache
def _libc():  # (find_library runs ldconfig: once)
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def limit_malloc_arenas(n: int = 2) -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per core); with the
    server's worker threads (Whisper, Piper, VAD, to_thread) freed memory stays scattered over
    them and RSS creeps up under load. Two arenas keep it flat (as MALLOC_ARENA_MAX=2 would,
    for the arenas made from now on)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_ARENA_MAX, n)


def malloc_trim() -> bool:
    """Give free heap pages back to the system (glibc ``malloc_trim(0)``); False: not glibc."""
    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return False
    libc.malloc_trim(0)
    return True


class HeapTrimmer:
    """Trims the heap each time live work goes idle or the last turn ends (and once at start,
    after the warm-up), no more often than every ``min_interval_s``. ``subscribe`` is
    ``LiveWork.subscribe``, ``turn_ends`` ``LiveWork.subscribe_turn_ends``."""

    def __init__(self, subscribe: Callable[[Callable[[bool], None]], Callable[[], None]], *,
                 turn_ends: Callable[[Callable[[], None]], Callable[[], None]] | None = None,
                 min_interval_s: float = 10.0, trim: Callable[[], bool] = malloc_trim,
                 release: list[Callable[[], None]] | None = None,
                 observe: Callable[[float], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._subscribe, self._trim, self._observe = subscribe, trim, observe
        self._turn_ends = turn_ends
        self._release = release or []  # caches given back first (Piper's arena), blocking
        self.min_interval_s, self.clock = min_interval_s, clock
        self._unsubscribers: list[Callable[[], None]] = []
        self._task: asyncio.Task | None = None
        self._last = float("-inf")
        self.trims = 0

    async def start(self) -> None:
        self._unsubscribers.append(self._subscribe(self._on_live))
        if self._turn_ends is not None:
            self._unsubscribers.append(self._turn_ends(self._kick))
        await self._run()

    async def aclose(self) -> None:
        while self._unsubscribers:
            self._unsubscribers.pop()()
        if self._task is not None:
            await asyncio.wait([self._task])  # (a trim cannot be stopped half-way)

    def _on_live(self, busy: bool) -> None:
        if not busy:
            self._kick()

    def _kick(self) -> None:
        if self._task is not None and not self._task.done():
            return
        if self.clock() - self._last < self.min_interval_s:
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="heap-trim")

    def _release_and_trim(self) -> bool:
        for release in self._release:
            try:
                release()
            except Exception:  # noqa: BLE001 - the heap is still trimmed
                log.exception("releasing cached memory failed")
        return self._trim()

    async def _run(self) -> None:
        self._last = self.clock()
        t0 = time.perf_counter()
        try:
            done = await asyncio.to_thread(self._release_and_trim)
        except Exception:  # noqa: BLE001 - memory housekeeping never breaks the server
            log.exception("malloc_trim failed")
            return
        if done:
            self.trims += 1
            took = time.perf_counter() - t0
            if self._observe is not None:
                self._observe(took)
            log.debug("heap trimmed in %.1f ms", took * 1000)
