"""One conversation on ``/ws``: its settings, inbound frames, turns and history.

Responses are started and cut by the conversation's :class:`~realtime.pipeline.floor.Floor`
(the one owner of the speaking turn); this class turns inputs into responses and keeps their
turns in the :class:`~realtime.memory.conversation.Conversation`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from pydantic import ValidationError

from realtime.config import Settings
from realtime.auth import ANONYMOUS_USER
from realtime.characters import load_presets
from realtime.characters.store import voice_owner
from realtime.errors import ApiError, ProtocolError
from realtime.memory.conversation import (
    Conversation, Memory, new_id, session_fields, turn_meta,
)
from realtime.pipeline.persona import (
    Character, build_system_prompt, character_from_persona, default_character,
)
from realtime.pipeline.floor import Floor
from realtime.pipeline.response import Response, Sink, TurnSpec
from realtime.pipeline.turn import TurnEngine
from realtime.protocol.messages import (
    CLIENT_TYPES, INPUT_SAMPLE_RATES, ErrorMsg, InputAudioClear, InputAudioCommit,
    InputText, PlaybackMark, Ping, Pong, ResponseCancel, ResponseSpeak,
    SessionConfig, SessionUpdate, SessionUpdated, client_message_adapter,
)
from realtime.listen.mic import MicInput, SpeechTurn
from realtime.protocol.frames import parse_event
from realtime.pipeline.language import detect_language

log = logging.getLogger(__name__)


class Session:
    KEEP_RESPONSES = Floor.KEEP_RESPONSES
    live_signal = staticmethod(lambda reason: None)  # gpu_host hook: api/ws.py sets it

    def __init__(self, settings: Settings, engine: TurnEngine, sink: Sink,
                 tg: asyncio.TaskGroup, voice_ids: set[str], *, vad_hub=None, stt=None,
                 metrics=None, memory: Memory | None = None, user_id: str = ANONYMOUS_USER,
                 session_id: str | None = None, find_character=None, limits=None,
                 bind_voice=None, release_voice=None, smart_turn=None,
                 rate: int | None = None) -> None:
        self.id = session_id or new_id()
        self.user_id = user_id
        self.find_character = find_character  # async (character_id, user_id) -> Character
        self.limits = limits
        self.bind_voice = bind_voice  # (Character) -> voice id | None (a bound one is released)
        self.release_voice = release_voice  # (voice id) -> None
        self._bound_voice: str | None = None
        self.conv = Conversation(memory, self.id, user_id) if memory is not None else None
        self.settings = settings
        self.engine = engine
        self.sink = sink
        self.tg = tg
        self.voice_ids = voice_ids
        self.character: Character = default_character()
        self.scenario = None
        self.language = self.character.language
        self.language_given = False  # set by session.update: else each input's script decides
        self.voice: str | None = None
        self.tts_enabled = True
        self.tts_mode = "realtime"
        self.tts_delay_ms = 0
        self.model = settings.llm_default_model
        self.temperature = settings.llm_temperature
        self.max_tokens = settings.llm_max_tokens
        self.rate = rate or settings.output_sample_rate  # /v1/realtime: always 24 kHz
        self.metrics = metrics
        self.floor = Floor(engine, sink, rate=self.rate, spawn=self.spawn, metrics=metrics)
        self.mic: MicInput | None = None
        if vad_hub is not None and stt is not None:
            self.mic = MicInput(self, settings, vad_hub, stt, metrics, smart_turn=smart_turn)

    def spawn(self, coro, name: str | None = None) -> asyncio.Task:
        """A task in this session's group (ends with the session)."""
        return self.tg.create_task(coro, name=name)

    # ------------------------------------------------------------------ config
    def config(self) -> SessionConfig:
        return SessionConfig(
            character_id=self.character.id, character_name=self.character.name,
            language=self.language, voice=self.voice, tts_enabled=self.tts_enabled,
            tts_mode=self.tts_mode, tts_delay_ms=self.tts_delay_ms, model=self.model,
            temperature=self.temperature, max_tokens=self.max_tokens,
            voice_input=self.mic is not None,
            input_languages=self._input_languages(),
            input_sample_rate=self.mic.rate if self.mic else self.settings.voice_input_sample_rate,
            turn_detection=self.mic.turn_detection if self.mic else
            self.settings.voice_turn_detection,
            barge_in=self.mic.barge_in if self.mic else self.settings.voice_barge_in,
            answer_languages=self.settings.answer_languages)

    def _input_languages(self) -> list[str]:
        """What this conversation's speech input understands, in its current language."""
        if self.mic is None:
            return []
        stt = self.mic.stt
        if hasattr(stt, "languages_for"):
            return list(stt.languages_for(self.language))
        return list(getattr(stt, "languages", ["*"]))

    def system_prompt(self) -> str:
        return build_system_prompt(self.character, self.scenario, self.language)

    # ------------------------------------------------------------------ inbound
    async def handle_text_frame(self, raw: str) -> None:
        """Parse, validate and dispatch one JSON frame; errors become ``error`` events."""
        try:
            data = parse_event(raw, self.settings.ws_max_message_bytes)
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
            resp = self.floor.responses.get(msg.response_id)
            if resp is None:
                raise ProtocolError("NOT_FOUND", f"no response {msg.response_id}", msg.response_id)
            self.floor.mark(resp, msg.played_ms)
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
        voice_of = None  # the user's character whose own voice msg.voice names
        if msg.voice is not None and msg.voice not in self.voice_ids:
            owner_id = voice_owner(msg.voice)
            if owner_id is None:
                raise ProtocolError("VALIDATION_ERROR", f"unknown voice {msg.voice!r}")
            voice_of = await self._character(owner_id)
        if msg.model is not None and msg.model not in {m.id for m in self.settings.llm_models}:
            raise ProtocolError("NOT_FOUND", f"unknown model {msg.model!r}")
        if msg.input_sample_rate is not None and msg.input_sample_rate not in INPUT_SAMPLE_RATES:
            raise ProtocolError("UNSUPPORTED_SAMPLE_RATE",
                                f"input_sample_rate {msg.input_sample_rate} is not supported; "
                                f"use one of {', '.join(map(str, INPUT_SAMPLE_RATES))}")
        if msg.turn_detection == "semantic_vad" and self.mic is not None \
                and self.mic.smart_turn is None:
            raise ProtocolError("VALIDATION_ERROR", "semantic_vad needs the end-of-turn model, "
                                                    "which this server does not have")
        voice_fields = ("input_sample_rate", "turn_detection", "barge_in")
        if self.mic is None and any(getattr(msg, f) is not None for f in voice_fields):
            raise ProtocolError("VOICE_DISABLED", "voice input is not available on this server")
        if character is not self.character:
            self.character = character
            if msg.language is None:
                self.language = character.language
            if msg.voice is None:
                self._use_voice(self._bind(character), bound=True)
        if voice_of is not None:
            self._use_voice(self._bind(voice_of), bound=True)
        elif msg.voice is not None:
            self._use_voice(msg.voice, bound=False)
        if "scenario" in msg.model_fields_set:
            self.scenario = msg.scenario
        self.language_given = self.language_given or msg.language is not None
        for name in ("language", "tts_enabled", "tts_mode", "tts_delay_ms", "model",
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

    def _bind(self, character: Character) -> str | None:
        return self.bind_voice(character) if self.bind_voice else None

    def _use_voice(self, voice: str | None, *, bound: bool) -> None:
        """Speak with ``voice`` from now on; a character voice bound before is given back once
        no response still uses it."""
        old, self._bound_voice = self._bound_voice, voice if bound else None
        self.voice = voice
        if old and self.release_voice is not None:
            waiting = [r.finished for r in self.floor.responses.values()
                       if not r.finished.is_set()]
            if waiting:
                self.spawn(self._release_after(old, waiting), name="voice-release")
            else:
                self.release_voice(old)

    async def _release_after(self, voice: str, waiting: list[asyncio.Event]) -> None:
        try:
            for event in waiting:
                await event.wait()
        finally:
            self.release_voice(voice)

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
    @property
    def responses(self):
        return self.floor.responses

    @property
    def active(self) -> Response | None:
        return self.floor.active

    async def input_text(self, text: str, speech: SpeechTurn | None = None) -> Response:
        """A user turn, typed or (``speech``) transcribed: both go through here. The new
        response takes the floor at once (cutting the live one); its prompt is built inside it."""
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
        if not self.language_given:
            self.language = detect_language(text, self.character.language)
        user = {"id": new_id(), "role": "user", "content": text}
        spec = TurnSpec(
            response_id=self.floor.next_id(), messages=[], model=self.model,
            temperature=self.temperature, max_tokens=self.max_tokens, language=self.language,
            voice=self.voice, tts_enabled=self.tts_enabled, tts_mode=self.tts_mode,
            tts_delay_ms=self.tts_delay_ms, source="voice" if speech else "text",
            utterance_id=speech.utterance_id if speech else None)
        resp = Response(spec)
        resp.user_message_id = user["id"]
        resp.message_id = new_id()
        resp.prepare = self._preparer(user, self.system_prompt())
        resp.keeper = _SessionKeeper(self, user, self.character.id) if self.conv else None
        if speech is not None:
            resp.t0 = speech.t0
            t = resp.timings
            t.speech_stopped = 0.0
            t.stt_done = round((speech.stt_done - speech.t0) * 1000.0, 2)
            t.stt_ms = speech.stt_ms
            t.endpoint_ms = round(speech.endpoint_ms, 1)
        return self.floor.start(resp)

    def _preparer(self, user: dict, system: str):
        """The prompt for this turn, built when the response runs (history, summary, budget)."""
        max_tokens, language = self.max_tokens, self.language

        async def prepare(resp: Response) -> None:
            t_context = time.perf_counter()
            if self.conv is not None:
                prepared = await self.conv.prepare(system, user, max_tokens, language)
                resp.spec.messages = prepared.messages
                resp.context_summarized = prepared.summarized
                resp.context_tokens = prepared.prompt_tokens
            else:
                resp.spec.messages = [{"role": "system", "content": system},
                                      {"role": "user", "content": user["content"]}]
            resp.timings.context_ms = round((time.perf_counter() - t_context) * 1000.0, 2)

        return prepare

    async def speak(self, response_id: int) -> None:
        old = self.floor.responses.get(response_id)
        if old is None or not old.finished.is_set():
            raise ProtocolError("NOT_FOUND", f"no finished response {response_id}", response_id)
        sentences = [s.text for s in old.sentences if s.text.strip()]
        if not sentences:
            raise ProtocolError("VALIDATION_ERROR", "that response has nothing to say", response_id)
        spec = TurnSpec(
            response_id=self.floor.next_id(), messages=[], model=self.model, temperature=0.0,
            max_tokens=0, language=old.spec.language, voice=old.spec.voice, tts_enabled=True,
            tts_mode="realtime", speak_sentences=sentences, source="speak")
        self.floor.start(Response(spec))

    async def barge_in(self, t_speech: float) -> bool:
        """The user started talking: cut the response being generated or played, if any."""
        done = await self.floor.interrupt(self.floor.active or self.floor.latest(), "barge_in")
        if done and self.metrics is not None:
            self.metrics.barge_ins.inc()
            self.metrics.barge_in_latency.observe(time.perf_counter() - t_speech)
        return done

    async def cancel(self, response_id: int | None) -> None:
        resp = self.floor.active if response_id is None else self.floor.responses.get(response_id)
        if resp is None:
            if response_id is not None:
                raise ProtocolError("NOT_FOUND", f"no response {response_id}", response_id)
            return  # nothing active: cancelling nothing is fine
        await self.floor.interrupt(resp, "cancel")

    async def close(self) -> None:
        """Stop everything (client gone): LLM streams and synthesis end here, turns are kept."""
        if self.mic is not None:
            self.mic.close()
        await self.floor.close()
        self._use_voice(None, bound=False)
        if self.conv is not None:
            with contextlib.suppress(Exception):
                await self.conv.close()


class _SessionKeeper:
    """Keeps a session's turn: the context gets what the user heard; the store gets everything."""

    def __init__(self, session: Session, user: dict, character_id: str) -> None:
        self.session, self.user, self.character_id = session, user, character_id

    async def keep(self, resp: Response) -> None:
        s = self.session
        said = resp.answer_as_heard()
        assistant = None
        if resp.text:
            assistant = {"id": resp.message_id, "role": "assistant", "content": said}
            resp.history_entry = assistant if said else None
        resp.kept = said
        system = s.system_prompt()
        meta = turn_meta(resp, character_id=self.character_id, source=resp.spec.source,
                         heard=said, response_id=resp.id)
        await s.conv.record(self.user, assistant, meta=meta,
                            session_doc=session_fields(self.character_id, self.user, system))
        s.conv.after_turn(system, s.max_tokens, s.language)

    async def amend(self, resp: Response) -> None:
        heard = resp.answer_as_heard()
        if not resp.text or heard == resp.kept:
            return
        resp.kept = heard  # before the await: a second amend is a no-op
        await self.session.conv.edit(resp.history_entry or {"id": resp.message_id}, heard,
                                     after=self.user["id"])


def _short(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(x) for x in err["loc"][1:] or err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
