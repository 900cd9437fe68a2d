"""One session's microphone: validate binary frames, resample to 16 kHz, VAD, endpointing, STT.

Frames are checked and queued by the receive loop (:meth:`MicInput.accept`, never blocks);
the shared :class:`~realtime.listen.hub.VadHub` takes what every session has queued, runs the
model for all of them at once, and hands each session its result (:meth:`MicInput.vad_done`,
synchronous, on the event loop; replies go out in tasks of the session's group):

* ``vad.speech_started`` / ``vad.speech_stopped`` events (positions in the session's input audio);
* barge-in as soon as the current speech run lasts ``voice_barge_in_min_ms`` (before the VAD has
  confirmed a turn, so the avatar stops within about 100 ms of the user starting to speak);
* at the end of a turn, the utterance goes to speech-to-text in a task of its own; a transcript
  that passes the hallucination guards becomes a turn, exactly like ``input.text``.

Control messages (``input.audio.commit`` / ``.clear``) go through the same queue and are run by
the hub between batches, so they act on exactly the audio that arrived before them, and the VAD
state is never touched while the model runs. No task wakes per frame: at 150 sessions that is
7,500 frames a second, and the event loop is the bottleneck.

Frames are admitted by :class:`~realtime.listen.frames.FrameGate` (sizes, the leaky bucket
against clients running ahead of real time, resampling). Utterances are capped by
``vad_max_utterance_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Protocol

import numpy as np

from realtime.errors import ProtocolError
from realtime.listen.endings import unfinished
from realtime.listen.frames import FrameGate
from realtime.listen.transcription import AUTO, SpeechTurn, Transcription
from realtime.protocol.messages import (
    AudioCleared, AudioCommitted, ErrorMsg, SpeechStarted, SpeechStopped,
)
from realtime.listen.vad import SAMPLE_RATE, StreamingVad, Utterance, VadEvent, VadOptions

if TYPE_CHECKING:  # pragma: no cover
    from realtime.config import Settings
    from realtime.pipeline.response import Sink

log = logging.getLogger(__name__)



def vad_options(s: Settings) -> VadOptions:
    return VadOptions(threshold=s.vad_threshold, neg_threshold=s.vad_neg_threshold,
                      min_speech_ms=s.vad_min_speech_ms, end_silence_ms=s.vad_end_silence_ms,
                      pre_roll_ms=s.vad_pre_roll_ms, post_roll_ms=s.vad_post_roll_ms,
                      max_utterance_s=s.vad_max_utterance_s)


class Listener(Protocol):
    """What the microphone needs of its conversation (a ``Session``, or any other adapter)."""

    sink: Sink
    language: str  # the conversation's language: which speech-to-text model hears it

    def spawn(self, coro, name: str | None = None) -> asyncio.Task: ...

    async def barge_in(self, t_speech: float) -> bool: ...

    def live_signal(self, reason: str) -> None: ...  # gpu_host: speech began, wake the GPU

    async def input_text(self, text: str, speech: SpeechTurn | None = None) -> None: ...




class MicInput(Transcription):
    def __init__(self, session: Listener, settings: Settings, hub, stt, metrics=None,
                 smart_turn=None) -> None:
        self.session = session
        self.settings = settings
        self.hub = hub
        self.stt = stt
        self.metrics = metrics
        self.smart_turn = smart_turn  # SmartTurnModel, or None (semantic_vad unavailable)
        self.frames = FrameGate(settings.voice_input_sample_rate, settings.voice_max_ahead_ms,
                                metrics)
        self.barge_in = settings.voice_barge_in
        self.vad = StreamingVad(hub.model, vad_options(settings))
        self.turn_detection = ""
        self.set_turn_detection(settings.voice_turn_detection
                                if settings.voice_turn_detection != "semantic_vad" or smart_turn
                                else "server_vad")
        self._judged: tuple[float, float] | None = None  # (pause start, silence) last asked
        self._judging = False  # a question to the end-of-turn model is running
        self._held: float | None = None  # a pause whose words read unfinished
        # ("audio", x16k, t, ms) | ("commit"|"clear", t) | ("vad", VadOptions)
        self._queue: deque[tuple] = deque()
        self.closed = False
        self._tasks: set[asyncio.Task] = set()  # STT / partial tasks in the session's group
        self._next_id = 0
        self._current: int | None = None  # utterance in progress
        self._barged = False  # barge-in considered for the current speech run
        self._manual: list[np.ndarray] = []
        self._manual_len = 0
        self._manual_start_ms = 0.0
        self._spec: tuple[float, asyncio.Task] | None = None  # (silence start, STT task)
        self._partial_task: asyncio.Task | None = None
        self._last_partial = 0.0
        self._max_samples = int(settings.vad_max_utterance_s * SAMPLE_RATE)

    # ------------------------------------------------------------------ configuration
    def set_turn_detection(self, mode: str) -> None:
        if mode == "semantic_vad" and self.smart_turn is None:
            raise ProtocolError("VALIDATION_ERROR", "semantic_vad needs the end-of-turn model, "
                                                    "which this server does not have")
        if mode != self.turn_detection:
            self.turn_detection = mode
            self._manual, self._manual_len = [], 0  # push-to-talk audio not committed is dropped
            s = self.settings  # with the model deciding, silence alone ends a turn later
            self.vad.set_end_silence(s.smart_turn_max_silence_ms if mode == "semantic_vad"
                                     else s.vad_end_silence_ms)

    def set_vad(self, options: VadOptions) -> None:
        """New VAD options for the audio that follows (queued like commit/clear)."""
        self._put(("vad", options))

    @property
    def rate(self) -> int:
        return self.frames.rate

    def set_rate(self, rate: int) -> None:
        self.frames.rate = rate

    @property
    def received_ms(self) -> float:
        return self.frames.received_ms

    @property
    def dropped_frames(self) -> int:
        return self.frames.dropped_frames

    # ------------------------------------------------------------------ receive side
    def accept(self, data: bytes, now: float) -> None:
        """Validate one binary frame and queue it. Raises :class:`ProtocolError`."""
        got = self.frames.admit(data, now)
        if got is not None:
            self._put(("audio", got[0], now, got[1]))

    def commit(self, now: float) -> None:
        self._put(("commit", now))

    def clear(self, now: float) -> None:
        self._put(("clear", now))

    def _put(self, item: tuple) -> None:
        self._queue.append(item)
        self.hub.submit(self)

    def _spawn(self, coro, name: str | None = None) -> asyncio.Task:
        task = self.session.spawn(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _emit(self, msg) -> None:
        """Send without blocking the hub (tasks start in order; the sink's lock keeps it)."""
        self._spawn(self._send(msg))

    def close(self) -> None:
        """Stop: no more VAD for this session, transcriptions cancelled (the client is gone)."""
        self.closed = True
        self._queue.clear()
        for task in list(self._tasks):
            task.cancel()

    # ------------------------------------------------------------------ called by the VadHub
    def take_audio(self) -> tuple[np.ndarray, list[float]] | None:
        """Run the control messages at the head of the queue, then hand the hub the audio that
        follows them (up to the next control message). None: no audio to run."""
        while self._queue and self._queue[0][0] != "audio" and not self.closed:
            kind, arg = self._queue.popleft()  # arg: the time it arrived, or VadOptions
            try:
                if kind == "commit":
                    self._commit(arg)
                elif kind == "vad":
                    self.vad.configure(arg)
                    if self.turn_detection == "semantic_vad":  # the model decides first
                        self.vad.set_end_silence(self.settings.smart_turn_max_silence_ms)
                else:
                    self._clear()
            except ProtocolError as exc:
                self._emit(ErrorMsg(code=exc.code, message=str(exc)))
        if not self._queue or self.closed:
            return None
        chunks, received = [], []
        while self._queue and self._queue[0][0] == "audio":
            _, x, t, ms = self._queue.popleft()
            chunks.append(x)
            received.append(t)
            self.frames.queued_ms -= ms
        return (chunks[0] if len(chunks) == 1 else np.concatenate(chunks)), received

    def vad_done(self, events: list[VadEvent | Utterance], pcm: np.ndarray,
                 received: list[float]) -> None:
        """The VAD ran over ``pcm``: act on it (synchronously; sending happens in tasks)."""
        if self.closed:
            return
        t = received[0]
        self._on_vad(events, t)
        if self.turn_detection == "manual":
            self._buffer_manual(pcm, t)
        self._maybe_barge_in(t)
        self._maybe_speculate()
        self._maybe_judge()
        self._maybe_partial()
        if self._queue:  # a control message (or more audio) is waiting
            self.hub.submit(self)

    def vad_failed(self, exc: Exception) -> None:
        if not self.closed:
            self._emit(ErrorMsg(code="VAD_FAILED", message=f"voice detection: {exc}"))

    # ------------------------------------------------------------------ turn-taking
    def _on_vad(self, events: list[VadEvent | Utterance], t: float,
                smart_endpoint_ms: float | None = None) -> None:
        """``smart_endpoint_ms``: the end-of-turn model ended this turn after that much silence
        (else the VAD's own rules did)."""
        for i, ev in enumerate(events):
            if isinstance(ev, VadEvent):
                if ev.kind == "speech_started":
                    self.session.live_signal("speech_started")  # gpu_host: wake the conversation
                    self._next_id += 1
                    self._current = self._next_id
                    self._emit(SpeechStarted(utterance_id=self._current, t_ms=ev.t_ms))
                else:
                    nxt = events[i + 1] if i + 1 < len(events) else None
                    forced = isinstance(nxt, Utterance) and nxt.forced
                    self._emit(SpeechStopped(
                        utterance_id=self._current or 0, t_ms=ev.t_ms, forced=forced,
                        turn_end=None if self.turn_detection not in AUTO else
                        _rule(forced, smart_endpoint_ms)))
            elif self.turn_detection in AUTO:
                uid = self._current or self._new_id()
                endpoint = 0.0 if ev.forced else smart_endpoint_ms \
                    if smart_endpoint_ms is not None else self.vad.end_silence_window_ms
                spec, self._spec = self._spec, None
                task = None
                if spec is not None:
                    stop = events[i - 1] if i else None
                    if (isinstance(stop, VadEvent) and not ev.forced
                            and abs(stop.t_ms - spec[0]) < 1e-6):
                        task = spec[1]  # the silence that began it ended the turn: use it
                    else:
                        spec[1].cancel()
                self._transcribe(uid, ev, t, endpoint, task, _rule(ev.forced, smart_endpoint_ms))
                self._current = None
            else:
                self._current = None

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _maybe_barge_in(self, t: float) -> None:
        run = self.vad.run_ms
        if run == 0.0:
            self._barged = False
            return
        if self._barged or run < self.settings.voice_barge_in_min_ms:
            return
        self._barged = True  # speech that began before a response started never cuts it
        if self.barge_in:
            self._spawn(self.session.barge_in(t), "barge-in")

    def _buffer_manual(self, pcm: np.ndarray, t: float) -> None:
        if not self._manual:
            self._manual_start_ms = self.vad.position_ms - len(pcm) * 1000.0 / SAMPLE_RATE
        self._manual.append(pcm)
        self._manual_len += len(pcm)
        if self._manual_len >= self._max_samples:  # push-to-talk held too long: end it here
            self._emit(SpeechStopped(utterance_id=self._current or self._new_id(),
                                     t_ms=self.vad.position_ms, forced=True,
                                     turn_end="max_length"))
            self._commit(t, forced=True)

    def _commit(self, t: float, forced: bool = False) -> None:
        if self.turn_detection == "manual":
            if not self._manual:
                raise ProtocolError("AUDIO_BUFFER_EMPTY", "no audio since the last commit/clear")
            audio = np.concatenate(self._manual)[: self._max_samples]
            utt = Utterance(audio, self._manual_start_ms, self.vad.position_ms, forced)
            self._manual, self._manual_len = [], 0
            self.vad.clear()
        else:
            utt = self.vad.commit()
            if utt is None:
                raise ProtocolError("AUDIO_BUFFER_EMPTY",
                                    "no speech in progress to commit (nothing since the last turn)")
        self._drop_spec()
        uid = self._current or self._new_id()
        self._current = None
        self._barged = False
        self._emit(AudioCommitted(utterance_id=uid, start_ms=round(utt.start_ms, 1),
                                  end_ms=round(utt.end_ms, 1)))
        self._transcribe(uid, utt, t, 0.0, turn_end="max_length" if forced else "commit")

    def _clear(self) -> None:
        self.vad.clear()
        self._manual, self._manual_len = [], 0
        self._drop_spec()
        self._current = None
        self._barged = False
        self._emit(AudioCleared(t_ms=round(self.vad.position_ms, 1)))

    # ------------------------------------------------------------------ end of turn (model)
    def _maybe_judge(self) -> None:
        """semantic_vad: during a pause, after a short silence and again every
        ``smart_turn_interval_ms``, ask the model whether the utterance is complete; if so (and
        the words do not say otherwise), the turn ends now instead of after the long silence."""
        if self.turn_detection != "semantic_vad" or not self.vad.speaking or self._judging:
            return
        silence = self.vad.silence_ms
        if silence < self.settings.smart_turn_silence_ms:
            return
        start = self.vad.silence_start_ms
        if self._held == start:  # the words said "unfinished": the long silence decides
            return
        if self._judged is not None and self._judged[0] == start:
            every = self.settings.smart_turn_interval_ms
            if every <= 0 or silence < self._judged[1] + every:
                return
        self._judged = (start, silence)
        self._judging = True
        self._spawn(self._judge(start, self.vad.current_audio()), "end-of-turn")

    async def _judge(self, start: float, audio: np.ndarray) -> None:
        try:
            await self._judge_pause(start, audio)
        finally:
            self._judging = False

    async def _judge_pause(self, start: float, audio: np.ndarray) -> None:
        try:
            p = await self.smart_turn.probability(audio)
        except Exception:  # noqa: BLE001 - the long silence still ends the turn
            log.exception("end-of-turn model failed")
            return
        if not self._same_pause(start) or p < self.settings.smart_turn_threshold:
            return  # speaking again, the turn already ended, or a pause inside the utterance
        spec = self._spec
        if spec is not None and spec[0] == start:  # the words of this pause are on their way
            await asyncio.wait({spec[1]})
            if not self._same_pause(start):
                return
            tr = None if spec[1].cancelled() else spec[1].result()
            if getattr(tr, "ok", False) and unfinished(tr.text, tr.language):
                self._held = start  # "My favourite food is...": wait for more, or the silence
                log.debug("end of turn held: %r sounds complete but reads unfinished", tr.text)
                return
        silence = self.vad.silence_ms
        self._on_vad(self.vad.end_turn(), time.perf_counter(), smart_endpoint_ms=silence)

    def _same_pause(self, start: float) -> bool:
        vad = self.vad
        return not self.closed and vad.speaking and bool(vad.silence_ms) and \
            vad.silence_start_ms == start

    async def _send(self, msg) -> None:
        await self.session.sink.json(msg)


def _rule(forced: bool, smart_endpoint_ms: float | None) -> str:
    return "max_length" if forced else "smart_turn" if smart_endpoint_ms is not None \
        else "silence"
