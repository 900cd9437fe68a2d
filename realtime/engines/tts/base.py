"""The TTS seam: every engine streams :class:`SynthChunk` s for one sentence.

Engines run their model in a worker thread (or talk HTTP); nothing here blocks the event loop.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np


class TTSError(Exception):
    """Synthesis failed (engine down, bad request, upstream error)."""

    def __init__(self, message: str, code: str = "TTS_FAILED") -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class PhonemeTiming:
    """One phoneme on the sentence's own audio timeline (ms from the sentence's first sample)."""

    phoneme: str  # IPA symbol(s) as espeak-ng / Piper produce them
    start_ms: float
    duration_ms: float


@dataclass(slots=True)
class SynthChunk:
    """A piece of one sentence's audio.

    ``pcm`` is mono int16 at ``sample_rate`` (the engine's native rate; the turn engine resamples).
    ``phonemes`` carry times relative to the *sentence* start, so an engine may attach all of a
    sentence's phonemes to its first chunk or spread them over chunks. ``None`` means the engine
    has no alignment: the turn engine then fits phonemes to the audio itself.
    """

    pcm: np.ndarray
    sample_rate: int
    phonemes: list[PhonemeTiming] | None = None


@dataclass(slots=True)
class VoiceInfo:
    id: str
    name: str
    language: str
    engine: str
    gender: str | None = None
    sample_rate: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


class TTSEngine(abc.ABC):
    """Base class for Piper, espeak-ng, GPT-SoVITS (and whatever comes next)."""

    name: str = "tts"

    async def start(self) -> None:  # load models, open clients
        return None

    async def aclose(self) -> None:
        return None

    def release_memory(self) -> None:
        """Hand working memory cached between syntheses back (blocking: called in a worker
        thread while nobody is talking, realtime/heap.py). Default: nothing cached."""
        return None

    @abc.abstractmethod
    def voices(self) -> list[VoiceInfo]:
        """Voices this engine offers."""

    @abc.abstractmethod
    def supports(self, language: str) -> bool:
        """Whether the engine can speak ``language`` (ISO 639-1, e.g. ``en``, ``ko``)."""

    @abc.abstractmethod
    def synthesize(
        self, text: str, *, language: str, voice: str | None = None, speed: float = 1.0,
        streaming_mode: int | None = None,
    ) -> AsyncIterator[SynthChunk]:
        """Stream the audio of one sentence. Raise :class:`TTSError` on failure.

        ``speed``: speaking rate (2.0 = half the duration). ``streaming_mode``: GPT-SoVITS's
        ``streaming_mode`` (0-3) for this request, None for the engine's own setting; engines that
        synthesise locally, sentence by sentence, ignore it.

        Closing the iterator early (``aclose``) must stop the work (close HTTP streams, let the
        worker thread finish at the next chunk boundary).
        """

    async def health(self) -> bool:
        return True
