"""``POST /api/tts`` (text -> WAV file + visemes, or the WAV itself) and ``GET /api/tts/voices``.

Two request shapes are accepted, both from the design documents: §5.5's ``{text, voice_id, speed,
language}`` (answer: JSON with an ``audio_url``) and the GPT-SoVITS-style body of 000:1114-1124
``{text, text_lang, ref_audio_path, prompt_lang, prompt_text, speed_factor, media_type}``
(answer: the audio bytes). ``return_binary: true`` or a ``media_type`` asks for the bytes with
either shape. Without a language the text's script decides (Hangul -> ``ko``).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import Response as HttpResponse
from pydantic import Field

from realtime.api.deps import ServicesDep, UserDep, current_user
from realtime.api.schemas import TTSResponse, VoicesResponse, errors
from realtime.characters.model import Character
from realtime.characters.store import find_character, voice_owner
from realtime.engines.tts.base import TTSError
from realtime.lenient import Lenient
from realtime.errors import ApiError
from realtime.pipeline.audio import wav_bytes, write_wav
from realtime.pipeline.chunker import SentenceChunker
from realtime.pipeline.floor import Floor
from realtime.pipeline.language import detect_language
from realtime.pipeline.response import Response, TurnSpec
from realtime.sinks import CollectSink
from realtime.store.base import StoreUnavailable

router = APIRouter(prefix="/api/tts", tags=["tts"],
                   dependencies=[Depends(current_user)])

_LANG = r"^[a-z]{2}(-[A-Za-z]{2})?$"
# GPT-SoVITS's text_lang values: "all_ko" = only Korean, "auto" = detect
_SOVITS_LANG = r"^(auto|(all_)?[a-z]{2,3}(-[A-Za-z]{2})?)$"
_MEDIA = {"wav": "audio/wav", "raw": "audio/raw"}


class TTSBody(Lenient):
    """The seeds' ``POST /api/tts`` body (§5.5), plus the GPT-SoVITS-style keys they also send."""

    text: str = Field(..., min_length=1)
    voice_id: str | None = Field(None, max_length=200,
                                 description="An id from /api/tts/voices; default: the "
                                             "language's voice")
    speed: float | None = Field(None, ge=0.5, le=2.0, description="0.5-2.0 (default 1.0); "
                                "2.0 speaks in about half the time")
    language: str | None = Field(None, pattern=_LANG,
                                 description="Default: detected from the text (Hangul -> ko)")
    # --- GPT-SoVITS api_v2 style (000:1114-1124, 000:1214-1225)
    text_lang: str | None = Field(None, pattern=_SOVITS_LANG, description="Same as language")
    speed_factor: float | None = Field(None, ge=0.5, le=2.0, description="Same as speed")
    ref_audio_path: str | None = Field(
        None, max_length=500, description="GPT-SoVITS reference clip (a path on its host); "
                                          "ignored by the other engines")
    prompt_text: str | None = Field(None, max_length=500)
    prompt_lang: str | None = Field(None, pattern=_SOVITS_LANG)
    media_type: Literal["wav", "raw"] | None = Field(
        None, description="Answer with the audio bytes: wav, or raw 16-bit mono PCM")
    return_binary: bool = Field(False, description="Answer with the WAV bytes, not JSON")
    streaming_mode: int | None = Field(
        None, ge=0, le=3, description="GPT-SoVITS streaming_mode for this request (0-3); "
                                      "Piper and espeak-ng synthesise locally and ignore it")


def _lang(value: str | None) -> str | None:
    """``ko`` / ``all_ko`` -> ``ko``; ``auto`` -> None (detect)."""
    if value is None or value == "auto":
        return None
    return value.removeprefix("all_")


def _reference_voice(services, body: TTSBody, language: str) -> str | None:
    """A GPT-SoVITS voice for the body's ``ref_audio_path``, bound for this request (released
    after it), or None when no GPT-SoVITS engine is configured (then it is ignored)."""
    try:
        return services.tts.bind_reference_voice(
            body.ref_audio_path or "", prompt_text=body.prompt_text or "",
            prompt_lang=_lang(body.prompt_lang) or language, language=language)
    except ValueError as exc:
        raise ApiError("VALIDATION_ERROR", f"ref_audio_path: {exc}") from None


