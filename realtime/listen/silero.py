"""Silero VAD v6 through onnxruntime, pure numpy around it: the model, shared by every session.

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

Nothing is loaded at import time; one :class:`SileroModel` (one InferenceSession,
``intra_op_num_threads=1``) is meant to be shared by every session: ``InferenceSession.run`` is
thread-safe and all per-session state lives in :class:`SileroState`. The per-session state
machine that turns probabilities into turns is :mod:`realtime.listen.vad`.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

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
