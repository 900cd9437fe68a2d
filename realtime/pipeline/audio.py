"""Pure audio helpers: resampling to the session's output rate, framing, WAV files."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr


class StreamResampler:
    """Resample one sentence's int16 chunks to ``out_rate`` with no seams between chunks."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._rs = None if in_rate == out_rate else soxr.ResampleStream(
            in_rate, out_rate, 1, dtype="int16", quality="HQ"
        )

    def push(self, pcm: np.ndarray, last: bool = False) -> np.ndarray:
        pcm = np.asarray(pcm, dtype=np.int16)
        if self._rs is None:
            return pcm
        return self._rs.resample_chunk(pcm, last=last)

    def flush(self) -> np.ndarray:
        if self._rs is None:
            return np.zeros(0, dtype=np.int16)
        return self._rs.resample_chunk(np.zeros(0, dtype=np.int16), last=True)


def pcm16_to_float(pcm: np.ndarray) -> np.ndarray:
    """int16 PCM -> float32 in [-1, 1) (scaled by 1/32768, exact: a power of two). A new array."""
    return np.asarray(pcm).astype(np.float32) * np.float32(1.0 / 32768.0)


def resample(pcm: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    if in_rate == out_rate:
        return np.asarray(pcm, dtype=np.int16)
    return soxr.resample(np.asarray(pcm, dtype=np.int16), in_rate, out_rate, quality="HQ")


def frames(pcm: np.ndarray, max_samples: int) -> Iterator[np.ndarray]:
    """Split into pieces of at most ``max_samples``."""
    for i in range(0, len(pcm), max_samples):
        yield pcm[i:i + max_samples]


def wav_bytes(pcm: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.asarray(pcm, dtype=np.int16), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def write_wav(path: Path, pcm: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(wav_bytes(pcm, rate))
    tmp.replace(path)
