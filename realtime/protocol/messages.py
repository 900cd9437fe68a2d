"""Protocol v1: the single definition of every message on ``/ws`` (and the SSE stream).

``python -m realtime.protocol`` writes the JSON Schema (``docs/protocol.schema.json``) that the
TypeScript and C# clients are generated from / checked against. Prose lives in ``docs/protocol.md``.
"""

from __future__ import annotations

import struct
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

PROTOCOL_VERSION = 1

TtsMode = Literal["realtime", "delayed", "on_click"]
TurnDetection = Literal["semantic_vad", "server_vad", "manual"]
TurnEnd = Literal["smart_turn", "silence", "max_length", "commit"]
INPUT_SAMPLE_RATES = (16000, 24000, 48000)
ResponseStatus = Literal["completed", "interrupted", "failed"]
Viseme = Literal[
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou"
]


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- shared shapes
class Scenario(_Msg):
    opponent: str | None = Field(None, max_length=200, description="Who the character talks to")
    situation: str | None = Field(None, max_length=1000)
    background: str | None = Field(None, max_length=2000)


class Persona(_Msg):
    """An inline character (alternative to ``character_id``)."""

    name: str = Field(..., min_length=1, max_length=100)
    persona: str = Field("", max_length=4000, description="Free-text personality / style")
    language: str | None = Field(None, max_length=8)


class VisemeEvent(_Msg):
    t_ms: float = Field(..., description="Start on the response's audio timeline (ms)")
    viseme: Viseme
    duration_ms: float
    weight: float = Field(..., ge=0.0, le=1.0)


class Timings(_Msg):
    """Milliseconds since the turn's origin (0). ``None``: stage not reached / not a voice turn.

    Typed turns: the origin is the moment ``input.text`` was received. Voice turns: the origin is
    the end-of-turn decision (``vad.speech_stopped`` or ``input.audio.commit``), so the chain reads
    ``speech_stopped (0) -> stt_done -> llm_first_token -> first_sentence -> tts_first_audio ->
    first_audio_sent``; ``endpoint_ms`` is the audio between the end of speech and that decision
    (the end-of-turn silence), and ``voice_to_voice_ms = endpoint_ms + first_audio_sent``.
    """

    received: float = 0.0
    speech_stopped: float | None = None
    stt_done: float | None = None
    llm_first_token: float | None = None
    first_sentence: float | None = None
    tts_first_audio: float | None = None
    first_audio_sent: float | None = None
    done: float | None = None
    llm_wait_ms: float = Field(0.0, description="Time spent waiting on the LLM until the first sentence")
    tts_first_ms: float = Field(0.0, description="Time inside the TTS engine for the first sentence")
    stt_ms: float | None = Field(None, description="Time inside the speech-to-text model")
    context_ms: float | None = Field(
        None, description="Building the prompt from memory (history, summary, token budget); "
                          "part of overhead_ms")
    endpoint_ms: float | None = Field(
        None, description="Voice: input audio from the end of speech to the end-of-turn decision")
    voice_to_voice_ms: float | None = Field(
        None, description="Voice: end of the user's speech -> first answer audio sent")
    overhead_ms: float | None = Field(
        None, description="first_audio_sent - llm_wait_ms - tts_first_ms (voice: also minus the "
                          "STT time not hidden in the end-of-turn silence): what the server added")
    gpu_wait_ms: float = Field(
        0.0, description="Time the LLM request waited for the GPU host's conversation plan (an "
                         "avatar job had the GPU); part of llm_wait_ms. 0 when it was ready")


class Usage(_Msg):
    prompt_tokens: int | None = None
    completion_tokens: int = 0


