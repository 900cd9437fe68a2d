"""Smart end of turn: is the utterance complete, or is the speaker only pausing?

A fixed end-of-turn silence is a bad compromise: 500 ms is the largest part of a voice turn's
latency, and still cuts off people who pause mid-sentence for longer. **Smart Turn v3.2**
(``smart-turn-v3.2-cpu.onnx``, 8.7 MB, BSD-2-Clause, multilingual; shipped inside the
``pipecat-ai`` wheel, which is installed ``--no-deps`` for the file alone) judges the last
<= 8 s of the utterance from its sound (prosody, not words) after a short silence:

    input_features  float32 [batch, 80, 800]  Whisper log-mel of 8 s at 16 kHz (left-padded
                                              with zeros), the waveform first normalised to
                                              zero mean and unit variance
    logits          float32 [batch, 1]        P(the turn is complete), already a sigmoid

faster-whisper's ``FeatureExtractor`` computes exactly those features (checked against pipecat's
reference implementation in tests). The model runs in a worker thread of its own (~30-60 ms on
one core), never behind a Whisper decode.

Measured on Piper speech after 160 ms of silence: twelve complete questions score 0.93-0.99;
fragments ending in a function word ("I would like to", "So I was thinking that", "Could you
help me with", "My favourite food is") 0.02-0.81; scores tend to rise as the silence grows but
jump between takes and between 32 ms steps (a question 0.14 at 128 ms, 0.83 at 256 ms). So the
model is asked early and again while the pause lasts (``MicInput._maybe_judge``), and a turn
ends only at 0.9 or more: a false "complete" cuts the speaker off, a false "incomplete" only
waits for the longer silence. It judges sound, not words ("Can you tell me", spoken as Piper
speaks it, is a complete question to it, 0.97; "My favourite food is" often 0.9+), so the
speculative transcript can veto it (``listen/endings.py``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
WINDOW_S = 8
_SAMPLES = WINDOW_S * SAMPLE_RATE
_FRAMES = WINDOW_S * 100  # 10 ms hop
MODEL_FILE = "smart-turn-v3.2-cpu.onnx"


def default_model_path() -> Path:
    """``<pipecat>/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx``, found without
    importing pipecat (its package pulls in dependencies we do not install)."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("pipecat-ai is not installed; it ships " + MODEL_FILE)
    path = Path(next(iter(spec.submodule_search_locations))) / "audio" / "turn" / \
        "smart_turn" / "data" / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    return path


class SmartTurnModel:
    """One InferenceSession shared by every session, run in its own worker thread."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime as ort
        from faster_whisper.feature_extractor import FeatureExtractor

        self.path = Path(path) if path is not None else default_model_path()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(self.path), opts,
                                             providers=["CPUExecutionProvider"])
        self._features = FeatureExtractor(feature_size=80, sampling_rate=SAMPLE_RATE,
                                          hop_length=160, chunk_length=WINDOW_S, n_fft=400)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smart-turn")
        self._lock = threading.Lock()

    def features(self, audio16k: np.ndarray) -> np.ndarray:
        """The model's input for the utterance: ``[80, 800]`` float32."""
        a = np.asarray(audio16k, dtype=np.float32)[-_SAMPLES:]
        if len(a) < _SAMPLES:
            a = np.pad(a, (_SAMPLES - len(a), 0))
        a = (a - a.mean()) / np.sqrt(a.var() + 1e-7)
        return self._features(a.astype(np.float32), padding=0)[:, :_FRAMES].astype(np.float32)

    def predict(self, audio16k: np.ndarray) -> float:
        """P(complete) for the utterance so far (blocking: call it from a worker thread)."""
        x = self.features(audio16k)[None]
        with self._lock:
            (logits,) = self._session.run(None, {"input_features": x})
        return float(np.asarray(logits).ravel()[0])

    async def probability(self, audio16k: np.ndarray) -> float:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.predict,
                                                                audio16k)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
