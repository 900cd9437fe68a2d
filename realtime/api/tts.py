"""``POST /api/tts`` (text -> WAV file + visemes) and ``GET /api/tts/voices``."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from realtime.api.deps import ServicesDep, UserDep, current_user
from realtime.characters.model import Character
from realtime.characters.store import find_character, voice_owner
from realtime.engines.tts.base import TTSError
from realtime.errors import ApiError
from realtime.pipeline.audio import write_wav
from realtime.pipeline.chunker import SentenceChunker
from realtime.pipeline.floor import Floor
from realtime.pipeline.response import Response, TurnSpec
from realtime.sinks import CollectSink
from realtime.store.base import StoreUnavailable

router = APIRouter(prefix="/api/tts", tags=["tts"],
                   dependencies=[Depends(current_user)])


class TTSBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(..., min_length=1)
    voice_id: str | None = Field(None, max_length=200)
    speed: float = Field(1.0, ge=0.5, le=2.0)
    language: str = Field("en", pattern=r"^[a-z]{2}(-[A-Za-z]{2})?$")


@router.post("", summary="Synthesise text to a WAV file, with visemes")
async def synthesize(body: TTSBody, services: ServicesDep, user: UserDep) -> dict:
    s = services.settings
    text = body.text.strip()
    if not text:
        raise ApiError("VALIDATION_ERROR", "text is empty")
    if len(text) > s.max_text_chars:
        raise ApiError("TEXT_TOO_LONG", f"text over {s.max_text_chars} characters")
    voice = None if body.voice_id in (None, "default") else body.voice_id
    if voice is not None and voice not in services.tts.voice_ids():
        owner = voice_owner(voice)  # one of the caller's own characters' voices?
        if owner is None:
            raise ApiError("NOT_FOUND", f"unknown voice {body.voice_id!r}")
        voice = services.tts.bind_character_voice(
            await find_character(services.memory.long, owner, user))
        if voice is None:
            raise ApiError("NOT_FOUND", f"unknown voice {body.voice_id!r}")
    try:
        return await _speak(services, body, text, voice)
    finally:
        services.tts.release_voice(voice)


async def _speak(services, body: TTSBody, text: str, voice: str | None) -> dict:
    s = services.settings
    try:
        services.tts.pick(body.language, voice)
    except TTSError as exc:
        raise ApiError("VALIDATION_ERROR", str(exc)) from exc
    chunker = SentenceChunker(body.language, first_clause=False)
    sentences = [c for c in chunker.push(text) + chunker.flush() if c.strip()]
    spec = TurnSpec(response_id=1, messages=[], model="", temperature=0.0, max_tokens=0,
                    language=body.language, voice=voice, tts_enabled=True,
                    speak_sentences=sentences, source="speak")
    sink = CollectSink()
    resp = await Floor(services.engine, sink, rate=s.output_sample_rate,
                       metrics=services.metrics).run_to_end(Response(spec))
    if resp.status != "completed":
        err = resp.error or {"code": "TTS_FAILED", "message": "synthesis failed"}
        raise ApiError("SERVICE_UNAVAILABLE" if err["code"] == "SERVICE_UNAVAILABLE"
                       else "GENERATION_FAILED", err["message"])
    pcm = sink.audio_array()
    file_id = uuid.uuid4().hex
    await asyncio.to_thread(write_wav, s.audio_dir / f"{file_id}.wav", pcm, s.output_sample_rate)
    visemes = [v.model_dump() for e in sink.of_type("response.visemes") for v in e.visemes]  # type: ignore[attr-defined]
    return {"success": True, "data": {
        "audio_url": f"/media/audio/{file_id}.wav", "file_id": file_id,
        "duration": round(len(pcm) / s.output_sample_rate, 3),
        "sample_rate": s.output_sample_rate, "visemes": visemes, "truncated": resp.truncated,
    }}


@router.get("/voices", summary="The shared voices, and your characters' own voices")
async def voices(services: ServicesDep, user: UserDep) -> dict:
    """Every configured engine's voices, plus the GPT-SoVITS reference voices of the caller's
    own characters (never another user's)."""
    found = list(services.tts.voices())
    try:
        docs = await services.memory.long.list_characters(user)
    except StoreUnavailable:
        docs = []
    for doc in docs:
        if doc.get("owner") == user:
            info = services.tts.character_voice_info(Character.from_doc(doc))
            if info is not None:
                found.append(info)
    return {"success": True, "data": {"voices": [
        {"id": v.id, "name": v.name, "language": v.language, "engine": v.engine,
         "gender": v.gender} for v in found
    ]}}
