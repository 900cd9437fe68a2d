"""Speech to text for one microphone: speculative transcription during the end-of-turn silence,
partial transcripts, and the final transcript of each utterance becoming a turn.

A mixin of :class:`~realtime.listen.mic.MicInput` (its turn-taking decides *when*; this part
does the transcribing): it uses ``self.stt`` (a ``SpeechRouter``/``STT``), ``self.vad``,
``self.settings``, ``self.session`` (the ``Listener``), ``self.metrics``, ``self.turn_detection``,
``self._spawn``, ``self._send`` and ``self._current``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import numpy as np

from realtime.errors import ProtocolError
from realtime.listen.stt import STTError
from realtime.listen.vad import Utterance
from realtime.protocol.messages import (
    ErrorMsg, TranscriptFinal, TranscriptPartial, TranscriptRejected,
)

log = logging.getLogger(__name__)
AUTO = ("semantic_vad", "server_vad")  # the server ends turns (else push-to-talk)


@dataclass(slots=True)
class SpeechTurn:
    """What a spoken turn carries into the turn engine (for its timings)."""

    utterance_id: int
    t0: float  # perf_counter of the end-of-turn decision (the turn's origin)
    stt_done: float  # perf_counter when the transcript was ready
    stt_ms: float  # inside the model
    endpoint_ms: float  # audio from the end of speech to the decision


class Transcription:
    """The speech-to-text half of a microphone (see the module docstring)."""

    _spec: tuple[float, asyncio.Task] | None = None  # (silence start, speculative STT task)
    _partial_task: asyncio.Task | None = None
    _last_partial = 0.0

    # ------------------------------------------------------------------ speech to text
    def _maybe_speculate(self) -> None:
        """Transcribe during the end-of-turn silence, so the text is ready when the turn ends."""
        wait = self.settings.stt_speculative_silence_ms
        if wait <= 0 or self.turn_detection not in AUTO:
            return
        silence = self.vad.silence_ms
        if silence == 0.0:  # speaking again (or idle): a guess made in a pause is void
            if self.vad.speaking:
                self._drop_spec()
            return
        start = self.vad.silence_start_ms
        if not getattr(self.stt, "idle", True):
            return  # the worker is busy with real turns: a guess would only delay them
        if silence >= wait and (self._spec is None or self._spec[0] != start):
            self._drop_spec()
            self._spec = (start, self._spawn(self._safe_transcribe(self.vad.current_audio())))

    def _drop_spec(self) -> None:
        if self._spec is not None:
            self._spec[1].cancel()
            self._spec = None

    async def _safe_transcribe(self, audio: np.ndarray):
        """-> Transcript, or the exception (a task in the session's group must not raise)."""
        try:
            return await self.stt.transcribe(audio, language=self.session.language)
        except (STTError, ValueError) as exc:
            return exc

    def _transcribe(self, uid: int, utt: Utterance, t0: float, endpoint_ms: float,
                    speculative: asyncio.Task | None = None, turn_end: str = "commit") -> None:
        if self.metrics is not None:
            self.metrics.turn_ends.labels(turn_end).inc()
        self._spawn(self._stt(uid, utt, t0, endpoint_ms, speculative, turn_end), f"stt-{uid}")

    async def _stt(self, uid: int, utt: Utterance, t0: float, endpoint_ms: float,
                   speculative: asyncio.Task | None, turn_end: str) -> None:
        try:
            await self._stt_turn(uid, utt, t0, endpoint_ms, speculative, turn_end)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad utterance must not end the session
            log.exception("voice turn %s failed", uid)
            await self._send(ErrorMsg(code="INTERNAL_ERROR", message=f"voice turn: {exc}"))

    async def _stt_turn(self, uid: int, utt: Utterance, t0: float, endpoint_ms: float,
                        speculative: asyncio.Task | None, turn_end: str) -> None:
        tr = None
        if speculative is not None:
            await asyncio.wait({speculative})  # raises only if this task itself is cancelled
            if not speculative.cancelled() and not isinstance(speculative.result(), Exception):
                tr = speculative.result()
        if tr is None:
            tr = await self._safe_transcribe(utt.audio)
        if isinstance(tr, Exception):
            await self._send(ErrorMsg(code=getattr(tr, "code", "STT_FAILED"), message=str(tr)))
            return
        t_done = time.perf_counter()
        if self.metrics is not None:
            self.metrics.transcripts.labels(tr.rejected or "ok").inc()
        if not tr.ok:
            log.debug("utterance %s rejected (%s): %r", uid, tr.rejected, tr.text)
            await self._send(TranscriptRejected(utterance_id=uid, reason=tr.rejected))
            return
        stt_ms = round(tr.processing_s * 1000.0, 2)
        await self._send(TranscriptFinal(utterance_id=uid, text=tr.text, language=tr.language,
                                         start_ms=round(utt.start_ms, 1),
                                         end_ms=round(utt.end_ms, 1), stt_ms=stt_ms,
                                         model=tr.model or None, turn_end=turn_end))
        turn = SpeechTurn(uid, t0, t_done, stt_ms, endpoint_ms)
        try:
            await self.session.input_text(tr.text, speech=turn)
        except ProtocolError as exc:
            await self._send(ErrorMsg(code=exc.code, message=str(exc)))

    def _maybe_partial(self) -> None:
        interval = self.settings.stt_partial_interval_ms
        if interval <= 0 or not self.vad.speaking or self._current is None:
            return
        now = time.perf_counter()
        if (self._partial_task is not None and not self._partial_task.done()) or \
                (now - self._last_partial) * 1000.0 < interval or \
                not getattr(self.stt, "idle", True):
            return
        self._last_partial = now
        self._partial_task = self._spawn(self._partial(self._current, self.vad.current_audio()))

    async def _partial(self, uid: int, audio: np.ndarray) -> None:
        with contextlib.suppress(STTError, ValueError):
            tr = await self.stt.transcribe(audio, language=self.session.language)
            if tr.ok and self._current == uid:
                await self._send(TranscriptPartial(utterance_id=uid, text=tr.text))

