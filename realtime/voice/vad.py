"""Streaming voice-activity detection: Silero VAD v6 through onnxruntime, pure numpy around it.

The model is the ``silero_vad_v6.onnx`` that ships inside the ``faster-whisper`` wheel (located
with ``importlib.util.find_spec``, so faster-whisper and CTranslate2 are never imported). Its graph,
as checked with onnxruntime::

    input         float32 [seq_len, 576]   64 samples of context (the previous window's last 64)
                                           + 512 new samples, 16 kHz, one row per 32 ms window
    h, c          float32 [1, 1, 128]      LSTM state in
    speech_probs  float32 [seq_len]        one speech probability per row
    hn, cn        float32 [1, 1, 128]      LSTM state out

The rows of ``input`` are *time steps of one stream*: the convolutional encoder runs on every
row at once, then the LSTM walks the rows in order (``seq_len`` is the LSTM's sequence axis and
its batch is fixed at 1). So :meth:`SileroModel.probs` runs all the windows one ``feed`` produced
for a session in one ``session.run``, bit-identical to running them one by one.

The shipped graph can't batch *different sessions* (``h``/``c`` are declared ``[1, 1, 128]``).
:meth:`SileroModel.probs_batch` rewrites a copy of it in memory, when the ``onnx`` package is
importable: the Transpose in front of the LSTM becomes ``perm=[2, 0, 1]`` so N rows are one time
step of N streams (LSTM batch N) and ``h``/``c``/``hn``/``cn`` get a symbolic batch dimension.
Results equal the per-session graph exactly. Without ``onnx`` it runs the sessions one by one
(:attr:`SileroModel.cross_session_batching` says which).

:class:`StreamingVad` is the per-session state machine (idle -> candidate -> speaking) that turns
window probabilities into ``speech_started`` / ``speech_stopped`` events and :class:`Utterance`
audio; :func:`feed_many` feeds many sessions with one model call per window round. Nothing is
loaded at import time; one :class:`SileroModel` (one InferenceSession, ``intra_op_num_threads=1``)
is meant to be shared by every session: ``InferenceSession.run`` is thread-safe and all
per-session state lives in :class:`SileroState`.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np

from realtime.pipeline.audio import pcm16_to_float

if TYPE_CHECKING:  # pragma: no cover
    import onnxruntime

SAMPLE_RATE = 16_000
WINDOW = 512  # new samples per model call (32 ms)
CONTEXT = 64  # samples of the previous window prepended to each one
WINDOW_MS = WINDOW * 1000.0 / SAMPLE_RATE
STATE_SIZE = 128
_MAX_ROWS = 4096  # rows per session.run (bounds the encoder's intermediates on huge feeds)
_MODEL_FILE = "silero_vad_v6.onnx"


def default_model_path() -> Path:
    """``<faster_whisper>/assets/silero_vad_v6.onnx``, found without importing faster-whisper."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("faster-whisper is not installed; it ships " + _MODEL_FILE)
    path = Path(spec.origin).parent / "assets" / _MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (faster-whisper without the Silero v6 asset?)")
    return path


# ---------------------------------------------------------------------------------- the model
@dataclass(slots=True, eq=False)
class SileroState:
    """One stream's recurrent state: LSTM ``h``/``c`` and the last 64 samples of the last window."""

    h: np.ndarray = field(default_factory=lambda: np.zeros((1, 1, STATE_SIZE), np.float32))
    c: np.ndarray = field(default_factory=lambda: np.zeros((1, 1, STATE_SIZE), np.float32))
    context: np.ndarray = field(default_factory=lambda: np.zeros(CONTEXT, np.float32))

    def reset(self) -> None:
        self.h = np.zeros((1, 1, STATE_SIZE), np.float32)
        self.c = np.zeros((1, 1, STATE_SIZE), np.float32)
        self.context = np.zeros(CONTEXT, np.float32)


def _session_options() -> onnxruntime.SessionOptions:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return opts


