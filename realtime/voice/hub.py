"""One Silero model for every session: frames from all sessions are run in shared batches.

Each session's voice task calls :meth:`VadHub.feed` with the audio it has gathered and awaits the
events. While a batch runs in the hub's worker thread, the next sessions' audio queues up; when it
finishes, everything queued goes into one :func:`~realtime.voice.vad.feed_many` call (one model
run per 32 ms window round for all of them). So the event loop never runs the model, and the cost
per session falls as sessions are added. A session has at most one feed in flight (it awaits it),
which is what ``feed_many`` requires.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from realtime.voice.vad import SileroModel, StreamingVad, Utterance, VadEvent, feed_many


class VadHub:
    def __init__(self, model: SileroModel, observe_lag=None) -> None:
        self.model = model
        self._observe_lag = observe_lag  # callable(seconds) per received frame, or None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vad")
        self._pending: list[tuple[StreamingVad, np.ndarray, list[float], asyncio.Future]] = []
        self._task: asyncio.Task | None = None
        self.batches = 0
        self.fed = 0

    async def feed(self, vad: StreamingVad, pcm: np.ndarray,
                   received: list[float] | None = None) -> list[VadEvent | Utterance]:
        """Run ``pcm`` (16 kHz) through ``vad``; ``received``: perf_counter of each frame in it."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._pending.append((vad, pcm, received or [], fut))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain(), name="vad-hub")
        return await fut

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            live = [b for b in batch if not b[3].done()]  # a cancelled session's feed is dropped
            if not live:
                continue
            try:
                results = await loop.run_in_executor(
                    self._pool, feed_many, [(vad, pcm) for vad, pcm, _, _ in live])
            except Exception as exc:  # noqa: BLE001 - handed to every waiter
                for *_, fut in live:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.batches += 1
            self.fed += len(live)
            now = time.perf_counter()
            for (_, _, received, fut), events in zip(live, results, strict=True):
                if self._observe_lag is not None:
                    for t in received:
                        self._observe_lag(now - t)
                if not fut.done():
                    fut.set_result(events)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
