"""A response's state and its handle (cf. LiveKit's ``SpeechHandle``): one per turn; who may
start and cut one is decided in :mod:`realtime.pipeline.floor`."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel

from realtime.protocol.messages import Timings, TtsMode, Usage

MARK_EXTRAPOLATE_S = 1.0  # playback is assumed to go on this long after the latest mark
PLAYBACK_SLACK_S = 2.0  # a client's playback may lag the audio's length by this much


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
    source: str = "text"  # text | voice | speak
    utterance_id: int | None = None
    speed: float = 1.0  # speaking rate (0.5-2.0), passed to the TTS engine
    tts_streaming_mode: int | None = None  # GPT-SoVITS streaming_mode 0-3; None: the server's


@dataclass(slots=True)
class SentenceRecord:
    index: int
    text: str
    start_sample: int = -1  # on the response's audio timeline; -1: not spoken
    n_samples: int = 0


class Keeper(Protocol):
    """Keeps a response's turn in history (a session's conversation, a REST turn)."""

    async def keep(self, resp: Response) -> None:
        """Store the turn: the answer as heard so far (``resp.answer_as_heard()``)."""

    async def amend(self, resp: Response) -> None:
        """The turn was cut after it was kept: make the stored answer what was heard.
        Idempotent (compare with ``resp.kept``)."""


Phase = Literal["pending", "producing", "finishing", "ended"]


@dataclass
class Response:
    """One response's state. Its life (see ``realtime.pipeline.floor``): ``pending`` (waiting
    for the previous response to end) -> ``producing`` (prompt, LLM, synthesis, sending; the
    only phase a cut cancels) -> ``finishing`` (kept, then its last events; ``sealed`` once those
    are decided) -> ``ended`` (``finished`` is set after ``response.done``)."""

    spec: TurnSpec
    t0: float = field(default_factory=time.perf_counter)
    status: str = "pending"
    phase: Phase = "pending"
    text_parts: list[str] = field(default_factory=list)
    sentences: list[SentenceRecord] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    usage: Usage = field(default_factory=Usage)
    samples_sent: int = 0
    truncated: bool = False
    error: dict[str, str] | None = None
    played_ms: float = 0.0  # latest playback.mark
    mark_time: float | None = None  # perf_counter of that mark
    client_marks: bool = False  # the client reports playback with marks (else: plays on arrival)
    cut_reason: str | None = None  # why it was cut (barge_in, cancel, new_input, closed)
    stop_ms: float | None = None  # playback position when cut (what was heard)
    sealed: bool = False  # its last events are decided; a later cut is announced by the Floor
    rate: int = 24000  # output sample rate of the audio timeline
    history_entry: dict[str, str] | None = None  # the assistant message kept in the context
    kept: str | None = None  # the answer as the history has it (for Keeper.amend)
    keeper: Keeper | None = None
    prepare: Callable[[Response], Awaitable[None]] | None = None  # builds spec.messages
    after: asyncio.Event | None = None  # start once this is set (the previous response ended)
    task: asyncio.Task[None] | None = None
    generation_done: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    message_id: str | None = None  # the assistant message's id in the history store
    user_message_id: str | None = None
    context_summarized: bool = False
    context_tokens: int | None = None

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

    def mark_cut(self, reason: str, now: float) -> None:
        """Record a cut: why, and where playback was (fixed now: what the user heard)."""
        self.cut_reason = reason
        self.stop_ms = round(self.playback_ms(now), 1)
        if self.sealed:
            self.status = "interrupted"

    def answer_as_heard(self) -> str:
        """The answer as history keeps it: what was heard if it was cut, else all of it."""
        return self.heard_text() if self.cut_reason is not None else self.text

    @property
    def audio_ms(self) -> float:
        return self.samples_sent * 1000.0 / self.rate

    @property
    def spoken(self) -> bool:
        """The answer reaches the user as speech (else as text they read)."""
        return self.spec.tts_enabled and self.spec.tts_mode != "on_click"

    def playback_ms(self, now: float, client_marks: bool | None = None) -> float:
        """Where the client's playback is at ``now`` (perf_counter), on the audio timeline.

        From the latest ``playback.mark``, advanced by the time since (at most
        ``MARK_EXTRAPOLATE_S``: a client that stopped marking has stopped playing). A client that
        never sends marks (``client_marks`` False) is assumed to play audio as it arrives.
        """
        if client_marks is None:
            client_marks = self.client_marks
        if not self.samples_sent:
            return 0.0
        if self.mark_time is not None:
            ahead = min(max(0.0, now - self.mark_time), MARK_EXTRAPOLATE_S)
            pos = self.played_ms + ahead * 1000.0
        elif client_marks or self.timings.first_audio_sent is None:
            pos = 0.0  # this client reports playback, and has not started playing this one
        else:
            pos = (now - self.t0) * 1000.0 - self.timings.first_audio_sent
        return max(0.0, min(pos, self.audio_ms))

    def still_playing(self, now: float, client_marks: bool | None = None) -> bool:
        """Finished sending but (by the client's marks / the clock) not yet finished playing."""
        if not self.samples_sent or self.timings.first_audio_sent is None:
            return False
        sent_at = self.t0 + self.timings.first_audio_sent / 1000.0
        if now - sent_at > self.audio_ms / 1000.0 + PLAYBACK_SLACK_S:
            return False  # longer ago than it can take to play it
        return self.playback_ms(now, client_marks) < self.audio_ms - 30.0

    def heard_text(self) -> str:
        """What the user heard: sentences fully played plus the played share of the current one.

        The position is ``stop_ms`` (set when interrupted) or the latest ``playback.mark``. A
        response shown as text only (TTS off, ``on_click``) was read: its text is kept whole.
        """
        if not self.spoken:
            return self.text
        spoken = [s for s in self.sentences if s.start_sample >= 0]
        if not spoken:
            return ""
        pos_ms = self.stop_ms if self.stop_ms is not None else self.played_ms
        played = pos_ms * self.rate / 1000.0
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
