"""realtime/heap.py: free heap pages go back to the system when live work goes idle, never while
it is busy, at most every interval; and glibc's malloc_trim really shrinks a process."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util

import numpy as np

from realtime.heap import HeapTrimmer, malloc_trim
from realtime.pipeline.live import LiveWork


def _rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _clocked(window_s: float) -> tuple[list[float], LiveWork, list[float], dict]:
    """A fake clock, LiveWork on it, the times trim ran, and HeapTrimmer's keywords for it."""
    now = [100.0]
    live = LiveWork(window_s=window_s, clock=lambda: now[0])
    calls: list[float] = []

    def trim() -> bool:
        calls.append(now[0])
        return True

    return now, live, calls, {"min_interval_s": 10.0, "trim": trim, "clock": lambda: now[0]}


async def test_trims_when_live_work_goes_idle_not_while_busy():
    now, live, calls, kw = _clocked(window_s=1.0)
    seen: list[float] = []
    heap = HeapTrimmer(live.subscribe, observe=seen.append, **kw)
    await heap.start()
    assert calls == [100.0] and heap.trims == 1 and len(seen) == 1  # after the warm-up

    now[0] = 120.0
    with live.hold():  # a turn: busy, no trim
        await asyncio.sleep(0.01)
        assert calls == [100.0]
    await asyncio.sleep(0.01)  # the turn ended: idle
    assert calls == [100.0, 120.0]

    now[0] = 125.0  # idle again within the interval: not yet
    with live.hold():
        pass
    await asyncio.sleep(0.01)
    assert calls == [100.0, 120.0]

    now[0] = 131.0
    live.poke("speech_started")  # busy until 132
    await asyncio.sleep(0.01)
    assert calls == [100.0, 120.0]
    now[0] = 133.0
    live._update()  # (the window's timer, on this fake clock)
    await asyncio.sleep(0.01)
    assert calls == [100.0, 120.0, 133.0]
    await heap.aclose()
    now[0] = 200.0
    with live.hold():
        pass
    await asyncio.sleep(0.01)
    assert len(calls) == 3  # unsubscribed


async def test_trims_when_a_turn_ends_while_the_user_listens():
    """In a continuous conversation live signals keep live work busy between turns (the user
    listens, then speaks again): the heap is trimmed as each turn ends, at most every interval,
    never while a turn is in progress."""
    now, live, calls, kw = _clocked(window_s=8.0)
    heap = HeapTrimmer(live.subscribe, turn_ends=live.subscribe_turn_ends, **kw)
    await heap.start()
    now[0] = 120.0
    live.poke("speech_started")  # busy until 128
    with live.hold():
        with live.hold():  # two turns at once (two sessions)
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
        assert calls == [100.0]  # one turn still in progress
    await asyncio.sleep(0.01)
    assert live.busy and calls == [100.0, 120.0]  # the last turn ended, still "busy"
    now[0] = 125.0
    with live.hold():
        pass
    await asyncio.sleep(0.01)
    assert calls == [100.0, 120.0]  # within the interval
    now[0] = 131.0
    live.poke("speech_started")
    with live.hold():
        pass
    await asyncio.sleep(0.01)
    assert calls == [100.0, 120.0, 131.0]
    await heap.aclose()
    now[0] = 150.0
    with live.hold():
        pass
    await asyncio.sleep(0.01)
    assert len(calls) == 3  # unsubscribed


async def test_a_failing_trim_is_logged_not_raised(caplog):
    live = LiveWork()

    def broken() -> bool:
        raise OSError("no libc")

    heap = HeapTrimmer(live.subscribe, trim=broken)
    await heap.start()
    assert heap.trims == 0 and "malloc_trim failed" in caplog.text
    await heap.aclose()


def test_malloc_trim_gives_freed_heap_pages_back():
    """200 MB of small blocks (below the mmap threshold: in the heap), all freed but the last,
    which pins the top so the heap cannot simply shrink: only malloc_trim returns the pages."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    base = _rss_mb()
    blocks = []
    for _ in range(200_000):
        p = libc.malloc(1000)
        libc.memset(p, 1, 1000)  # touched: resident
        blocks.append(p)
    grown = _rss_mb()
    assert grown - base > 150
    for p in blocks[:-1]:
        libc.free(p)
    freed = _rss_mb()
    assert malloc_trim() is True
    trimmed = _rss_mb()
    libc.free(blocks[-1])
    assert freed - trimmed > 150, (base, grown, freed, trimmed)


async def test_piper_gives_its_arena_back_and_still_speaks():
    """onnxruntime keeps Piper's arena at the largest sentence's working set. A long chunk is
    synthesized with the arena shrunk after each run, so it leaves little behind; the same text
    run without that keeps far more, and release_memory (called while nobody talks) gives
    that back. The next sentence is unchanged."""
    from realtime.engines.tts.piper_engine import SHRINK_ABOVE_CHARS, PiperEngine, \
        ensure_aligned_voice
    from tests.conftest import REPO

    engine = PiperEngine(ensure_aligned_voice(REPO / "var" / "models"))
    await engine.start()
    try:
        long = ("Well, I think that the best thing to do this weekend would be to go hiking in "
                "the mountains, where the air is fresh and the views are beautiful, and then "
                "have a long picnic by the lake with all of our friends and family.")
        assert len(long) > SHRINK_ABOVE_CHARS

        async def say(text: str) -> bytes:
            return b"".join([c.pcm.tobytes() async for c in
                             engine.synthesize(text, language="en")])

        def rss() -> float:
            malloc_trim()
            return _rss_mb()

        before = await say("Hello there.")
        for _ in range(2):
            await say(long)
        shrunk = rss()
        for _ in range(2):  # the same text, the arena kept (Piper's own call, no shrinkage)
            await asyncio.to_thread(lambda: list(engine._voice.synthesize(long)))  # noqa: SLF001
        grown = rss()
        await asyncio.to_thread(engine.release_memory)
        released = rss()
        assert grown - shrunk > 60 and grown - released > 60, (shrunk, grown, released)
        after = np.frombuffer(await say("Hello there."), np.int16)  # still speaks
        ref = np.frombuffer(before, np.int16)
        assert abs(len(after) - len(ref)) < 0.2 * len(ref)  # (VITS noise: not bit-exact)
        assert np.abs(after).max() > 1000
    finally:
        await engine.aclose()
