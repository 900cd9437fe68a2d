"""``session.update`` in the GA or beta shape, read into one :class:`Patch`; the effective
configuration rendered back in the client's dialect (``session.created`` / ``session.updated``).

How the fields map onto the session (the adapter applies them, ``realtime.oai.connection``):

* ``audio.input.turn_detection`` (beta: ``turn_detection``): ``server_vad`` -> the session's VAD,
  with ``threshold``, ``prefix_padding_ms`` (the pre-roll), ``silence_duration_ms`` (the
  end-of-turn silence), ``create_response`` and ``interrupt_response`` (barge-in);
  ``semantic_vad`` -> our end-of-turn model (Smart Turn; ``eagerness`` is not used), or server
  VAD on a server without it; ``null`` -> push-to-talk (``input_audio_buffer.commit``).
* ``audio.output.voice`` (beta: ``voice``) -> one of our voices (``/api/tts/voices``).
* ``instructions`` -> the persona; ``character_id`` (an extra field) -> one of our characters.
* ``output_modalities`` (beta: ``modalities``): ``["text"]`` turns speech off.
* ``avatar_events`` (an extra field): visemes and animation as ``avatar.*`` events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from realtime.errors import ProtocolError

# OpenAI's voice names: accepted everywhere (mapped by AVATAR_OPENAI_VOICES, else the character's)
OPENAI_VOICES = frozenset({"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse",
                           "marin", "cedar", "default"})
RATE = 24000  # audio/pcm is 24 kHz in both directions
_UNSET: Any = object()


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")  # clients send many fields we have no use for


class TurnDetectionIn(_In):
    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float | None = Field(None, gt=0.0, lt=1.0)
    prefix_padding_ms: int | None = Field(None, ge=0, le=5000)
    silence_duration_ms: int | None = Field(None, ge=0, le=10000)
    create_response: bool | None = None
    interrupt_response: bool | None = None


class FormatIn(_In):
    type: Literal["audio/pcm", "audio/pcmu", "audio/pcma"]
    rate: int | None = None

    @model_validator(mode="after")
    def _rate(self) -> FormatIn:
        if self.type == "audio/pcm" and self.rate not in (None, RATE):
            raise ValueError(f"audio/pcm is {RATE} Hz (rate {self.rate} is not supported)")
        return self


Format = FormatIn | Literal["pcm16", "g711_ulaw", "g711_alaw"]


class AudioInputIn(_In):
    format: Format | None = None
    transcription: dict | None = None
    turn_detection: TurnDetectionIn | None = None


class AudioOutputIn(_In):
    format: Format | None = None
    voice: str | dict | None = None
    speed: float | None = Field(None, ge=0.25, le=1.5)


class AudioIn(_In):
    input: AudioInputIn | None = None
    output: AudioOutputIn | None = None


class _Common(_In):
    instructions: str | None = None
    model: str | None = None
    tracing: Any = None
    character_id: str | None = Field(None, min_length=1, max_length=100)
    avatar_events: bool | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)  # beta's; in GA an extension


class GASessionIn(_Common):
    type: Literal["realtime"] = "realtime"
    output_modalities: list[Literal["text", "audio"]] | None = Field(None, min_length=1)
    audio: AudioIn | None = None
    max_output_tokens: int | Literal["inf"] | None = None


class BetaSessionIn(_Common):
    modalities: list[Literal["text", "audio"]] | None = Field(None, min_length=1)
    voice: str | dict | None = None
    input_audio_format: Literal["pcm16", "g711_ulaw", "g711_alaw"] | None = None
    output_audio_format: Literal["pcm16", "g711_ulaw", "g711_alaw"] | None = None
    input_audio_transcription: dict | None = None
    turn_detection: TurnDetectionIn | None = None
    max_response_output_tokens: int | Literal["inf"] | None = None
    speed: float | None = Field(None, ge=0.25, le=1.5)


_BETA_KEYS = frozenset(BetaSessionIn.model_fields) - frozenset(_Common.model_fields)


@dataclass
class Patch:
    """What one ``session.update`` asks for (``_UNSET``: not given; ``None`` may be a value)."""

    beta: bool = False
    instructions: Any = _UNSET
    voice: Any = _UNSET
    modalities: Any = _UNSET
    turn_detection: Any = _UNSET  # TurnDetectionIn | None
    transcription: Any = _UNSET
    max_tokens: Any = _UNSET  # int | "inf"
    temperature: Any = _UNSET
    speed: Any = _UNSET
    model: Any = _UNSET
    tracing: Any = _UNSET
    character_id: Any = _UNSET
    avatar_events: Any = _UNSET
    in_format: str = ""  # pcm16 | pcmu | pcma; "": not given
    out_format: str = ""

    def given(self, name: str) -> bool:
        return getattr(self, name) is not _UNSET


def is_beta_shape(session: dict) -> bool:
    """A beta ``session`` (flat ``voice``, ``modalities``, ``turn_detection`` …, no ``type``)."""
    return "type" not in session and any(k in _BETA_KEYS for k in session)


def parse(session: Any) -> Patch:
    """Read a ``session.update``'s ``session`` (GA or beta). Raises ``ProtocolError``."""
    if not isinstance(session, dict):
        raise ProtocolError("VALIDATION_ERROR", "session must be an object")
    if session.get("type") == "transcription":
        raise ProtocolError("VALIDATION_ERROR", "transcription sessions are not supported; "
                                                "use a realtime session")
    beta = is_beta_shape(session)
    try:
        s = (BetaSessionIn if beta else GASessionIn).model_validate(session)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ProtocolError("VALIDATION_ERROR", f"session.{loc}: {err['msg']}") from None
    p = Patch(beta=beta)
    given = s.model_fields_set
    for name in ("instructions", "model", "tracing", "character_id", "avatar_events",
                 "temperature"):
        if name in given:
            setattr(p, name, getattr(s, name))
    if isinstance(s, BetaSessionIn):
        _take(p, given, modalities=s.modalities, voice=s.voice, turn_detection=s.turn_detection,
              transcription=s.input_audio_transcription,
              max_tokens=s.max_response_output_tokens, speed=s.speed,
              formats=(s.input_audio_format, s.output_audio_format))
        return p
    if "output_modalities" in given:
        p.modalities = s.output_modalities
    if "max_output_tokens" in given:
        p.max_tokens = s.max_output_tokens
    for side, names, fmt in (("input", ("turn_detection", "transcription"), "in_format"),
                             ("output", ("voice", "speed"), "out_format")):
        part = getattr(s.audio, side) if s.audio else None
        if part is not None:
            for name in names:
                if name in part.model_fields_set:
                    setattr(p, name, getattr(part, name))
            setattr(p, fmt, _format(part.format))
    return p