# --------------------------------------------------------------------------- client -> server
class SessionUpdate(_Msg):
    type: Literal["session.update"]
    character_id: str | None = Field(None, max_length=100)
    persona: Persona | None = None
    scenario: Scenario | None = None
    language: str | None = Field(None, pattern=r"^[a-z]{2}(-[A-Za-z]{2})?$")
    voice: str | None = Field(None, max_length=200)
    tts_enabled: bool | None = None
    tts_mode: TtsMode | None = None
    tts_delay_ms: int | None = Field(None, ge=0, le=10000)
    model: str | None = Field(None, max_length=200)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(None, ge=1, le=4096)
    input_sample_rate: int | None = Field(
        None, description="Rate of the binary microphone frames: 16000 (default), 24000, 48000")
    turn_detection: TurnDetection | None = Field(
        None, description="semantic_vad: after a short silence a model judges whether the "
                          "utterance is complete (else the turn ends on a longer silence); "
                          "server_vad: the server ends turns on a fixed silence; manual: "
                          "push-to-talk, only input.audio.commit ends a turn")
    barge_in: bool | None = Field(None, description="User speech interrupts the avatar")


class InputText(_Msg):
    type: Literal["input.text"]
    text: str = Field(..., min_length=1)


class ResponseCancel(_Msg):
    type: Literal["response.cancel"]
    response_id: int | None = Field(None, ge=1, description="Default: the active response")


class PlaybackMark(_Msg):
    type: Literal["playback.mark"]
    response_id: int = Field(..., ge=1)
    played_ms: float = Field(..., ge=0)


class ResponseSpeak(_Msg):
    """Synthesise (again) a finished response: the ``on_click`` mode's play button."""

    type: Literal["response.speak"]
    response_id: int = Field(..., ge=1)


class InputAudioCommit(_Msg):
    """End the current utterance now (push-to-talk release): transcribe what was said."""

    type: Literal["input.audio.commit"]


class InputAudioClear(_Msg):
    """Drop the audio of the current utterance (nothing is transcribed)."""

    type: Literal["input.audio.clear"]


class Ping(_Msg):
    type: Literal["ping"]
    id: str | int | None = None


ClientMessage = Annotated[
    Union[SessionUpdate, InputText, ResponseCancel, PlaybackMark, ResponseSpeak, InputAudioCommit,
          InputAudioClear, Ping],
    Field(discriminator="type"),
]
CLIENT_TYPES = ("session.update", "input.text", "response.cancel", "playback.mark",
                "response.speak", "input.audio.commit", "input.audio.clear", "ping")
client_message_adapter: TypeAdapter[Any] = TypeAdapter(ClientMessage)


# --------------------------------------------------------------------------- server -> client
class SessionConfig(_Msg):
    character_id: str
    character_name: str
    language: str
    voice: str | None
    tts_enabled: bool
    tts_mode: TtsMode
    tts_delay_ms: int
    model: str
    temperature: float
    max_tokens: int
    voice_input: bool = Field(..., description="Binary microphone frames are accepted")
    input_languages: list[str] = Field(
        ..., description='Languages voice input understands: ["*"] any, ["en"] an English-only '
                         "model (speech in another language comes back as English guesses), [] "
                         "no voice input")
    input_sample_rate: int
    turn_detection: TurnDetection
    barge_in: bool
    answer_languages: list[str] = Field(
        default_factory=lambda: ["*"],
        description='Languages the model answers in well: ["*"] any, ["en"] the embedded CPU '
                    "model (SmolLM2-135M; a Korean conversation gets broken Korean)")


class SessionReady(_Msg):
    type: Literal["session.ready"] = "session.ready"
    session_id: str
    protocol_version: int = PROTOCOL_VERSION
    output_sample_rate: int
    audio_format: Literal["pcm16le"] = "pcm16le"
    input_audio_format: Literal["pcm16le"] = "pcm16le"
    input_sample_rates: list[int] = Field(default_factory=lambda: list(INPUT_SAMPLE_RATES))
    session: SessionConfig
    resumed: Literal["short_term", "long_term", "empty"] | None = Field(
        None, description="With /ws?session_id=: where the conversation's context came from")
    context_messages: int = Field(0, description="Messages of earlier turns in the context")


class SessionUpdated(_Msg):
    type: Literal["session.updated"] = "session.updated"
    session: SessionConfig


class ResponseStarted(_Msg):
    type: Literal["response.started"] = "response.started"
    response_id: int
    source: Literal["text", "voice", "speak"] = "text"
    utterance_id: int | None = Field(None, description="Voice turns: the utterance answered")
    tts_enabled: bool
    tts_mode: TtsMode


