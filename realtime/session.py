"""One conversation: its settings, history and responses. Transport-agnostic (WS today)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict

import orjson
from pydantic import ValidationError

from realtime.config import Settings
from realtime.auth import ANONYMOUS_USER
from realtime.characters import load_presets
from realtime.errors import ApiError, ProtocolError
from realtime.memory.conversation import Conversation, Memory, session_fields, turn_meta
from realtime.pipeline.persona import (
    Character, build_system_prompt, character_from_persona, default_character,
)
from realtime.pipeline.response import Response, Sink, TurnSpec
from realtime.pipeline.turn import TurnEngine
from realtime.protocol.messages import (
    CLIENT_TYPES, INPUT_SAMPLE_RATES, Animation, ErrorMsg, InputAudioClear, InputAudioCommit,
    InputText, PlaybackMark, Ping, Pong, ResponseCancel, ResponseInterrupted, ResponseSpeak,
    SessionConfig, SessionUpdate, SessionUpdated, client_message_adapter,
)
from realtime.voice.input import VoiceInput, VoiceTurn

log = logging.getLogger(__name__)


class Session:
    KEEP_RESPONSES = 32
    live_signal = staticmethod(lambda reason: None)  # gpu_host hook: api/ws.py sets it

    def __init__(self, settings: Settings, engine: TurnEngine, sink: Sink,
                 tg: asyncio.TaskGroup, voice_ids: set[str], *, vad_hub=None, stt=None,
                 metrics=None, memory: Memory | None = None, user_id: str = ANONYMOUS_USER,
                 session_id: str | None = None, find_character=None, limits=None,
                 bind_voice=None) -> None:
        self.id = session_id or uuid.uuid4().hex
        self.user_id = user_id
        self.find_character = find_character  # async (character_id, user_id) -> Character
        self.limits = limits
        self.bind_voice = bind_voice  # (Character) -> voice id | None
        self.conv = Conversation(memory, self.id, user_id) if memory is not None else None
        self.settings = settings
        self.engine = engine
        self.sink = sink
        self.tg = tg
        self.voice_ids = voice_ids
        self.character: Character = default_character()
        self.scenario = None
        self.language = self.character.language
        self.voice: str | None = None
        self.tts_enabled = True
        self.tts_mode = "realtime"
        self.tts_delay_ms = 0
        self.model = settings.llm_default_model
        self.temperature = settings.llm_temperature
        self.max_tokens = settings.llm_max_tokens
        self.responses: OrderedDict[int, Response] = OrderedDict()
        self.active: Response | None = None
        self._next_id = 1
        self.rate = settings.output_sample_rate
        self.metrics = metrics
        self.client_marks = False  # this client reports playback with playback.mark
        self.mic: VoiceInput | None = None
        if vad_hub is not None and stt is not None:
            self.mic = VoiceInput(self, settings, vad_hub, stt, metrics)

    # ------------------------------------------------------------------ config
    def config(self) -> SessionConfig:
        return SessionConfig(
            character_id=self.character.id, character_name=self.character.name,
            language=self.language, voice=self.voice, tts_enabled=self.tts_enabled,
            tts_mode=self.tts_mode, tts_delay_ms=self.tts_delay_ms, model=self.model,
            temperature=self.temperature, max_tokens=self.max_tokens,
            voice_input=self.mic is not None,
            input_languages=list(getattr(self.mic.stt, "languages", ["*"])) if self.mic else [],
            input_sample_rate=self.mic.rate if self.mic else self.settings.voice_input_sample_rate,
            turn_detection=self.mic.turn_detection if self.mic else
            self.settings.voice_turn_detection,
            barge_in=self.mic.barge_in if self.mic else self.settings.voice_barge_in)

    def system_prompt(self) -> str:
        return build_system_prompt(self.character, self.scenario, self.language)

    # ------------------------------------------------------------------ inbound
    async def handle_text_frame(self, raw: str) -> None:
        """Parse, validate and dispatch one JSON frame; errors become ``error`` events."""
        try:
            if len(raw.encode("utf-8", "surrogatepass")) > self.settings.ws_max_message_bytes:
                raise ProtocolError("MESSAGE_TOO_LARGE",
                                    f"message over {self.settings.ws_max_message_bytes} bytes")
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ProtocolError("INVALID_JSON", f"not valid JSON: {exc}") from exc
            if not isinstance(data, dict) or not isinstance(data.get("type"), str):
                raise ProtocolError("VALIDATION_ERROR", "a message is a JSON object with a 'type'")
            if data["type"] not in CLIENT_TYPES:
                raise ProtocolError("UNKNOWN_TYPE", f"unknown message type {data['type']!r}")
            try:
                msg = client_message_adapter.validate_python(data)
            except ValidationError as exc:
                raise ProtocolError("VALIDATION_ERROR", _short(exc)) from exc
            await self.dispatch(msg)
        except ProtocolError as exc:
            await self.sink.json(ErrorMsg(code=exc.code, message=str(exc),
                                          response_id=exc.response_id,
                                          retry_after=exc.retry_after))

    async def handle_binary_frame(self, data: bytes) -> None:
        """One microphone frame (PCM16LE at the session's input rate); errors become events."""
        try:
            if self.mic is None:
                raise ProtocolError("VOICE_DISABLED",
                                    "this server does not accept microphone audio "
                                    "(voice input is disabled or its models failed to load)")
            self.mic.accept(data, time.perf_counter())
        except ProtocolError as exc:
            await self.sink.json(ErrorMsg(code=exc.code, message=str(exc)))

    async def dispatch(self, msg) -> None:
        if isinstance(msg, SessionUpdate):
            await self.update(msg)
            await self.sink.json(SessionUpdated(session=self.config()))
        elif isinstance(msg, InputText):
            self.live_signal("input.text")  # gpu_host: take the GPU back for the conversation
            await self.input_text(msg.text)
        elif isinstance(msg, ResponseCancel):
            await self.cancel(msg.response_id)
        elif isinstance(msg, PlaybackMark):
            resp = self.responses.get(msg.response_id)
            if resp is None:
                raise ProtocolError("NOT_FOUND", f"no response {msg.response_id}", msg.response_id)
            self.client_marks = True
            resp.played_ms = max(resp.played_ms, min(msg.played_ms, resp.audio_ms))
            resp.mark_time = time.perf_counter()
        elif isinstance(msg, (InputAudioCommit, InputAudioClear)):
            if self.mic is None:
                raise ProtocolError("VOICE_DISABLED", "voice input is not available")
            if isinstance(msg, InputAudioCommit):
                self.mic.commit(time.perf_counter())
            else:
                self.mic.clear(time.perf_counter())
        elif isinstance(msg, ResponseSpeak):
            await self.speak(msg.response_id)
        elif isinstance(msg, Ping):
            loop = asyncio.get_running_loop()
            await self.sink.json(Pong(id=msg.id, server_time_ms=round(loop.time() * 1000, 1)))

    async def update(self, msg: SessionUpdate) -> None:
        """Validate everything first, then apply: a rejected update changes nothing."""
        character = self.character
        if msg.character_id is not None:
            character = await self._character(msg.character_id)
        if msg.persona is not None:
            character = character_from_persona(msg.persona)
        if msg.voice is not None and msg.voice not in self.voice_ids:
            raise ProtocolError("VALIDATION_ERROR", f"unknown voice {msg.voice!r}")
        if msg.model is not None and msg.model not in {m.id for m in self.settings.llm_models}:
            raise ProtocolError("NOT_FOUND", f"unknown model {msg.model!r}")
        if msg.input_sample_rate is not None and msg.input_sample_rate not in INPUT_SAMPLE_RATES:
            raise ProtocolError("UNSUPPORTED_SAMPLE_RATE",
                                f"input_sample_rate {msg.input_sample_rate} is not supported; "
                                f"use one of {', '.join(map(str, INPUT_SAMPLE_RATES))}")
        voice_fields = ("input_sample_rate", "turn_detection", "barge_in")
        if self.mic is None and any(getattr(msg, f) is not None for f in voice_fields):
            raise ProtocolError("VOICE_DISABLED", "voice input is not available on this server")
        if character is not self.character:
            self.character = character
            if msg.language is None:
                self.language = character.language
            if msg.voice is None:
                self.voice = self.bind_voice(character) if self.bind_voice else None
        if "scenario" in msg.model_fields_set:
            self.scenario = msg.scenario
        for name in ("language", "voice", "tts_enabled", "tts_mode", "tts_delay_ms", "model",
                     "temperature", "max_tokens"):
            value = getattr(msg, name)
            if value is not None:
                setattr(self, name, value)
        if self.mic is not None:
            if msg.input_sample_rate is not None:
                self.mic.set_rate(msg.input_sample_rate)
            if msg.turn_detection is not None:
                self.mic.set_turn_detection(msg.turn_detection)
            if msg.barge_in is not None:
                self.mic.barge_in = msg.barge_in

    async def _character(self, character_id: str) -> Character:
        if self.find_character is None:  # no store (unit use): the presets
            presets = load_presets()
            if character_id not in presets:
                raise ProtocolError("NOT_FOUND", f"unknown character {character_id!r}")
            return presets[character_id]
        try:
            return await self.find_character(character_id, self.user_id)
        except ApiError as exc:
            raise ProtocolError(exc.code, exc.message, retry_after=exc.retry_after) from None

    @property
    def history(self) -> list[dict]:
        """Earlier turns in the context (after the summary, if any)."""
        return self.conv.messages if self.conv is not None else []

    # ------------------------------------------------------------------ turns
    def _new_id(self) -> int:
        rid = self._next_id
        self._next_id += 1
        return rid

    async def input_text(self, text: str, voice: VoiceTurn | None = None) -> None:
        """A user turn, typed or (``voice``) transcribed: both go through here."""
        text = text.strip()
        if not text:
            raise ProtocolError("VALIDATION_ERROR", "text is empty")
        if len(text) > self.settings.max_text_chars:
            raise ProtocolError("TEXT_TOO_LONG",
                                f"text over {self.settings.max_text_chars} characters")
        if self.limits is not None:
            try:
                await self.limits.check_rate(self.user_id)
            except ApiError as exc:
                raise ProtocolError(exc.code, exc.message, retry_after=exc.retry_after) from None
        await self._interrupt(self.active, "new_input")
        t_context = time.perf_counter()
        system = self.system_prompt()
        if self.conv is not None:
            prepared, user = await self.conv.prepare(system, text, self.max_tokens,
                                                     self.language)
            messages = prepared.messages
        else:
            prepared, user = None, {"id": uuid.uuid4().hex, "role": "user", "content": text}
            messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
        spec = TurnSpec(
            response_id=self._new_id(), messages=messages, model=self.model,
            temperature=self.temperature, max_tokens=self.max_tokens, language=self.language,
            voice=self.voice, tts_enabled=self.tts_enabled, tts_mode=self.tts_mode,
            tts_delay_ms=self.tts_delay_ms, source="voice" if voice else "text",
            utterance_id=voice.utterance_id if voice else None)
        resp = Response(spec)
        resp.t0 = t_context  # building the prompt is server time the user waits for
        resp.timings.context_ms = round((time.perf_counter() - t_context) * 1000.0, 2)
        resp.user_message_id = user["id"]
        resp.message_id = uuid.uuid4().hex
        if prepared is not None:
            resp.context_summarized = prepared.summarized
            resp.context_tokens = prepared.prompt_tokens
        if voice is not None:
            resp.t0 = voice.t0
            t = resp.timings
            t.speech_stopped = 0.0
            t.stt_done = round((voice.stt_done - voice.t0) * 1000.0, 2)
            t.stt_ms = voice.stt_ms
            t.endpoint_ms = round(voice.endpoint_ms, 1)
        self._start(resp, user_text=user)

    async def speak(self, response_id: int) -> None:
        old = self.responses.get(response_id)
        if old is None or not old.finished.is_set():
            raise ProtocolError("NOT_FOUND", f"no finished response {response_id}", response_id)
        sentences = [s.text for s in old.sentences if s.text.strip()]
        if not sentences:
            raise ProtocolError("VALIDATION_ERROR", "that response has nothing to say", response_id)
        await self._interrupt(self.active, "new_input")
        spec = TurnSpec(
            response_id=self._new_id(), messages=[], model=self.model, temperature=0.0,
            max_tokens=0, language=old.spec.language, voice=old.spec.voice, tts_enabled=True,
            tts_mode="realtime", speak_sentences=sentences, source="speak")
        self._start(Response(spec), user_text=None)

    def _start(self, resp: Response, user_text: dict | None) -> None:
        resp.rate = self.rate
        self.responses[resp.id] = resp
        while len(self.responses) > self.KEEP_RESPONSES:
            self.responses.popitem(last=False)
        self.active = resp
        if user_text is not None and self.conv is not None:
            resp.on_finish = lambda: self._record(resp, user_text)
        resp.task = self.tg.create_task(self._run(resp, user_text), name=f"response-{resp.id}")

    async def _run(self, resp: Response, user: dict | None) -> None:
        try:
            await self.engine.run(resp, self.sink, self.rate)
        finally:
            if self.active is resp:
                self.active = None

    async def _record(self, resp: Response, user: dict) -> None:
        """Keep the turn: the context gets what the user heard; the store gets everything."""
        interrupted = resp.status == "interrupted"
        said = resp.heard_text() if interrupted else resp.text
        assistant = None
        if resp.text:
            assistant = {"id": resp.message_id, "role": "assistant", "content": said}
            resp.history_entry = assistant if said else None
        system = self.system_prompt()
        meta = turn_meta(resp, character_id=self.character.id, source=resp.spec.source,
                         heard=said, response_id=resp.id)
        try:
            await self.conv.record(user, assistant, meta=meta,
                                   session_doc=session_fields(self.character.id, user, system))
            self.conv.after_turn(system, self.max_tokens, self.language)
        except Exception:  # noqa: BLE001 - keeping history must never break the session
            log.exception("recording the turn failed")

    async def _interrupt(self, resp: Response | None, reason: str) -> bool:
        """Stop ``resp`` where the user's playback is: the one place a response is cut short.

        A running response is cancelled (LLM stream, synthesis, sending) and ends with
        ``response.done interrupted``; one that finished sending but is still playing at the
        client (barge-in) gets its history entry cut to what was heard. Both are announced with
        ``response.interrupted`` first, so the client flushes queued audio at once.
        """
        if resp is None:
            return False
        now = time.perf_counter()
        running = resp.task is not None and not resp.task.done()
        if running and resp.stop_ms is not None:  # already being cut (barge-in and a new turn
            await asyncio.wait({resp.task})         # can race): announce it once, wait for it
            return False
        if not running and not (reason == "barge_in" and resp.status == "completed"
                                and resp.still_playing(now, self.client_marks)):
            return False
        resp.stop_ms = round(resp.playback_ms(now, self.client_marks), 1)
        heard = resp.heard_text()
        await self.sink.json(ResponseInterrupted(response_id=resp.id, reason=reason,
                                                 played_ms=resp.stop_ms, heard_text=heard))
        if running:
            if resp.interrupt() and resp.task is not None:
                await asyncio.wait({resp.task})  # history is updated when the task ends
            return True
        resp.status = "interrupted"
        entry = resp.history_entry
        if entry is not None and self.conv is not None:
            await self.conv.edit(entry, heard)
        await self.sink.json(Animation(response_id=resp.id, t_ms=resp.stop_ms,
                                       action="talk_end"))
        return True

    async def barge_in(self, t_speech: float) -> bool:
        """The user started talking: cut the response being generated or played, if any."""
        target = self.active
        if target is None and self.responses:
            target = next(reversed(self.responses.values()))
        done = await self._interrupt(target, "barge_in")
        if done and self.metrics is not None:
            self.metrics.barge_ins.inc()
            self.metrics.barge_in_latency.observe(time.perf_counter() - t_speech)
        return done

    async def cancel(self, response_id: int | None) -> None:
        resp = self.active if response_id is None else self.responses.get(response_id)
        if resp is None:
            if response_id is not None:
                raise ProtocolError("NOT_FOUND", f"no response {response_id}", response_id)
            return  # nothing active: cancelling nothing is fine
        await self._interrupt(resp, "cancel")

    async def close(self) -> None:
        """Stop everything (client gone): LLM streams and synthesis end here."""
        if self.mic is not None:
            self.mic.close()
        for resp in list(self.responses.values()):
            if resp.task and not resp.task.done():
                resp.task.cancel()
        for resp in list(self.responses.values()):
            if resp.task:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await resp.task
        if self.conv is not None:
            with contextlib.suppress(Exception):
                await self.conv.close()


def _short(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(x) for x in err["loc"][1:] or err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
