"""Response models of the REST API (the seeds' envelope ``{success, data}``) and its errors.

Every route declares its answer with one of these and the errors it can send (``errors(...)``),
so ``/api/openapi.json`` describes what the server really returns and generated clients parse it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from realtime.characters.model import Character
from realtime.config import ModelInfo
from realtime.protocol.messages import Animation, Timings, Usage, VisemeEvent

HealthState = Literal["healthy", "unhealthy", "unknown"]


# --------------------------------------------------------------------------- errors
class ErrorBody(BaseModel):
    code: str = Field(..., description="VALIDATION_ERROR, NOT_FOUND, RATE_LIMITED, ...")
    message: str
    retry_after: float | None = Field(None, description="Seconds to wait (429 and 503 only)")


class ErrorEnvelope(BaseModel):
    success: Literal[False] = False
    error: ErrorBody


_WHY = {
    400: "Invalid request (VALIDATION_ERROR, TEXT_TOO_LONG, INVALID_AUDIO, AUDIO_TOO_LONG, "
         "INVALID_IMAGE)",
    401: "Missing or invalid session token (UNAUTHORIZED; token mode only)",
    403: "Not allowed (FORBIDDEN), e.g. changing a preset",
    404: "Unknown resource or path (NOT_FOUND)",
    409: "The id is taken (CONFLICT)",
    413: "Body too large (PAYLOAD_TOO_LARGE, IMAGE_TOO_LARGE)",
    415: "Wrong content type (UNSUPPORTED_MEDIA_TYPE)",
    422: "The photo has no usable face (NO_FACE_DETECTED, MULTIPLE_FACES)",
    429: "Too many requests (RATE_LIMITED); see retry_after and the Retry-After header",
    451: "A model's licence excludes this deployment's region (LICENSE_RESTRICTED)",
    500: "The work failed (GENERATION_FAILED, TTS_FAILED, STT_FAILED, INTERNAL_ERROR)",
    503: "An engine or store is down, or the server is full (SERVICE_UNAVAILABLE)",
    507: "The GPU plan does not fit in VRAM (VRAM_INSUFFICIENT); nothing changed",
}
AUTH = (401, 429)  # a route that knows its caller: token check and rate limit


def errors(*statuses: int, auth: bool = True) -> dict[int | str, dict]:
    """The ``responses=`` of a route: these statuses, 500, and (``auth``) 401 and 429, each in
    the error envelope."""
    codes = set(statuses) | {500} | (set(AUTH) if auth else set())
    return {s: {"model": ErrorEnvelope, "description": _WHY[s]} for s in sorted(codes)}


# --------------------------------------------------------------------------- chat
class ChatResult(BaseModel):
    content: str
    usage: Usage
    session_id: str
    message_id: str | None = None
    model: str | None = Field(..., description="The model that answered (the default when the "
                                               "one asked for is not configured); null for a "
                                               "character's stored greeting")
    requested_model: str | None = Field(
        None, description="The model the request named, when another one answered")
    language: str = Field(..., description="The reply's language (given, or detected)")
    audio_url: str | None = None
    audio_duration_ms: float | None = None
    sample_rate: int
    visemes: list[VisemeEvent]
    animations: list[Animation]
    timings: Timings
    context_summarized: bool
    context_tokens: int | None = None
    greeting: bool = Field(False, description="A character's opening line (no user message)")


class ChatResponse(BaseModel):
    success: Literal[True] = True
    data: ChatResult


class ModelsResult(BaseModel):
    models: list[ModelInfo]
    default: str
    strict: bool = Field(..., description="Unknown models are refused (else the default runs)")


class ModelsResponse(BaseModel):
    success: Literal[True] = True
    data: ModelsResult


# --------------------------------------------------------------------------- TTS
class TTSResult(BaseModel):
    audio_url: str
    file_id: str
    duration: float = Field(..., description="Seconds")
    sample_rate: int
    language: str
    speed: float
    visemes: list[VisemeEvent]
    truncated: bool


class TTSResponse(BaseModel):
    success: Literal[True] = True
    data: TTSResult


class VoiceOut(BaseModel):
    id: str
    name: str
    language: str
    engine: str
    gender: str | None = None


class VoicesResult(BaseModel):
    voices: list[VoiceOut]


class VoicesResponse(BaseModel):
    success: Literal[True] = True
    data: VoicesResult


# --------------------------------------------------------------------------- health
class HealthResult(BaseModel):
    """The seeds' keys first (``healthy|unhealthy|unknown``), details beside them."""

    backend: HealthState
    llm: HealthState
    tts: HealthState
    gen3d: HealthState = Field(..., description="3D avatar generation (not built: unhealthy)")
    style: HealthState = Field(..., description="Style transfer (not built: unhealthy)")
    timestamp: str
    status: Literal["healthy", "degraded"]
    tts_engines: dict[str, HealthState]
    llm_languages: list[str] = Field(default_factory=lambda: ["*"], description="Languages the "
                                     "model answers in well; [\"*\"]: any")
    stt: str
    llm_embedded: dict | None = None
    voice_error: str | None = None
    short_term_store: str
    long_term_store: str
    outbox_pending: int
    sessions: int
    gpu_host: dict | None = Field(None, description="The GPU host (gpu_host): reachable, plan, "
                                                    "services")