def _take(p: Patch, given: set[str], *, formats: tuple, **values: Any) -> None:
    beta_names = {"modalities": "modalities", "voice": "voice", "turn_detection": "turn_detection",
                  "transcription": "input_audio_transcription",
                  "max_tokens": "max_response_output_tokens", "speed": "speed"}
    for name, value in values.items():
        if beta_names[name] in given:
            setattr(p, name, value)
    p.in_format, p.out_format = (_format(f) for f in formats)


def _format(fmt: Format | None) -> str:
    """-> "pcm16" | "pcmu" | "pcma" | "" (not given)."""
    if fmt is None:
        return ""
    name = fmt.type if isinstance(fmt, FormatIn) else fmt
    return {"audio/pcm": "pcm16", "pcm16": "pcm16", "audio/pcmu": "pcmu", "g711_ulaw": "pcmu",
            "audio/pcma": "pcma", "g711_alaw": "pcma"}[name]


def voice_name(voice: Any) -> str:
    """A voice is a name, or ``{"id": name}`` (GA custom voices)."""
    if isinstance(voice, dict):
        voice = voice.get("id")
    if not isinstance(voice, str) or not voice or len(voice) > 200:
        raise ProtocolError("VALIDATION_ERROR", "voice must be a name or {\"id\": name}")
    return voice


# ----------------------------------------------------------------------------- rendering
@dataclass
class Effective:
    """The configuration as the client sees it (``session.created`` / ``session.updated``)."""

    session_id: str
    model: str  # ours (the LLM that answers)
    requested_model: str | None  # the client's ?model= (beta echoes it: its type is a list)
    instructions: str
    voice: str
    audio_out: bool
    turn_detection: dict | None  # server_vad settings, or None (push-to-talk)
    transcription: dict | None
    max_tokens: int
    temperature: float
    speed: float
    tracing: Any
    character_id: str
    avatar_events: bool
    in_format: str = "pcm16"
    out_format: str = "pcm16"


def ga_format(name: str) -> dict:
    return {"type": "audio/pcm", "rate": RATE} if name == "pcm16" else {"type": f"audio/{name}"}


def beta_format(name: str) -> str:
    return {"pcm16": "pcm16", "pcmu": "g711_ulaw", "pcma": "g711_alaw"}[name]


def render(e: Effective, dialect: str) -> dict:
    if dialect == "beta":
        return {"id": e.session_id, "object": "realtime.session", "model": e.requested_model,
                "modalities": ["audio", "text"] if e.audio_out else ["text"],
                "instructions": e.instructions, "voice": e.voice,
                "input_audio_format": beta_format(e.in_format),
                "output_audio_format": beta_format(e.out_format),
                "input_audio_transcription": e.transcription, "turn_detection": e.turn_detection,
                "tools": [], "tool_choice": "auto", "temperature": e.temperature,
                "max_response_output_tokens": e.max_tokens, "speed": e.speed,
                "character_id": e.character_id, "avatar_events": e.avatar_events}
    return {"type": "realtime", "object": "realtime.session", "id": e.session_id,
            "model": e.model, "output_modalities": ["audio"] if e.audio_out else ["text"],
            "instructions": e.instructions,
            "audio": {"input": {"format": ga_format(e.in_format),
                                "transcription": e.transcription, "noise_reduction": None,
                                "turn_detection": e.turn_detection},
                      "output": {"format": ga_format(e.out_format), "voice": e.voice,
                                 "speed": e.speed}},
            "tools": [], "tool_choice": "auto", "max_output_tokens": e.max_tokens,
            "tracing": e.tracing, "truncation": "auto", "prompt": None,
            "temperature": e.temperature, "character_id": e.character_id,
            "avatar_events": e.avatar_events}