def _voice_language(services, voice: str | None) -> str | None:
    for v in services.tts.voices():
        if v.id == voice:
            return v.language.split("-")[0]
    return None


@router.post("", summary="Synthesise text to a WAV file (JSON with its URL) or to WAV bytes",
             response_model=TTSResponse, responses={
                 **errors(400, 404, 503),
                 200: {"content": {"audio/wav": {"schema": {"type": "string",
                                                            "format": "binary"}}},
                       "description": "JSON, or the audio bytes when return_binary or "
                                      "media_type is given"}})
async def synthesize(body: TTSBody, services: ServicesDep, user: UserDep):
    s = services.settings
    text = body.text.strip()
    if not text:
        raise ApiError("VALIDATION_ERROR", "text is empty")
    if len(text) > s.max_text_chars:
        raise ApiError("TEXT_TOO_LONG", f"text over {s.max_text_chars} characters")
    voice = None if body.voice_id in (None, "default") else body.voice_id
    bound = None  # a voice bound for this request only, released at its end
    if voice is not None and voice not in services.tts.voice_ids():
        owner = voice_owner(voice)  # one of the caller's own characters' voices?
        if owner is None:
            raise ApiError("NOT_FOUND", f"unknown voice {body.voice_id!r}")
        voice = bound = services.tts.bind_character_voice(
            await find_character(services.memory.long, owner, user))
        if voice is None:
            raise ApiError("NOT_FOUND", f"unknown voice {body.voice_id!r}")
    language = _lang(body.language) or _lang(body.text_lang) or \
        detect_language(text, _voice_language(services, voice) or "ko")
    if voice is None and body.ref_audio_path:
        voice = bound = _reference_voice(services, body, language)
    try:
        return await _speak(services, body, text, voice, language)
    finally:
        services.tts.release_voice(bound)


async def _speak(services, body: TTSBody, text: str, voice: str | None, language: str):
    s = services.settings
    speed = body.speed if body.speed is not None else (body.speed_factor or 1.0)
    try:
        services.tts.pick(language, voice)
    except TTSError as exc:
        raise ApiError("VALIDATION_ERROR", str(exc)) from exc
    chunker = SentenceChunker(language, first_clause=False)
    sentences = [c for c in chunker.push(text) + chunker.flush() if c.strip()]
    spec = TurnSpec(response_id=1, messages=[], model="", temperature=0.0, max_tokens=0,
                    language=language, voice=voice, tts_enabled=True,
                    speak_sentences=sentences, source="speak", speed=speed,
                    tts_streaming_mode=body.streaming_mode)
    sink = CollectSink()
    resp = await Floor(services.engine, sink, rate=s.output_sample_rate,
                       metrics=services.metrics).run_to_end(Response(spec))
    if resp.status != "completed":
        err = resp.error or {"code": "TTS_FAILED", "message": "synthesis failed"}
        raise ApiError("SERVICE_UNAVAILABLE" if err["code"] == "SERVICE_UNAVAILABLE"
                       else "GENERATION_FAILED", err["message"])
    pcm = sink.audio_array()
    rate = s.output_sample_rate
    file_id = uuid.uuid4().hex
    duration = round(len(pcm) / rate, 3)
    if body.return_binary or body.media_type is not None:
        media = body.media_type or "wav"
        data = wav_bytes(pcm, rate) if media == "wav" else pcm.astype("<i2").tobytes()
        return HttpResponse(data, media_type=_MEDIA[media], headers={
            "Content-Disposition": f'attachment; filename="{file_id}.{media}"',
            "X-Audio-Duration": str(duration), "X-Sample-Rate": str(rate),
            "X-Language": language})
    await asyncio.to_thread(write_wav, s.audio_dir / f"{file_id}.wav", pcm, rate)
    visemes = [v.model_dump() for e in sink.of_type("response.visemes") for v in e.visemes]  # type: ignore[attr-defined]
    return {"success": True, "data": {
        "audio_url": f"/media/audio/{file_id}.wav", "file_id": file_id, "duration": duration,
        "sample_rate": rate, "language": language, "speed": speed, "visemes": visemes,
        "truncated": resp.truncated,
    }}


@router.get("/voices", summary="The shared voices, and your characters' own voices",
            response_model=VoicesResponse, responses=errors())
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