class TextDelta(_Msg):
    type: Literal["response.text.delta"] = "response.text.delta"
    response_id: int
    delta: str


class SentenceMsg(_Msg):
    type: Literal["response.sentence"] = "response.sentence"
    response_id: int
    index: int
    text: str


class VisemesMsg(_Msg):
    type: Literal["response.visemes"] = "response.visemes"
    response_id: int
    sentence_index: int
    visemes: list[VisemeEvent]


class AudioDone(_Msg):
    type: Literal["response.audio.done"] = "response.audio.done"
    response_id: int
    total_samples: int
    duration_ms: float
    truncated: bool = Field(False, description="Spoken-length cap reached")


class Animation(_Msg):
    type: Literal["avatar.animation"] = "avatar.animation"
    response_id: int
    t_ms: float
    action: str = Field(..., description="talk_start | talk_end | emotion | gesture")
    name: str | None = Field(None, description="emotion or gesture name, e.g. happy, wave")


class ResponseDone(_Msg):
    type: Literal["response.done"] = "response.done"
    response_id: int
    status: ResponseStatus
    text: str
    timings: Timings
    usage: Usage
    error: dict[str, str] | None = None
    message_id: str | None = Field(
        None, description="The stored assistant message (for /api/feedback); null if not kept")
    user_message_id: str | None = None
    context_summarized: bool = Field(
        False, description="Older turns were summarised to fit this prompt in the context")
    context_tokens: int | None = Field(None, description="Prompt size by the server's count")


class ResponseInterrupted(_Msg):
    """Stop playing this response now (flush queued audio): sent once, before its
    ``response.done``, or after it when a response that was still playing at the client is cut
    (barge-in or ``response.cancel``), followed by ``talk_end``."""

    type: Literal["response.interrupted"] = "response.interrupted"
    response_id: int
    reason: Literal["barge_in", "cancel", "new_input", "closed"] = Field(
        ..., description="closed: the session is ending (client gone, server stopping)")
    played_ms: float = Field(..., description="Playback position the server assumes was heard")
    heard_text: str = Field(..., description="What is kept in the conversation history")


class SpeechStarted(_Msg):
    type: Literal["vad.speech_started"] = "vad.speech_started"
    utterance_id: int
    t_ms: float = Field(..., description="Position in the session's input audio (ms)")


class SpeechStopped(_Msg):
    type: Literal["vad.speech_stopped"] = "vad.speech_stopped"
    utterance_id: int
    t_ms: float = Field(..., description="Where the speech ended in the session's input audio")
    forced: bool = Field(False, description="Maximum utterance length reached")
    turn_end: TurnEnd | None = Field(
        None, description="What ended the turn: smart_turn (the model judged it complete), "
                          "silence (the end-of-turn silence ran out), max_length; null when "
                          "the speech stopped but the turn did not end (manual mode)")


class AudioCommitted(_Msg):
    type: Literal["input.audio.committed"] = "input.audio.committed"
    utterance_id: int
    start_ms: float
    end_ms: float


class AudioCleared(_Msg):
    type: Literal["input.audio.cleared"] = "input.audio.cleared"
    t_ms: float


class TranscriptPartial(_Msg):
    type: Literal["transcript.partial"] = "transcript.partial"
    utterance_id: int
    text: str


class TranscriptFinal(_Msg):
    type: Literal["transcript.final"] = "transcript.final"
    utterance_id: int
    text: str
    language: str
    start_ms: float
    end_ms: float
    stt_ms: float
    model: str | None = Field(None, description="The speech-to-text model that heard it "
                                                "(e.g. tiny.en for English, base for others)")
    turn_end: TurnEnd | None = Field(None, description="What ended the turn (see "
                                                       "vad.speech_stopped)")


class TranscriptRejected(_Msg):
    """The utterance was not speech Whisper could trust (noise, silence, a hallucination)."""

    type: Literal["transcript.rejected"] = "transcript.rejected"
    utterance_id: int
    reason: str = Field(..., description="quiet | no_speech | empty | annotation | punctuation | "
                                         "short_token | too_few_words | hallucination_phrase | "
                                         "repetition | no_audio")


