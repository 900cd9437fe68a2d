"""``POST /api/stt``: transcribe an uploaded audio file (the seeds' STT service, asynchronous use).

The body is the file itself (WAV, FLAC or OGG/Vorbis; any rate, mono or stereo), sent with an
``audio/*`` or ``application/octet-stream`` content type, e.g.::

    curl -s localhost:8000/api/stt --data-binary @question.wav -H 'content-type: audio/wav'

Its length is checked from the header, then it is decoded with soundfile, mixed to mono and
resampled to 16 kHz in a worker thread (never on the event loop, where every live session's
audio waits), and transcribed by the same Whisper worker and hallucination guards as voice turns. Audio that is valid but not speech is a
success with ``rejected`` set (and empty ``text``).
"""

from __future__ import annotations

import asyncio
import io

import numpy as np
import soundfile as sf
import soxr
from fastapi import APIRouter, Depends, Query, Request

from realtime.api.deps import ServicesDep, current_user
from realtime.api.schemas import STTResponse, errors
from realtime.errors import ApiError
from realtime.listen.stt import STTError

router = APIRouter(prefix="/api/stt", tags=["stt"],
                   dependencies=[Depends(current_user)])

_TYPES = ("audio/", "application/octet-stream")


@router.post("", summary="Transcribe an audio file (the request body)", response_model=STTResponse,
             responses=errors(400, 413, 415, 503), openapi_extra={"requestBody": {
                 "required": True, "content": {"audio/*": {"schema": {
                     "type": "string", "format": "binary"}}}}})
async def transcribe(request: Request, services: ServicesDep,
                     language: str | None = Query(None, pattern=r"^([a-z]{2}(-[A-Za-z]{2})?|auto)$",
                                                  description="Default: AVATAR_STT_LANGUAGE")
                     ) -> dict:
    s = services.settings
    stt = services.stt
    if stt is None:
        raise ApiError("SERVICE_UNAVAILABLE", "speech-to-text is not available on this server"
                       + (f": {services.listen_error}" if services.listen_error else ""))
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not ctype.startswith(_TYPES):
        raise ApiError("UNSUPPORTED_MEDIA_TYPE",
                       f"send the audio file as the body with an audio/* content type, not "
                       f"{ctype or 'nothing'!r}")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > s.stt_max_upload_bytes:
        raise ApiError("PAYLOAD_TOO_LARGE", f"over {s.stt_max_upload_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():  # the cap holds without a (truthful) content-length
        body += chunk
        if len(body) > s.stt_max_upload_bytes:
            raise ApiError("PAYLOAD_TOO_LARGE", f"over {s.stt_max_upload_bytes} bytes")
    if not body:
        raise ApiError("INVALID_AUDIO", "the body is empty")
    audio16, duration = await asyncio.to_thread(_load, bytes(body), s.stt_max_upload_s)
    try:
        tr = await stt.transcribe(audio16, language=language)
    except STTError as exc:
        raise ApiError(exc.code if exc.code == "SERVICE_UNAVAILABLE" else "STT_FAILED",
                       str(exc)) from exc
    if services.metrics is not None:
        services.metrics.transcripts.labels(tr.rejected or "ok").inc()
    return {"success": True, "data": {
        "text": tr.text if tr.ok else "", "language": tr.language, "rejected": tr.rejected,
        "duration_s": round(duration, 3), "no_speech_prob": round(tr.no_speech_prob, 4),
        "avg_logprob": None if not np.isfinite(tr.avg_logprob) else round(tr.avg_logprob, 4),
        "processing_ms": round(tr.processing_s * 1000.0, 1)}}


def _load(data: bytes, max_s: float) -> tuple[np.ndarray, float]:
    """In a worker thread (a long file takes a tenth of a second or more to decode): the length
    from the header first, then decode, mix to mono and resample. -> (16 kHz float32, seconds)."""
    try:
        info = sf.info(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - libsndfile says why in the message
        raise ApiError("INVALID_AUDIO", f"not a readable WAV/FLAC/OGG file: {exc}") from exc
    if info.samplerate > 0 and info.frames / info.samplerate > max_s:
        raise ApiError("AUDIO_TOO_LONG", f"{info.frames / info.samplerate:.1f} s of audio; at "
                                         f"most {max_s:.0f} s")
    audio, rate = _decode(data)
    duration = len(audio) / rate
    if duration > max_s:  # the header understated it
        raise ApiError("AUDIO_TOO_LONG", f"{duration:.1f} s of audio; at most {max_s:.0f} s")
    audio16 = audio if rate == 16000 else soxr.resample(audio, rate, 16000).astype(np.float32)
    return np.clip(audio16, -1.0, 1.0), duration


def _decode(data: bytes) -> tuple[np.ndarray, int]:
    """-> (float32 mono, rate). Anything soundfile cannot read is ``INVALID_AUDIO``."""
    try:
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - libsndfile says why in the message
        raise ApiError("INVALID_AUDIO", f"not a readable WAV/FLAC/OGG file: {exc}") from exc
    if not audio.size or rate <= 0:
        raise ApiError("INVALID_AUDIO", "the file holds no audio")
    if not 4000 <= rate <= 192000:
        raise ApiError("INVALID_AUDIO", f"unsupported sample rate {rate} Hz")
    mono = audio.mean(axis=1, dtype=np.float32)
    return np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0), int(rate)
