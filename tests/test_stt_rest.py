"""POST /api/stt with real files (Piper speech as WAV/FLAC/OGG) and real Whisper; bad uploads get
coded errors in the seeds' envelope."""

from __future__ import annotations

import asyncio
import io

import httpx
import numpy as np
import pytest
import soundfile as sf
import soxr

from tests.speech import piper_16k, wer

pytestmark = pytest.mark.slow

TEXT = "Could you tell me the way to the train station?"


@pytest.fixture(scope="module")
def speech(piper_voice) -> np.ndarray:
    return piper_16k(piper_voice, TEXT)


def encode(audio: np.ndarray, rate: int, fmt: str, channels: int = 1) -> bytes:
    if channels == 2:
        audio = np.stack([audio, audio * 0.5], axis=1)
    buf = io.BytesIO()
    sf.write(buf, audio, rate, format=fmt)
    return buf.getvalue()


async def post(live, body: bytes, ctype: str = "audio/wav", **params) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live.url, timeout=60) as http:
        return await http.post("/api/stt", content=body, headers={"content-type": ctype},
                               params=params)


@pytest.mark.parametrize("fmt,rate,channels", [("WAV", 16000, 1), ("FLAC", 48000, 2),
                                               ("OGG", 22050, 1)])
async def test_transcribes_uploaded_files(live, speech, fmt, rate, channels):
    audio = speech if rate == 16000 else soxr.resample(speech, 16000, rate).astype(np.float32)
    r = await post(live, encode(audio, rate, fmt, channels), f"audio/{fmt.lower()}")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["rejected"] is None and wer(TEXT, data["text"]) <= 0.25, data
    assert data["language"] == "en" and data["duration_s"] == pytest.approx(len(speech) / 16000,
                                                                             abs=0.05)
    assert data["processing_ms"] > 0


async def test_silence_is_a_success_with_a_rejection(live):
    r = await post(live, encode(np.zeros(16000, np.float32), 16000, "WAV"))
    data = r.json()["data"]
    assert r.status_code == 200 and data["text"] == "" and data["rejected"] == "quiet"


async def test_bad_uploads(live, speech):
    s = live.services.settings
    cases = [
        (b"", "audio/wav", 400, "INVALID_AUDIO"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt garbage", "audio/wav", 400, "INVALID_AUDIO"),
        (b"<html>not audio</html>" * 50, "audio/wav", 400, "INVALID_AUDIO"),
        (encode(speech, 16000, "WAV"), "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"\x00" * (s.stt_max_upload_bytes + 1), "audio/wav", 413, "PAYLOAD_TOO_LARGE"),
    ]
    for body, ctype, status, code in cases:
        r = await post(live, body, ctype)
        assert r.status_code == status, (code, r.text)
        err = r.json()
        assert err["success"] is False and err["error"]["code"] == code and err["error"]["message"]
    too_long = np.zeros(int((s.stt_max_upload_s + 1) * 8000), np.float32)
    r = await post(live, encode(too_long, 8000, "WAV"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "AUDIO_TOO_LONG"
    r = await post(live, encode(speech, 16000, "WAV"), language="klingon")
    assert r.status_code == 400 and r.json()["error"]["code"] == "VALIDATION_ERROR"
    # the server is fine afterwards
    r = await post(live, encode(speech, 16000, "WAV"))
    assert r.status_code == 200 and r.json()["data"]["rejected"] is None


async def test_long_files_are_refused_from_the_header_and_decoding_is_off_the_loop(
        live, speech, monkeypatch):
    """A file over the length limit is refused from its header, without decoding it; a file
    within it is decoded and resampled in a worker thread, never on the event loop (where every
    live session's audio waits)."""
    from realtime.api import stt as stt_api

    calls: list[bool] = []
    decode = stt_api._decode

    def spy(data: bytes):
        try:
            asyncio.get_running_loop()
            calls.append(True)  # on an event loop: wrong
        except RuntimeError:
            calls.append(False)  # in a worker thread
        return decode(data)

    monkeypatch.setattr(stt_api, "_decode", spy)
    limit = live.services.settings.stt_max_upload_s
    long = np.zeros(int((limit + 5) * 8000), np.float32)  # FLAC of silence: small, but too long
    r = await post(live, encode(long, 8000, "FLAC"), "audio/flac")
    assert r.status_code == 400 and r.json()["error"]["code"] == "AUDIO_TOO_LONG"
    assert calls == []  # refused before decoding
    r = await post(live, encode(soxr.resample(speech, 16000, 44100).astype(np.float32), 44100,
                                "FLAC"), "audio/flac")
    assert r.status_code == 200 and calls == [False]
