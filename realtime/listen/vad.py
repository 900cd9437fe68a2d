"""Streaming voice-activity detection: the per-session state machine over Silero probabilities.

:class:`StreamingVad` (idle -> candidate -> speaking) turns window probabilities from the shared
:class:`~realtime.listen.silero.SileroModel` into ``speech_started`` / ``speech_stopped`` events
and :class:`Utterance` audio; :func:`feed_many` feeds many sessions with one model call per
window round (:func:`ingest_many` -> :func:`~realtime.listen.silero.batch_probs` ->
:func:`process_many`, so only the model need run in a worker thread).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from realtime.listen.silero import SAMPLE_RATE, WINDOW, WINDOW_MS, SileroModel, batch_probs
from realtime.pipeline.audio import pcm16_to_float


@dataclass(frozen=True, slots=True)
class VadOptions:
    threshold: float = 0.5  # speech starts when prob >= threshold
    neg_threshold: float | None = None  # speech continues while prob >= this; None: threshold-0.15
    min_speech_ms: int = 250  # a run shorter than this starts nothing
    end_silence_ms: int = 500  # end of turn after this much continuous silence
    pre_roll_ms: int = 300  # audio kept before the run's start, included in the utterance
    max_utterance_s: float = 30.0  # force an end here (utterance audio never exceeds it)
    post_roll_ms: int = 200  # audio kept after the silence began (at most end_silence_ms)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("threshold must be in (0, 1)")
        if self.neg_threshold is not None and not 0.0 <= self.neg_threshold <= self.threshold:
            raise ValueError("neg_threshold must be in [0, threshold]")
        if min(self.min_speech_ms, self.end_silence_ms, self.pre_roll_ms, self.post_roll_ms) < 0:
            raise ValueError("durations must be >= 0")
        if self.max_utterance_s * SAMPLE_RATE < 2 * WINDOW + self.pre_roll_ms * SAMPLE_RATE / 1000:
            raise ValueError("max_utterance_s must leave room for pre_roll_ms and two windows")

    @property
    def negative(self) -> float:
        if self.neg_threshold is not None:
            return self.neg_threshold
        return max(self.threshold - 0.15, 0.01)


class VadEvent(NamedTuple):
    kind: Literal["speech_started", "speech_stopped"]
    t_ms: float  # position in the session's input audio


@dataclass(slots=True, eq=False)
class Utterance:
    """``audio`` is exactly the session's input from ``start_ms`` to ``end_ms`` (float32 16 kHz).

    ``start_ms`` is the speech start minus the pre-roll (never before the session's start or the
    end of the previous utterance); ``end_ms`` is where the silence began plus the post-roll, the
    position at a :meth:`StreamingVad.commit`, or the cap for a forced end (``forced=True``).
    """

    audio: np.ndarray
    start_ms: float
    end_ms: float
    forced: bool


_IDLE, _CANDIDATE, _SPEAKING = 0, 1, 2


def _to_float32(pcm: np.ndarray) -> np.ndarray:
    a = np.asarray(pcm)
    if a.ndim != 1:
        if a.ndim == 2 and 1 in a.shape:
            a = a.reshape(-1)
        else:
            raise ValueError(f"expected mono 1-D audio, got shape {a.shape}")
    if a.dtype == np.int16:
        return pcm16_to_float(a)
    if a.dtype.kind == "f":
        return a.astype(np.float32, copy=False)
    raise TypeError(f"expected float32 or int16 16 kHz PCM, got {a.dtype}")


class StreamingVad:
    """Per-session VAD over a shared :class:`SileroModel`.

    Windows are 32 ms at fixed positions of the input (window k = samples [512k, 512k+512)), so
    events don't depend on how the audio is chunked. States:

    * idle: audio goes to a pre-roll ring (``pre_roll_ms`` + one candidate run, nothing more).
    * candidate: a window reached ``threshold``; the run goes on while prob >= ``negative``
      (hysteresis) and dies at the first window below it. Once it spans ``min_speech_ms``
      ``speech_started`` is emitted with ``t_ms`` = the run's first window.
    * speaking: ``end_silence_ms`` of windows below ``negative`` emit ``speech_stopped``
      (``t_ms`` = where that silence began) and the :class:`Utterance`; reaching
      ``max_utterance_s`` emits both at once with ``forced=True``.
    """

    def __init__(self, model: SileroModel, options: VadOptions | None = None) -> None:
        self.model = model
        self.state = model.new_state()
        self._rbuf = np.zeros(0, np.float32)
        self.configure(options if options is not None else VadOptions())
        self._fed = 0  # samples received
        self._done = 0  # samples run through the model (whole windows)
        self._partial = np.zeros(0, np.float32)  # < one window, not yet run
        self._mode = _IDLE
        self._floor = 0  # no utterance may reach back before this sample
        # idle/candidate history (ends at self._done): self._rbuf[self._r0:self._r1], appended in
        # place and compacted now and then (no per-window reallocation: 31 windows/s/session)
        self._r0 = self._r1 = 0
        self._run_start = 0  # candidate / speech start (sample)
        self._run_len = 0  # windows in the candidate run
        self._utt: list[np.ndarray] = []  # speaking: chunks from self._utt_start to self._done
        self._utt_start = 0
        self._utt_len = 0
        self._silence = 0  # consecutive windows below negative while speaking
        self._silence_start = 0
        self.last_prob = 0.0

    def configure(self, options: VadOptions) -> None:
        """Use ``options`` from the next window on; the stream, the model state and an utterance
        in progress carry on (OpenAI's ``turn_detection`` settings change mid-session)."""
        self.options = o = options
        self._neg = o.negative
        self._min_windows = max(1, math.ceil(o.min_speech_ms / WINDOW_MS))
        self._end_windows = max(1, math.ceil(o.end_silence_ms / WINDOW_MS))
        self._pre = round(o.pre_roll_ms * SAMPLE_RATE / 1000)
        self._post = round(min(o.post_roll_ms, o.end_silence_ms) * SAMPLE_RATE / 1000)
        self._max = int(o.max_utterance_s * SAMPLE_RATE)
        self._ring_cap = self._pre + self._min_windows * WINDOW
        size = 2 * self._ring_cap + 4 * WINDOW
        if len(self._rbuf) < size:  # room for the longer history (the live part is kept)
            live = self._rbuf[self._r0:self._r1] if len(self._rbuf) else self._rbuf
            self._rbuf = np.zeros(size, np.float32)
            self._rbuf[:len(live)] = live
            self._r0, self._r1 = 0, len(live)

    # ------------------------------------------------------------------ public
    @property
    def speaking(self) -> bool:
        return self._mode == _SPEAKING

    @property
    def run_ms(self) -> float:
        """How long the current speech run has lasted (a candidate's or confirmed speech), or 0.

        For barge-in: a response can be interrupted before ``min_speech_ms`` confirms a turn.
        """
        if self._mode == _CANDIDATE:
            return self._run_len * WINDOW_MS
        if self._mode == _SPEAKING:
            return (self._done - self._run_start) * 1000.0 / SAMPLE_RATE
        return 0.0

    @property
    def silence_ms(self) -> float:
        """While speaking: how long the silence that may end the turn has lasted, else 0."""
        return self._silence * WINDOW_MS if self._mode == _SPEAKING else 0.0

    @property
    def silence_start_ms(self) -> float:
        """Where the current silence began (meaningful while :attr:`silence_ms` > 0); the
        ``speech_stopped`` event of this silence will carry this position."""
        return self._silence_start * 1000.0 / SAMPLE_RATE

    @property
    def end_silence_window_ms(self) -> float:
        """Audio between the start of the silence and the end-of-turn decision."""
        return self._end_windows * WINDOW_MS

    def current_audio(self) -> np.ndarray:
        """The utterance so far while speaking (for partial transcripts), else empty."""
        if self._mode != _SPEAKING:
            return np.zeros(0, np.float32)
        return np.concatenate([*self._utt, self._partial]).astype(np.float32, copy=False)

    @property
    def position_ms(self) -> float:
        """Input audio received so far (including a partial window not yet run)."""
        return self._fed * 1000.0 / SAMPLE_RATE

    def feed(self, pcm16k: np.ndarray) -> list[VadEvent | Utterance]:
        """Any length of float32 (or float64) in [-1, 1] or int16 mono 16 kHz audio."""
        windows = self.ingest(pcm16k)
        if not len(windows):
            return []
        return self.process(windows, self.model.probs(self.state, windows))

    def commit(self) -> Utterance | None:
        """End the utterance now (push-to-talk): speech, or a candidate run not yet confirmed.

        The audio runs to :attr:`position_ms` (a partial window included). Returns None when idle.
        No ``speech_stopped`` event; ``forced`` is False. The model state carries on.
        """
        if self._mode == _IDLE:
            return None
        if self._mode == _CANDIDATE:
            start = max(self._run_start - self._pre, self._floor, self._done - len(self._ring))
            chunks = [self._ring[start - (self._done - len(self._ring)):]]
        else:
            start, chunks = self._utt_start, self._utt
        audio = np.concatenate([*chunks, self._partial]).astype(np.float32, copy=False)
        utt = Utterance(audio, start * 1000.0 / SAMPLE_RATE, self._fed * 1000.0 / SAMPLE_RATE,
                        False)
        self._to_idle(self._fed)
        return utt

    def clear(self) -> None:
        """Drop the current utterance (or candidate) and the pre-roll; the stream carries on."""
        self._to_idle(self._fed)

    def end_turn(self) -> list[VadEvent | Utterance]:
        """End the turn at the silence in progress (a smart end-of-turn model judged the
        utterance complete): ``speech_stopped`` at where the silence began, and the utterance,
        exactly as if the end-of-turn silence had run out. Empty unless speaking and silent."""
        if self._mode != _SPEAKING or not self._silence:
            return []
        out: list[VadEvent | Utterance] = []
        self._stop(out)
        return out

    def set_end_silence(self, ms: int) -> None:
        """The silence that ends a turn from now on (a longer one while a model decides)."""
        self._end_windows = max(1, math.ceil(ms / WINDOW_MS))
        self._post = round(min(self.options.post_roll_ms, ms) * SAMPLE_RATE / 1000)

    def ingest(self, pcm: np.ndarray) -> np.ndarray:
        """Buffer ``pcm``; -> the new whole windows ``[n, 512]`` (a partial one stays buffered)."""
        x = _to_float32(pcm)
        self._fed += len(x)
        buf = np.concatenate([self._partial, x]) if len(self._partial) else x
        n = len(buf) // WINDOW
        self._partial = buf[n * WINDOW:].copy()
        return buf[: n * WINDOW].reshape(n, WINDOW)

    # ------------------------------------------------------------------ internals
    def _to_idle(self, floor: int, keep: np.ndarray | None = None) -> None:
        self._mode = _IDLE
        self._floor = floor
        self._set_ring(keep)
        self._utt, self._utt_len, self._silence, self._run_len = [], 0, 0, 0

    @property
    def _ring(self) -> np.ndarray:
        return self._rbuf[self._r0:self._r1]

    def _set_ring(self, audio: np.ndarray | None) -> None:
        n = 0 if audio is None else len(audio)
        if n > len(self._rbuf) - 2 * WINDOW:
            self._rbuf = np.zeros(n + 4 * WINDOW, np.float32)
        if n:
            self._rbuf[:n] = audio
        self._r0, self._r1 = 0, n

    def _push_ring(self, w: np.ndarray) -> None:
        if self._r1 + len(w) > len(self._rbuf):  # compact: move the live part to the front
            n = self._r1 - self._r0
            self._rbuf[:n] = self._rbuf[self._r0:self._r1]
            self._r0, self._r1 = 0, n
        self._rbuf[self._r1:self._r1 + len(w)] = w
        self._r1 += len(w)
        keep = min(self._ring_cap, self._done - self._floor)  # _done already counts w
        self._r0 = max(self._r0, self._r1 - max(keep, 0))

    def process(self, windows: np.ndarray, probs: np.ndarray) -> list[VadEvent | Utterance]:
        """Run the state machine over windows from :meth:`ingest` and their probabilities."""
        out: list[VadEvent | Utterance] = []
        for w, p in zip(windows, probs, strict=True):
            p = float(p)
            self.last_prob = p
            start = self._done
            self._done += WINDOW
            if self._mode == _SPEAKING:
                self._utt.append(w.copy())
                self._utt_len += WINDOW
                if p >= self._neg:
                    self._silence = 0
                else:
                    if self._silence == 0:
                        self._silence_start = start
                    self._silence += 1
                    if self._silence >= self._end_windows:
                        self._stop(out)
                        continue
                if self._utt_len + WINDOW > self._max:
                    self._force(out)
                continue
            self._push_ring(w)
            if self._mode == _CANDIDATE:
                if p >= self._neg:
                    self._run_len += 1
                else:
                    self._mode, self._run_len = _IDLE, 0
                    continue
            elif p >= self.options.threshold:
                self._mode, self._run_start, self._run_len = _CANDIDATE, start, 1
            else:
                continue
            if self._run_len >= self._min_windows:
                self._start(out)
        return out

    def _start(self, out: list) -> None:
        ring_start = self._done - len(self._ring)
        begin = max(self._run_start - self._pre, self._floor, ring_start)
        audio = self._ring[begin - ring_start:].copy()
        self._mode = _SPEAKING
        self._utt, self._utt_start, self._utt_len = [audio], begin, len(audio)
        self._set_ring(None)
        self._silence = 0
        out.append(VadEvent("speech_started", self._run_start * 1000.0 / SAMPLE_RATE))
        if self._utt_len + WINDOW > self._max:
            self._force(out)

    def _stop(self, out: list) -> None:
        audio = np.concatenate(self._utt)
        end = min(self._silence_start + self._post, self._done)
        cut = end - self._utt_start
        out.append(VadEvent("speech_stopped", self._silence_start * 1000.0 / SAMPLE_RATE))
        out.append(Utterance(audio[:cut], self._utt_start * 1000.0 / SAMPLE_RATE,
                             end * 1000.0 / SAMPLE_RATE, False))
        rest = audio[cut:][-self._ring_cap:] if self._ring_cap else audio[:0]
        self._to_idle(end, rest.copy())

    def _force(self, out: list) -> None:
        audio = np.concatenate(self._utt)
        t = self._done * 1000.0 / SAMPLE_RATE
        out.append(VadEvent("speech_stopped", t))
        out.append(Utterance(audio, self._utt_start * 1000.0 / SAMPLE_RATE, t, True))
        self._to_idle(self._done)


def feed_many(
    items: Sequence[tuple[StreamingVad, np.ndarray]],
) -> list[list[VadEvent | Utterance]]:
    """Feed several sessions (sharing one model) at once: one model call per window round.

    Gives each session exactly what ``vad.feed(pcm)`` would; ``result[i]`` is for ``items[i]``.
    The three steps are public so a caller can run only :func:`batch_probs` (the model) in a
    worker thread and keep the Python state machines on its own thread.
    """
    if not items:
        return []
    vads = [v for v, _ in items]
    wins = ingest_many(items)
    probs = batch_probs(vads[0].model, [v.state for v in vads], wins)
    return process_many(vads, wins, probs)


def ingest_many(items: Sequence[tuple[StreamingVad, np.ndarray]]) -> list[np.ndarray]:
    """Step 1: each session's new whole windows ``[n_i, 512]`` (partial windows stay buffered)."""
    vads = [v for v, _ in items]
    if len({id(v) for v in vads}) != len(vads):
        raise ValueError("each StreamingVad may appear once")
    if vads and any(v.model is not vads[0].model for v in vads):
        raise ValueError("all sessions must share one SileroModel")
    return [v.ingest(pcm) for v, pcm in items]


def process_many(vads: Sequence[StreamingVad], wins: Sequence[np.ndarray],
                 probs: Sequence[np.ndarray]) -> list[list[VadEvent | Utterance]]:
    """Step 3: run each session's state machine over its windows' probabilities."""
    return [v.process(w, p) if len(w) else [] for v, w, p in zip(vads, wins, probs, strict=True)]
