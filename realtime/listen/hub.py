"""One Silero model for every session: the audio of all sessions runs in shared batches.

A session's :class:`~realtime.listen.mic.MicInput` queues frames and calls :meth:`VadHub.submit`.
One drain task per hub takes every submitted session's queued audio, splits it into windows, runs
the model for all of them in **one** worker-thread call (one ``session.run`` per window round, see
:func:`~realtime.listen.vad.batch_probs`), then runs each session's state machine and hands it the
result (``vad_done``). While a batch is in the model, new frames queue up for the next one, so
the batch grows with the load and the cost per session falls.

Only the model (and the few numpy calls around it) runs in the worker thread, where onnxruntime
releases the GIL; the Python state machines stay on the event loop, so the threads seldom wait
for each other. No task wakes per frame: at 100+ sessions the event loop (WebSocket framing,
then this) and the model (about 0.1 ms per 32 ms window) each need about half a core.

A client is anything with ``vad`` (a StreamingVad on this hub's model), ``take_audio() ->
(pcm16k, [receipt times]) | None``, ``vad_done(events, pcm, receipt times)`` and
``vad_failed(exc)``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from realtime.listen.silero import SileroModel, batch_probs
from realtime.listen.vad import ingest_many, process_many

log = logging.getLogger(__name__)


class VadHub:
    def __init__(self, model: SileroModel, observe_lag=None,
                 min_interval_s: float = 0.004) -> None:
        self.model = model
        # a batch starts at most this often: under load, batches gather more sessions (one
        # onnxruntime call has a fixed cost of its own); an idle hub starts one at once
        self.min_interval_s = min_interval_s
        self._observe_lag = observe_lag  # callable(array of seconds, one per frame), or None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vad")
        self._ready: dict[int, object] = {}  # insertion-ordered set of clients with work
        self._task: asyncio.Task | None = None

    def submit(self, client) -> None:
        """``client`` has queued audio or a control message; the drain task will take it."""
        self._ready[id(client)] = client
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="vad-hub")

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        last = 0.0
        while self._ready:
            wait = last + self.min_interval_s - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            last = time.perf_counter()
            clients = list(self._ready.values())
            self._ready.clear()
            items = []
            for client in clients:
                try:
                    taken = client.take_audio()
                except Exception:  # noqa: BLE001 - one session's bug must not stop the others
                    log.exception("VAD client failed")
                    continue
                if taken is not None:
                    items.append((client, *taken))
            if not items:
                continue
            vads = [client.vad for client, _, _ in items]
            try:
                wins = ingest_many([(v, pcm) for v, (_, pcm, _) in zip(vads, items, strict=True)])
                if any(len(w) for w in wins):
                    probs = await loop.run_in_executor(
                        self._pool, batch_probs, self.model, [v.state for v in vads], wins)
                else:
                    probs = [np.zeros(0, np.float32) for _ in wins]
                results = process_many(vads, wins, probs)
            except Exception as exc:  # noqa: BLE001 - handed to every session in the batch
                log.exception("VAD batch failed")
                for client, _, _ in items:
                    client.vad_failed(exc)
                continue
            if self._observe_lag is not None:
                received_all = [t for _, _, received in items for t in received]
                self._observe_lag(time.perf_counter() - np.array(received_all))
            for (client, pcm, received), events in zip(items, results, strict=True):
                try:
                    client.vad_done(events, pcm, received)
                except Exception:  # noqa: BLE001
                    log.exception("VAD client failed")

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