class HealthResponse(BaseModel):
    success: Literal[True] = True
    data: HealthResult


# --------------------------------------------------------------------------- characters
class CharacterList(BaseModel):
    items: list[Character]
    default: str


class CharacterListResponse(BaseModel):
    success: Literal[True] = True
    data: CharacterList


class CharacterResponse(BaseModel):
    success: Literal[True] = True
    data: Character


# --------------------------------------------------------------------------- history, STT
class SessionOut(BaseModel):
    id: str
    character_id: str | None = None
    title: str = ""
    created_at: float | None = None
    updated_at: float | None = None
    message_count: int


class SessionList(BaseModel):
    items: list[SessionOut]
    next_before: float | None = None


class SessionListResponse(BaseModel):
    success: Literal[True] = True
    data: SessionList


class MessageOut(BaseModel, extra="allow"):
    id: str
    session_id: str
    seq: int
    role: str
    content: str
    created_at: float


class MessageList(BaseModel):
    items: list[MessageOut]
    next_after: int | None = None
    pending_writes: int


class MessageListResponse(BaseModel):
    success: Literal[True] = True
    data: MessageList


class FeedbackOut(BaseModel):
    message_id: str
    session_id: str
    rating: int
    comment: str
    created_at: float


class FeedbackResponse(BaseModel):
    success: Literal[True] = True
    data: FeedbackOut


class STTResult(BaseModel):
    text: str
    language: str | None = None
    rejected: str | None = None
    duration_s: float
    no_speech_prob: float
    avg_logprob: float | None = None
    processing_ms: float


class STTResponse(BaseModel):
    success: Literal[True] = True
    data: STTResult


# --------------------------------------------------------------------------- story
class StoryResult(BaseModel):
    story: str
    word_count: int
    chapters: int
    title: str | None = None
    model: str
    language: str
    usage: Usage


class StoryResponse(BaseModel):
    success: Literal[True] = True
    data: StoryResult


SSE = {200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
             "description": "Server-Sent Events"}}


# --------------------------------------------------------------------------- system (GPU)
class ModeResult(BaseModel):
    previous_mode: str
    current_mode: str = Field(..., description="chat | tts | style | gen3d | auto")
    switch_time_ms: int


class ModeResponse(BaseModel):
    success: Literal[True] = True
    data: ModeResult


class VramResult(BaseModel):
    used_mb: float
    total_mb: float
    usage_percent: float
    active_services: list[str]
    device: dict = Field(default_factory=dict, description="kind (nvml | simulated), name, "
                                                           "peak_mb, headroom_mb")
    services: list[dict] = Field(default_factory=list, description="per service: state, MB, "
                                                                   "last switch")


class VramResponse(BaseModel):
    success: Literal[True] = True
    data: VramResult


class GpuStatus(BaseModel):
    model_config = ConfigDict(extra="allow")
    mode: str
    plan: str | None = None
    switching: str | None = None  # the plan being switched to, while a switch runs
    ready: bool | None = None
    vram: VramResult | None = None
    leases: list[dict] = Field(default_factory=list)
    policy: dict = Field(default_factory=dict)
    switches: list[dict] = Field(default_factory=list)


class GpuResponse(BaseModel):
    success: Literal[True] = True
    data: GpuStatus