class ErrorMsg(_Msg):
    type: Literal["error"] = "error"
    code: str
    message: str
    response_id: int | None = None
    retry_after: float | None = Field(None, description="Seconds to wait (limits)")


class Pong(_Msg):
    type: Literal["pong"] = "pong"
    id: str | int | None = None
    server_time_ms: float


class JobError(_Msg):
    code: str
    message: str


class JobProgress(_Msg):
    """An avatar job of this user moved on (sent to every ``/ws`` session of the job's owner;
    the same fields as ``GET /api/generate/status/{job_id}``)."""

    type: Literal["job.progress"] = "job.progress"
    job_id: str
    kind: Literal["generate", "style"]
    status: Literal["queued", "processing", "completed", "failed", "cancelled"]
    progress: int = Field(..., ge=0, le=100)
    current_step: str | None = Field(None, description="validate | detect | style | build | "
                                                       "rig | face | clips | export | check | "
                                                       "thumbnail")


class JobDone(_Msg):
    """An avatar job of this user ended: ``completed`` (``result_url``), ``failed`` (``error``)
    or ``cancelled``."""

    type: Literal["job.done"] = "job.done"
    job_id: str
    kind: Literal["generate", "style"]
    status: Literal["completed", "failed", "cancelled"]
    progress: int = Field(..., ge=0, le=100)
    current_step: str | None = None
    result_url: str | None = None
    error: JobError | None = None


class AudioPayload(_Msg):
    """SSE only: the binary audio frame as JSON (``pcm`` is base64 PCM16LE)."""

    type: Literal["response.audio"] = "response.audio"
    response_id: int
    chunk_index: int
    sample_offset: int
    sample_rate: int
    pcm: str


ServerMessage = Annotated[
    Union[SessionReady, SessionUpdated, ResponseStarted, TextDelta, SentenceMsg, VisemesMsg,
          AudioDone, Animation, ResponseInterrupted, ResponseDone, SpeechStarted, SpeechStopped,
          AudioCommitted, AudioCleared, TranscriptPartial, TranscriptFinal, TranscriptRejected,
          ErrorMsg, Pong, AudioPayload, JobProgress, JobDone],
    Field(discriminator="type"),
]

# --------------------------------------------------------------------------- binary audio
AUDIO_KIND = 1
AUDIO_VERSION = 1
_HEADER = struct.Struct("<BBHIII")
AUDIO_HEADER_BYTES = _HEADER.size  # 16


def pack_audio_frame(response_id: int, chunk_index: int, sample_offset: int, pcm16: bytes) -> bytes:
    return _HEADER.pack(AUDIO_KIND, AUDIO_VERSION, 0, response_id, chunk_index, sample_offset) + pcm16


def unpack_audio_header(frame: bytes) -> tuple[int, int, int, int, int]:
    """-> (kind, version, response_id, chunk_index, sample_offset)."""
    kind, version, _reserved, rid, idx, off = _HEADER.unpack_from(frame)
    return kind, version, rid, idx, off


def json_schema() -> dict[str, Any]:
    client = TypeAdapter(ClientMessage).json_schema(ref_template="#/$defs/{model}")
    server = TypeAdapter(ServerMessage).json_schema(ref_template="#/$defs/{model}")
    defs = {**client.pop("$defs", {}), **server.pop("$defs", {})}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Avatar realtime protocol",
        "version": PROTOCOL_VERSION,
        "$defs": {**defs, "ClientMessage": client, "ServerMessage": server},
        "x-binary-audio-frame": {
            "direction": "server->client",
            "header": "little-endian, 16 bytes: u8 kind (1=audio), u8 version (1), u16 reserved, "
                      "u32 response_id, u32 chunk_index, u32 sample_offset",
            "payload": "PCM16LE mono at session.ready.output_sample_rate",
        },
        "x-binary-microphone-frame": {
            "direction": "client->server",
            "header": "none",
            "payload": "PCM16LE mono at session.input_sample_rate (16000 default, 24000, 48000), "
                       "10-100 ms per frame (an even number of bytes)",
        },
    }
