"""A ``session.update`` applied to the session, all or nothing, and the effective configuration
the client sees back.

Everything is checked first (voice, formats, VAD numbers, the session's own ``update`` rules);
a refused update changes nothing and gets one ``error``. Our session fields do the work:
``character_id``, ``persona`` (from ``instructions``), ``voice``, ``tts_enabled`` (from the
output modalities), ``model`` (when it names one of ours), ``temperature``, ``max_tokens``; the
microphone takes the turn detection (``MicInput.set_turn_detection``, ``.set_vad``,
``.barge_in``). ``instructions`` become the persona only while no ``character_id`` was chosen
(a character brings its own); ``""`` goes back to the default character.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import ValidationError

from realtime.characters.model import DEFAULT_CHARACTER_ID
from realtime.characters.store import voice_owner
from realtime.errors import ProtocolError
from realtime.listen.mic import vad_options
from realtime.listen.vad import VadOptions
from realtime.oai import config
from realtime.oai.sink import Flags
from realtime.pipeline.language import detect_language
from realtime.protocol.messages import Persona, SessionUpdate
from realtime.session import Session


class SessionState:
    def __init__(self, session: Session, flags: Flags, settings) -> None:
        self.session = session
        self.flags = flags
        self.settings = settings
        self.create_response = True
        self.speed = 1.0
        self.instructions: str | None = None  # the client's, while they are the persona
        self.character_chosen = False
        self.transcription: dict | None = {"model": "whisper"}
        self.tracing: Any = None
        self.requested_model: str | None = None  # ?model= of the connection
        self.in_format = "pcm16"  # pcm16 (24 kHz) | pcmu | pcma (G.711, 8 kHz)
        self.vad: VadOptions = vad_options(settings)
        mic = session.mic
        flags.manual = mic is None or mic.turn_detection == "manual"
        flags.audio_out = session.tts_enabled
        flags.voice = session.voice or "default"

    async def apply(self, p: config.Patch) -> None:
        s, st, mic = self.session, self.settings, self.session.mic
        upd: dict[str, Any] = {}
        voice = self._voice(p.voice, upd) if p.given("voice") and p.voice is not None else None
        if p.given("modalities") and p.modalities is not None:
            upd["tts_enabled"] = "audio" in p.modalities
        if p.given("max_tokens") and p.max_tokens is not None:
            upd["max_tokens"] = st.llm_max_tokens if p.max_tokens == "inf" else p.max_tokens
        if p.given("temperature") and p.temperature is not None:
            upd["temperature"] = p.temperature
        if p.given("model") and p.model in {m.id for m in st.llm_models}:
            upd["model"] = p.model
        chosen = self.character_chosen
        if p.given("character_id") and p.character_id:
            upd["character_id"], chosen = p.character_id, True
        instructions = self.instructions
        if p.given("instructions") and p.instructions is not None and not chosen \
                and p.instructions != self.instructions:
            if p.instructions.strip():
                upd["persona"] = Persona(name=s.character.name, persona=p.instructions,
                                         language=detect_language(p.instructions, "en"))
                instructions = p.instructions
            else:
                upd["character_id"], instructions = DEFAULT_CHARACTER_ID, None
        vad = self.vad
        td = p.turn_detection if p.given("turn_detection") else config._UNSET
        if isinstance(td, config.TurnDetectionIn):
            vad = self._vad_options(td)
        try:
            msg = SessionUpdate(type="session.update", **upd)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ProtocolError("VALIDATION_ERROR", f"{'.'.join(map(str, err['loc']))}: "
                                                    f"{err['msg']}") from None
        await s.update(msg)  # all or nothing; from here on nothing can fail
        if "character_id" in upd and chosen:
            self.character_chosen, instructions = True, None
        self.instructions = instructions
        if voice is not None:
            self.flags.voice = voice
        elif "character_id" in upd or "persona" in upd:  # a character speaks with its voice
            self.flags.voice = s.voice or "default"
        self.flags.audio_out = s.tts_enabled
        if p.given("speed") and p.speed is not None:
            self.speed = p.speed
        if p.given("transcription"):
            self.transcription = p.transcription
        if p.given("tracing"):
            self.tracing = p.tracing
        if p.given("avatar_events") and p.avatar_events is not None:
            self.flags.avatar_events = p.avatar_events
        self.in_format = p.in_format or self.in_format
        self.flags.out_format = p.out_format or self.flags.out_format
        if mic is not None and td is not config._UNSET:
            self._turn_detection(td, vad)

    def _voice(self, raw: Any, upd: dict) -> str:
        """Map the client's voice onto ours (into ``upd``); -> the name to echo."""
        name = config.voice_name(raw)
        mapped = self.settings.openai_voices.get(name)
        if mapped:
            upd["voice"] = mapped
        elif name in self.session.voice_ids or voice_owner(name):
            upd["voice"] = name
        elif name not in config.OPENAI_VOICES:
            raise ProtocolError("VALIDATION_ERROR", f"unknown voice {name!r}: use an id from "
                                                    "GET /api/tts/voices or an OpenAI voice name "
                                                    f"({', '.join(sorted(config.OPENAI_VOICES))})")
        return name

    def _vad_options(self, td: config.TurnDetectionIn) -> VadOptions:
        changes: dict[str, Any] = {}
        if td.threshold is not None:
            changes["threshold"] = td.threshold
            neg = self.vad.neg_threshold
            if neg is not None and neg > td.threshold:
                changes["neg_threshold"] = None
        if td.prefix_padding_ms is not None:
            changes["pre_roll_ms"] = td.prefix_padding_ms
        if td.silence_duration_ms is not None:
            changes["end_silence_ms"] = td.silence_duration_ms
        try:
            return dataclasses.replace(self.vad, **changes)
        except ValueError as exc:
            raise ProtocolError("VALIDATION_ERROR", f"turn_detection: {exc}") from None

    def _turn_detection(self, td: config.TurnDetectionIn | None, vad: VadOptions) -> None:
        mic = self.session.mic
        assert mic is not None
        if td is None:  # push-to-talk: only input_audio_buffer.commit ends a turn
            mic.set_turn_detection("manual")
            mic.barge_in = False
            self.flags.manual = True
            return
        # semantic_vad: our end-of-turn model when the server has it (else server VAD)
        semantic = td.type == "semantic_vad" and mic.smart_turn is not None
        mic.set_turn_detection("semantic_vad" if semantic else "server_vad")
        self.flags.manual = False
        if td.interrupt_response is not None:
            mic.barge_in = td.interrupt_response
        if td.create_response is not None:
            self.create_response = td.create_response
        if vad != self.vad:
            self.vad = vad
            mic.set_vad(vad)

    # ------------------------------------------------------------------ what the client sees
    def render(self, dialect: str) -> dict:
        s, mic = self.session, self.session.mic
        td = None
        if mic is not None and mic.turn_detection == "server_vad":
            td = {"type": "server_vad", "threshold": self.vad.threshold,
                  "prefix_padding_ms": self.vad.pre_roll_ms,
                  "silence_duration_ms": self.vad.end_silence_ms,
                  "create_response": self.create_response, "interrupt_response": mic.barge_in,
                  "idle_timeout_ms": None}
        elif mic is not None and mic.turn_detection == "semantic_vad":
            td = {"type": "semantic_vad", "eagerness": "auto",
                  "create_response": self.create_response, "interrupt_response": mic.barge_in}
        return config.render(config.Effective(
            session_id=s.id, model=s.model, requested_model=self.requested_model,
            instructions=self.instructions if self.instructions is not None
            else s.system_prompt(), voice=self.flags.voice, audio_out=s.tts_enabled,
            turn_detection=td, transcription=self.transcription if mic is not None else None,
            max_tokens=s.max_tokens, temperature=s.temperature, speed=self.speed,
            tracing=self.tracing, character_id=s.character.id,
            avatar_events=self.flags.avatar_events, in_format=self.in_format,
            out_format=self.flags.out_format), dialect)
