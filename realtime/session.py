"""One conversation: its settings, history and responses. Transport-agnostic (WS today)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import OrderedDict, deque

import orjson
from pydantic import ValidationError

from realtime.config import Settings
from realtime.pipeline.persona import (
    BUILTIN_CHARACTERS, DEFAULT_CHARACTER_ID, Character, build_system_prompt,
    character_from_persona,
)
from realtime.pipeline.response import Response, Sink, TurnSpec
from realtime.pipeline.turn import TurnEngine
from realtime.protocol.messages import (
    CLIENT_TYPES, ErrorMsg, InputText, PlaybackMark, Ping, Pong, ResponseCancel, ResponseSpeak,
    SessionConfig, SessionUpdate, SessionUpdated, client_message_adapter,
)


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, response_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.response_id = response_id


class Session:
    KEEP_RESPONSES = 32

    def __init__(self, settings: Settings, engine: TurnEngine, sink: Sink,
                 tg: asyncio.TaskGroup, voice_ids: set[str]) -> None:
        self.id = uuid.uuid4().hex
        self.settings = settings
        self.engine = engine
        self.sink = sink
        self.tg = tg
        self.voice_ids = voice_ids
        self.character: Character = BUILTIN_CHARACTERS[DEFAULT_CHARACTER_ID]
        self.scenario = None
        self.language = self.character.language
        self.voice: str | None = None
        self.tts_enabled = True
        self.tts_mode = "realtime"
        self.tts_delay_ms = 0
        self.model = settings.llm_default_model
        self.temperature = settings.llm_temperature
        self.max_tokens = settings.llm_max_tokens
        self.history: deque[dict[str, str]] = deque(maxlen=settings.history_max_messages)
        self.responses: OrderedDict[int, Response] = OrderedDict()
        self.active: Response | None = None
        self._next_id = 1
        self.rate = settings.output_sample_rate

    # ------------------------------------------------------------------ config
    def config(self) -> SessionConfig:
        return SessionConfig(
            character_id=self.character.id, character_name=self.character.name,
            language=self.language, voice=self.voice, tts_enabled=self.tts_enabled,
            tts_mode=self.tts_mode, tts_delay_ms=self.tts_delay_ms, model=self.model,
            temperature=self.temperature, max_tokens=self.max_tokens)

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
                                          response_id=exc.response_id))

    async def dispatch(self, msg) -> None:
        if isinstance(msg, SessionUpdate):
            self.update(msg)
            await self.sink.json(SessionUpdated(session=self.config()))
        elif isinstance(msg, InputText):
            await self.input_text(msg.text)
        elif isinstance(msg, ResponseCancel):
            await self.cancel(msg.response_id)
        elif isinstance(msg, PlaybackMark):
            resp = self.responses.get(msg.response_id)
            if resp is None:
                raise ProtocolError("NOT_FOUND", f"no response {msg.response_id}", msg.response_id)
            resp.played_ms = max(resp.played_ms, msg.played_ms)
        elif isinstance(msg, ResponseSpeak):
            await self.speak(msg.response_id)
        elif isinstance(msg, Ping):
            loop = asyncio.get_running_loop()
            await self.sink.json(Pong(id=msg.id, server_time_ms=round(loop.time() * 1000, 1)))

    def update(self, msg: SessionUpdate) -> None:
        """Validate everything first, then apply: a rejected update changes nothing."""
        character = self.character
        if msg.character_id is not None:
            if msg.character_id not in BUILTIN_CHARACTERS:
                raise ProtocolError("NOT_FOUND", f"unknown character {msg.character_id!r}")
            character = BUILTIN_CHARACTERS[msg.character_id]
        if msg.persona is not None:
            character = character_from_persona(msg.persona)
        if msg.voice is not None and msg.voice not in self.voice_ids:
            raise ProtocolError("VALIDATION_ERROR", f"unknown voice {msg.voice!r}")
        if msg.model is not None and msg.model not in {m.id for m in self.settings.llm_models}:
            raise ProtocolError("NOT_FOUND", f"unknown model {msg.model!r}")
        if character is not self.character:
            self.character = character
            if msg.language is None:
                self.language = character.language
        if "scenario" in msg.model_fields_set:
            self.scenario = msg.scenario
        for name in ("language", "voice", "tts_enabled", "tts_mode", "tts_delay_ms", "model",
                     "temperature", "max_tokens"):
            value = getattr(msg, name)
            if value is not None:
                setattr(self, name, value)

    # ------------------------------------------------------------------ turns
    def _new_id(self) -> int:
        rid = self._next_id
        self._next_id += 1
        return rid

    async def input_text(self, text: str) -> None:
        text = text.strip()
        if not text:
            raise ProtocolError("VALIDATION_ERROR", "text is empty")
        if len(text) > self.settings.max_text_chars:
            raise ProtocolError("TEXT_TOO_LONG",
                                f"text over {self.settings.max_text_chars} characters")
        await self._interrupt_active()
        messages = [{"role": "system", "content": self.system_prompt()}, *self.history,
                    {"role": "user", "content": text}]
        spec = TurnSpec(
            response_id=self._new_id(), messages=messages, model=self.model,
            temperature=self.temperature, max_tokens=self.max_tokens, language=self.language,
            voice=self.voice, tts_enabled=self.tts_enabled, tts_mode=self.tts_mode,
            tts_delay_ms=self.tts_delay_ms)
        self._start(Response(spec), user_text=text)

    async def speak(self, response_id: int) -> None:
        old = self.responses.get(response_id)
        if old is None or not old.finished.is_set():
            raise ProtocolError("NOT_FOUND", f"no finished response {response_id}", response_id)
        sentences = [s.text for s in old.sentences if s.text.strip()]
        if not sentences:
            raise ProtocolError("VALIDATION_ERROR", "that response has nothing to say", response_id)
        await self._interrupt_active()
        spec = TurnSpec(
            response_id=self._new_id(), messages=[], model=self.model, temperature=0.0,
            max_tokens=0, language=old.spec.language, voice=old.spec.voice, tts_enabled=True,
            tts_mode="realtime", speak_sentences=sentences)
        self._start(Response(spec), user_text=None)

    def _start(self, resp: Response, user_text: str | None) -> None:
        self.responses[resp.id] = resp
        while len(self.responses) > self.KEEP_RESPONSES:
            self.responses.popitem(last=False)
        self.active = resp
        resp.task = self.tg.create_task(self._run(resp, user_text), name=f"response-{resp.id}")

    async def _run(self, resp: Response, user_text: str | None) -> None:
        try:
            await self.engine.run(resp, self.sink, self.rate)
        finally:
            if self.active is resp:
                self.active = None
            if user_text is not None:
                self.history.append({"role": "user", "content": user_text})
                said = resp.heard_text(self.rate) if resp.status == "interrupted" else resp.text
                if said:
                    self.history.append({"role": "assistant", "content": said})

    async def _interrupt_active(self) -> None:
        resp = self.active
        if resp is not None and resp.interrupt() and resp.task is not None:
            await asyncio.wait({resp.task})  # history is updated when the task ends

    async def cancel(self, response_id: int | None) -> None:
        resp = self.active if response_id is None else self.responses.get(response_id)
        if resp is None:
            if response_id is not None:
                raise ProtocolError("NOT_FOUND", f"no response {response_id}", response_id)
            return  # nothing active: cancelling nothing is fine
        if resp.interrupt() and resp.task is not None:
            await asyncio.wait({resp.task})

    async def close(self) -> None:
        """Stop everything (client gone): LLM streams and synthesis end here."""
        for resp in list(self.responses.values()):
            if resp.task and not resp.task.done():
                resp.task.cancel()
        for resp in list(self.responses.values()):
            if resp.task:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await resp.task


def _short(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(x) for x in err["loc"][1:] or err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
