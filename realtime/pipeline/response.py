"""A response's state and its handle (cf. LiveKit's ``SpeechHandle``): one per turn."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from pydantic import BaseModel

from realtime.protocol.messages import Timings, TtsMode, Usage


class Sink(Protocol):
    """Where a response's events go (a WebSocket, an SSE stream, a collector)."""

    async def json(self, msg: BaseModel) -> None: ...

    async def audio(self, response_id: int, chunk_index: int, sample_offset: int,
                    pcm: np.ndarray) -> None: ...


@dataclass(slots=True)
class TurnSpec:
    response_id: int
    messages: list[dict[str, str]]
    model: str
    temperature: float
    max_tokens: int
    language: str
    voice: str | None
    tts_enabled: bool
    tts_mode: TtsMode = "realtime"
    tts_delay_ms: int = 0
    speak_sentences: list[str] | None = None  # replay: speak these, no LLM


@dataclass(slots=True)
class SentenceRecord:
    index: int
    text: str
    start_sample: int = -1  # on the response's audio timeline; -1: not spoken
    n_samples: int = 0


@dataclass
class Response:
    spec: TurnSpec
    t0: float = field(default_factory=time.perf_counter)
    status: str = "pending"
    text_parts: list[str] = field(default_factory=list)
    sentences: list[SentenceRecord] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    usage: Usage = field(default_factory=Usage)
    samples_sent: int = 0
    truncated: bool = False
    error: dict[str, str] | None = None
    played_ms: float = 0.0
    task: asyncio.Task[None] | None = None
    generation_done: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    interrupted_by_user: bool = False

    @property
    def id(self) -> int:
        return self.spec.response_id

    @property
    def text(self) -> str:
        return "".join(self.text_parts).strip()

    def ms(self) -> float:
        return round((time.perf_counter() - self.t0) * 1000.0, 2)

    def mark(self, stage: str) -> None:
        if getattr(self.timings, stage) is None:
            setattr(self.timings, stage, self.ms())

    def interrupt(self) -> bool:
        """Cancel generation and synthesis. Returns False when already finished."""
        if self.task is None or self.task.done():
            return False
        self.interrupted_by_user = True
        self.task.cancel()
        return True

    def heard_text(self, rate: int) -> str:
        """What the user heard: sentences fully played plus the played share of the current one.

        Uses the latest ``playback.mark``; without TTS or marks, the generated text is kept.
        """
        spoken = [s for s in self.sentences if s.start_sample >= 0]
        if not spoken:
            return self.text
        played = self.played_ms * rate / 1000.0
        out: list[str] = []
        for s in spoken:
            end = s.start_sample + s.n_samples
            if played >= end:
                out.append(s.text.strip())
            elif played > s.start_sample and s.n_samples:
                words = s.text.split()
                share = (played - s.start_sample) / s.n_samples
                keep = int(len(words) * share)
                if keep:
                    out.append(" ".join(words[:keep]) + "…")
                break
            else:
                break
        return " ".join(out)