def _cross_session_graph(model_bytes: bytes) -> bytes | None:
    """The graph rewritten so ``input`` rows are N streams at one time step, or None (no onnx)."""
    try:
        import onnx
    except ImportError:
        return None
    m = onnx.load_from_string(model_bytes)
    g = m.graph
    lstm = next(n for n in g.node if n.op_type == "LSTM")
    feed = next(n for n in g.node if n.output and n.output[0] == lstm.input[0])
    perm = next((a for a in feed.attribute if a.name == "perm"), None)
    if feed.op_type != "Transpose" or perm is None or list(perm.ints) != [0, 2, 1]:
        return None  # not the graph this rewrite was checked against
    perm.ints[:] = [2, 0, 1]  # [N, 128, 1] -> [1, N, 128]: seq 1, batch N
    for v in list(g.input) + list(g.output):
        if v.name in ("h", "c", "hn", "cn"):
            dim = v.type.tensor_type.shape.dim[1]
            dim.ClearField("dim_value")
            dim.dim_param = "streams"
    del g.value_info[:]  # stale intermediate shapes; onnxruntime re-infers them
    return m.SerializeToString()


class SileroModel:
    """One Silero VAD v6 InferenceSession shared by all sessions (CPU, one intra-op thread)."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path) if path is not None else default_model_path()
        self._bytes = self.path.read_bytes()
        self._session = ort.InferenceSession(
            self._bytes, _session_options(), providers=["CPUExecutionProvider"]
        )
        self._batch_session: ort.InferenceSession | None = None
        self._batch_checked = False
        self._lock = threading.Lock()

    def new_state(self) -> SileroState:
        return SileroState()

    @property
    def cross_session_batching(self) -> bool:
        """Whether :meth:`probs_batch` runs N sessions in one ``session.run`` (needs ``onnx``)."""
        return self._get_batch_session() is not None

    def _get_batch_session(self):
        if not self._batch_checked:
            with self._lock:
                if not self._batch_checked:
                    import onnxruntime as ort

                    graph = _cross_session_graph(self._bytes)
                    if graph is not None:
                        self._batch_session = ort.InferenceSession(
                            graph, _session_options(), providers=["CPUExecutionProvider"]
                        )
                    self._batch_checked = True
        return self._batch_session

    def probs(self, state: SileroState, windows: np.ndarray) -> np.ndarray:
        """Consecutive windows ``[N, 512]`` of one stream -> speech probabilities ``[N]``.

        Advances ``state``. All N windows go through one ``session.run`` (the graph's rows are
        time steps), identical to N calls of one window.
        """
        w = np.ascontiguousarray(windows, dtype=np.float32)
        if w.ndim == 1:
            w = w.reshape(1, -1)
        if w.ndim != 2 or w.shape[1] != WINDOW:
            raise ValueError(f"windows must be [N, {WINDOW}], got {windows.shape}")
        n = w.shape[0]
        out = np.empty(n, np.float32)
        for a in range(0, n, _MAX_ROWS):
            chunk = w[a:a + _MAX_ROWS]
            x = np.empty((len(chunk), CONTEXT + WINDOW), np.float32)
            x[:, CONTEXT:] = chunk
            x[0, :CONTEXT] = state.context
            x[1:, :CONTEXT] = chunk[:-1, -CONTEXT:]
            p, state.h, state.c = self._session.run(None, {"input": x, "h": state.h, "c": state.c})
            state.context = chunk[-1, -CONTEXT:].copy()
            out[a:a + len(chunk)] = p
        return out

    def probs_batch(self, states: Sequence[SileroState], windows: np.ndarray) -> np.ndarray:
        """One window per stream: ``windows[i]`` (``[N, 512]``) belongs to ``states[i]``.

        One ``session.run`` for all N streams when :attr:`cross_session_batching`, else one per
        stream. Advances every state; the streams must be distinct.
        """
        w = np.ascontiguousarray(windows, dtype=np.float32)
        n = len(states)
        if w.shape != (n, WINDOW):
            raise ValueError(f"windows must be [{n}, {WINDOW}], got {windows.shape}")
        if len({id(s) for s in states}) != n:
            raise ValueError("each state may appear once per batch")
        sess = self._get_batch_session() if n > 1 else None
        if sess is None:
            return np.array([self.probs(s, w[i:i + 1])[0] for i, s in enumerate(states)],
                            dtype=np.float32)
        x = np.empty((n, CONTEXT + WINDOW), np.float32)
        x[:, CONTEXT:] = w
        for i, s in enumerate(states):
            x[i, :CONTEXT] = s.context
        h = np.concatenate([s.h for s in states], axis=1)
        c = np.concatenate([s.c for s in states], axis=1)
        p, hn, cn = sess.run(None, {"input": x, "h": h, "c": c})
        for i, s in enumerate(states):
            s.h = hn[:, i:i + 1].copy()
            s.c = cn[:, i:i + 1].copy()
            s.context = w[i, -CONTEXT:].copy()
        return np.asarray(p, dtype=np.float32)


# ------------------------------------------------------------------------- the state machine
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
        self.options = o = options if options is not None else VadOptions()
        self.state = model.new_state()
        self._neg = o.negative
        self._min_windows = max(1, math.ceil(o.min_speech_ms / WINDOW_MS))
        self._end_windows = max(1, math.ceil(o.end_silence_ms / WINDOW_MS))
        self._pre = round(o.pre_roll_ms * SAMPLE_RATE / 1000)
        self._post = round(min(o.post_roll_ms, o.end_silence_ms) * SAMPLE_RATE / 1000)
        self._max = int(o.max_utterance_s * SAMPLE_RATE)
        self._ring_cap = self._pre + self._min_windows * WINDOW
        self._fed = 0  # samples received
        self._done = 0  # samples run through the model (whole windows)
        self._partial = np.zeros(0, np.float32)  # < one window, not yet run
        self._mode = _IDLE
        self._floor = 0  # no utterance may reach back before this sample
        # idle/candidate history (ends at self._done): self._rbuf[self._r0:self._r1], appended in
        # place and compacted now and then (no per-window reallocation: 31 windows/s/session)
        self._rbuf = np.zeros(2 * self._ring_cap + 4 * WINDOW, np.float32)
        self._r0 = self._r1 = 0
        self._run_start = 0  # candidate / speech start (sample)
        self._run_len = 0  # windows in the candidate run
        self._utt: list[np.ndarray] = []  # speaking: chunks from self._utt_start to self._done
        self._utt_start = 0
        self._utt_len = 0
        self._silence = 0  # consecutive windows below negative while speaking
        self._silence_start = 0
        self.last_prob = 0.0

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
        windows = self._ingest(pcm16k)
        if not len(windows):
            return []
        return self._process(windows, self.model.probs(self.state, windows))

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

    # ------------------------------------------------------------------ internals
    def _ingest(self, pcm: np.ndarray) -> np.ndarray:
        x = _to_float32(pcm)
        self._fed += len(x)
        buf = np.concatenate([self._partial, x]) if len(self._partial) else x
        n = len(buf) // WINDOW
        self._partial = buf[n * WINDOW:].copy()
        return buf[: n * WINDOW].reshape(n, WINDOW)

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

    def _process(self, windows: np.ndarray, probs: np.ndarray) -> list[VadEvent | Utterance]:
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
    return [v._ingest(pcm) for v, pcm in items]


def batch_probs(model: SileroModel, states: Sequence[SileroState],
                wins: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Step 2 (the model; thread-safe): one ``probs_batch`` per window round."""
    probs = [np.empty(len(w), np.float32) for w in wins]
    rounds = max((len(w) for w in wins), default=0)
    for r in range(rounds):
        idx = [i for i, w in enumerate(wins) if len(w) > r]
        p = model.probs_batch([states[i] for i in idx], np.stack([wins[i][r] for i in idx]))
        for j, i in enumerate(idx):
            probs[i][r] = p[j]
    return probs


def process_many(vads: Sequence[StreamingVad], wins: Sequence[np.ndarray],
                 probs: Sequence[np.ndarray]) -> list[list[VadEvent | Utterance]]:
    """Step 3: run each session's state machine over its windows' probabilities."""
    return [v._process(w, p) if len(w) else [] for v, w, p in zip(vads, wins, probs, strict=True)]
