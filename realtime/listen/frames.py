"""Admission of binary microphone frames, before anything listens to them.

Checks (each a coded :class:`~realtime.errors.ProtocolError`; the session goes on): PCM16LE, so
an even number of bytes; 10-100 ms at the session's input rate (``AUDIO_FRAME_TOO_LARGE`` above);
not a JSON message sent as binary. Then a leaky bucket: a client may run at most
``voice_max_ahead_ms`` ahead of real time, and no more than that may wait unprocessed; frames
over it are dropped with ``AUDIO_OVERRUN``, reported once per episode. Accepted frames become
float32 at 16 kHz (24/48 kHz resampled with soxr, one stream per session).
"""

from __future__ import annotations

import numpy as np
import orjson
import soxr

from realtime.errors import ProtocolError
from realtime.listen.silero import SAMPLE_RATE
from realtime.pipeline.audio import pcm16_to_float

MIN_FRAME_MS = 10.0
MAX_FRAME_MS = 100.0


class FrameGate:
    """One session's microphone frames: validated, metered, converted."""

    def __init__(self, rate: int, max_ahead_ms: float, metrics=None) -> None:
        self._rate = rate
        self.max_ahead_ms = max_ahead_ms
        self.metrics = metrics
        self._resampler: soxr.ResampleStream | None = None
        self._ahead_ms = 0.0
        self._last_arrival: float | None = None
        self.queued_ms = 0.0  # accepted, not yet taken by the VAD (the taker subtracts)
        self._overrun = False  # an overrun episode is in progress (reported once)
        self.received_ms = 0.0
        self.dropped_frames = 0

    @property
    def rate(self) -> int:
        return self._rate

    @rate.setter
    def rate(self, rate: int) -> None:
        if rate != self._rate:
            self._rate = rate
            self._resampler = None  # the next frame starts a fresh stream at the new rate

    def admit(self, data: bytes, now: float) -> tuple[np.ndarray, float] | None:
        """-> (16 kHz float32 samples, the frame's ms), or None: dropped (an overrun already
        reported). Raises :class:`ProtocolError`."""
        n_bytes = len(data)
        if n_bytes % 2:
            raise ProtocolError("INVALID_AUDIO_FRAME",
                                f"PCM16LE frames have an even number of bytes, got {n_bytes}")
        rate = self._rate
        ms = n_bytes / 2 * 1000.0 / rate
        if ms > MAX_FRAME_MS + 1e-6:
            raise ProtocolError(
                "AUDIO_FRAME_TOO_LARGE",
                f"{ms:.0f} ms frame at {rate} Hz: frames are {MIN_FRAME_MS:.0f}-"
                f"{MAX_FRAME_MS:.0f} ms (at most {int(rate * MAX_FRAME_MS / 1000) * 2} bytes)")
        if ms < MIN_FRAME_MS - 1e-6:
            raise ProtocolError(
                "INVALID_AUDIO_FRAME",
                f"{ms:.1f} ms frame at {rate} Hz: frames are {MIN_FRAME_MS:.0f}-"
                f"{MAX_FRAME_MS:.0f} ms (at least {int(rate * MIN_FRAME_MS / 1000) * 2} bytes)")
        if data[:1] == b"{" and _is_json(data):
            raise ProtocolError("INVALID_AUDIO_FRAME",
                                "a JSON message arrived as a binary frame; send it as text")
        if self._last_arrival is not None:
            self._ahead_ms = max(0.0, self._ahead_ms - (now - self._last_arrival) * 1000.0)
        self._last_arrival = now
        limit = self.max_ahead_ms
        if self._ahead_ms + ms > limit or self.queued_ms + ms > limit:
            self.dropped_frames += 1
            if self.metrics is not None:
                self.metrics.audio_dropped.inc()
            if not self._overrun:
                self._overrun = True
                raise ProtocolError(
                    "AUDIO_OVERRUN",
                    f"audio is arriving faster than real time (more than {limit} ms ahead); "
                    "frames are dropped until the stream slows down")
            return None
        if self._overrun and self._ahead_ms < limit / 2:
            self._overrun = False  # the episode is over once the client is well within bounds
        self._ahead_ms += ms
        x = pcm16_to_float(np.frombuffer(data, dtype="<i2"))
        if rate != SAMPLE_RATE:
            if self._resampler is None:
                self._resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32",
                                                      quality="HQ")
            x = self._resampler.resample_chunk(x)
        self.received_ms += ms
        self.queued_ms += ms
        return x, ms


def _is_json(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True
