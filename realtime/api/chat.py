"""``/api/chat`` (one JSON answer, seeds' envelope), ``/api/chat/stream`` (SSE), models list."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from realtime.api.deps import ServicesDep
from realtime.errors import ApiError
from realtime.pipeline.audio import write_wav
from realtime.pipeline.persona import (
    BUILTIN_CHARACTERS, DEFAULT_CHARACTER_ID, Character, build_system_prompt,
)
from realtime.pipeline.response import Response, TurnSpec
from realtime.protocol.messages import Scenario, TtsMode
from realtime.services import Services
from realtime.sinks import CollectSink, QueueSink

router = APIRouter(prefix="/api/chat", tags=["chat"])


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant", "system"]
    content: str = Field(..., max_length=8000)


class ChatBody(BaseModel):
    """The seeds' ``POST /api/chat`` request."""

    model_config = ConfigDict(extra="forbid")
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=200)
    persona: str | None = Field(None, max_length=4000)
    character_id: str | None = Field(None, max_length=100)
    scenario: Scenario | None = None
    session_id: str | None = Field(None, max_length=100)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(None, ge=1, le=4096)
    model: str | None = Field(None, max_length=200)
    language: str | None = Field(None, pattern=r"^[a-z]{2}(-[A-Za-z]{2})?$")
    voice: str | None = Field(None, max_length=200)
    tts_enabled: bool = True
    tts_mode: TtsMode = "realtime"
    tts_delay_ms: int = Field(0, ge=0, le=10000)
    tts_streaming_mode: int = Field(0, ge=0, le=3)


def _spec(services: Services, body: ChatBody) -> tuple[TurnSpec, str]:
    s = services.settings
    if body.character_id is not None:
        if body.character_id not in BUILTIN_CHARACTERS:
            raise ApiError("NOT_FOUND", f"unknown character {body.character_id!r}")
        character = BUILTIN_CHARACTERS[body.character_id]
    else:
        character = BUILTIN_CHARACTERS[DEFAULT_CHARACTER_ID]
    if body.persona:
        character = Character(id="custom", name=character.name if body.character_id else "",
                              persona=body.persona, language=character.language)
        if not character.name:
            character.name = "the character"
    model = body.model or s.llm_default_model
    if model not in {m.id for m in s.llm_models}:
        raise ApiError("NOT_FOUND", f"unknown model {model!r}")
    if body.voice is not None and body.voice not in services.tts.voice_ids():
        raise ApiError("VALIDATION_ERROR", f"unknown voice {body.voice!r}")
    if body.messages[-1].role != "user":
        raise ApiError("VALIDATION_ERROR", "the last message must be the user's")
    if len(body.messages[-1].content) > s.max_text_chars:
        raise ApiError("TEXT_TOO_LONG", f"text over {s.max_text_chars} characters")
    language = body.language or character.language
    system = build_system_prompt(character, body.scenario, language)
    extra = [m.content for m in body.messages if m.role == "system"]
    if extra:
        system += "\n\n" + "\n".join(extra)
    history = [m.model_dump() for m in body.messages if m.role != "system"]
    spec = TurnSpec(
        response_id=1, messages=[{"role": "system", "content": system}, *history], model=model,
        temperature=body.temperature if body.temperature is not None else s.llm_temperature,
        max_tokens=body.max_tokens or s.llm_max_tokens, language=language, voice=body.voice,
        tts_enabled=body.tts_enabled, tts_mode=body.tts_mode, tts_delay_ms=body.tts_delay_ms)
    return spec, body.session_id or str(uuid.uuid4())


@router.post("", summary="One chat turn (text, optional audio file)")
async def chat(body: ChatBody, services: ServicesDep) -> dict:
    spec, session_id = _spec(services, body)
    if spec.tts_mode == "delayed":
        spec.tts_delay_ms = 0  # one JSON answer: nothing to delay against
    sink = CollectSink()
    resp = Response(spec)
    await services.engine.run(resp, sink)
    if resp.status != "completed":
        err = resp.error or {"code": "GENERATION_FAILED", "message": "generation failed"}
        code = "SERVICE_UNAVAILABLE" if err["code"] == "SERVICE_UNAVAILABLE" else \
            "GENERATION_FAILED"
        raise ApiError(code, err["message"])
    audio_url = None
    pcm = sink.audio_array()
    rate = services.settings.output_sample_rate
    if len(pcm):
        file_id = uuid.uuid4().hex
        await asyncio.to_thread(write_wav, services.settings.audio_dir / f"{file_id}.wav", pcm,
                                rate)
        audio_url = f"/media/audio/{file_id}.wav"
    visemes = [v for e in sink.of_type("response.visemes") for v in e.visemes]  # type: ignore
    return {"success": True, "data": {
        "content": resp.text,
        "usage": resp.usage.model_dump(),
        "session_id": session_id,
        "model": spec.model,
        "audio_url": audio_url,
        "audio_duration_ms": round(len(pcm) * 1000.0 / rate, 1) if len(pcm) else None,
        "sample_rate": rate,
        "visemes": [v.model_dump() for v in visemes],
        "animations": [e.model_dump() for e in sink.of_type("avatar.animation")],
        "timings": resp.timings.model_dump(),
        "context_summarized": False,
    }}


@router.post("/stream", summary="One chat turn as Server-Sent Events (same events as /ws)")
async def chat_stream(body: ChatBody, services: ServicesDep, request: Request) -> StreamingResponse:
    spec, _ = _spec(services, body)
    sink = QueueSink(services.settings.output_sample_rate)
    resp = Response(spec)

    async def run() -> None:
        try:
            await services.engine.run(resp, sink)
        finally:
            await sink.queue.put(None)

    async def events() -> AsyncIterator[bytes]:
        task = asyncio.create_task(run())
        try:
            while (msg := await sink.queue.get()) is not None:
                yield f"event: {msg.type}\ndata: {msg.model_dump_json()}\n\n".encode()  # type: ignore[attr-defined]
        finally:
            if not task.done():
                resp.interrupt()  # client went away: stop the LLM stream and synthesis
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/models", summary="Configured chat models")
async def models(services: ServicesDep) -> dict:
    s = services.settings
    return {"success": True, "data": {"models": [m.model_dump() for m in s.llm_models],
                                      "default": s.llm_default_model}}
