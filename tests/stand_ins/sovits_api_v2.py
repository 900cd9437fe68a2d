"""STAND-IN for GPT-SoVITS ``api_v2.py`` -- this is NOT GPT-SoVITS.

It reproduces the HTTP wire behaviour of upstream ``api_v2.py`` (parameter names and defaults,
``check_params`` order and exact 400 messages, the ``streaming_mode`` mapping, the streamed WAV
layout: a separate 44-byte ``wave``-module header with data size 0 followed by raw int16 chunks,
the non-streaming soundfile WAV, ``/control`` and ``/set_refer_audio``), so the client in
``realtime.engines.tts.sovits`` can be tested over real HTTP. The real model weights and a GPU
cannot run here, so instead of speech it synthesises a deterministic *placeholder* signal: per
letter/Hangul/CJK character a 60-90 ms voiced tone burst with a syllable envelope, per space or
punctuation mark ~80 ms of near-silence. That gives an energy-based viseme fitter structure to
find, and :func:`expected_samples` predicts the exact length.

Not reproduced: real inference, ``ogg``/``aac`` (answered 501), ``/control?command=restart|exit``
(no-ops), checking that ``ref_audio_path`` exists, the weight-switching endpoints.
``text == "RAISE"`` takes the inference-error path: 400 ``tts failed`` in non-streaming mode, a
connection broken off after the 200 in streaming mode (as upstream, where the error surfaces
inside the streaming generator).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import wave
from collections.abc import Iterator
from typing import Any, Union

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel

LANGS_V1 = ["auto", "en", "zh", "ja", "all_zh", "all_ja"]
LANGS_V2 = ["auto", "auto_yue", "en", "zh", "ja", "yue", "ko", "all_zh", "all_ja", "all_yue", "all_ko"]
CUT_METHODS = ["cut0", "cut1", "cut2", "cut3", "cut4", "cut5"]
MEDIA_TYPES = ["wav", "raw", "ogg", "aac"]
_PUNCT5 = ",.;?!、，。？！;：…"
_SPLIT_SETS = {"cut1": _PUNCT5, "cut2": _PUNCT5, "cut3": "。", "cut4": ".", "cut5": _PUNCT5}
TOKENS_PER_S = 25  # GPT-SoVITS semantic tokens per second (for streaming modes 2/3 chunking)


class TTS_Request(BaseModel):  # noqa: N801 - upstream's name
    """Upstream ``TTS_Request`` (POST body); unknown keys are dropped like ``request.dict()``."""

    text: str | None = None
    text_lang: str | None = None
    ref_audio_path: str | None = None
    aux_ref_audio_paths: list | None = None
    prompt_lang: str | None = None
    prompt_text: str = ""
    top_k: int = 15
    top_p: float = 1
    temperature: float = 1
    text_split_method: str = "cut5"
    batch_size: int = 1
    batch_threshold: float = 0.75
    split_bucket: bool = True
    speed_factor: float = 1.0
    fragment_interval: float = 0.3
    seed: int = -1
    media_type: str = "wav"
    streaming_mode: Union[bool, int] = False  # noqa: UP007 - upstream's annotation
    parallel_infer: bool = True
    repetition_penalty: float = 1.35
    sample_steps: int = 32
    super_sampling: bool = False
    overlap_length: int = 2
    min_chunk_length: int = 16


# --- the deterministic placeholder "speech" ---------------------------------------------------

def split_text(text: str, method: str) -> list[str]:
    """Approximate upstream ``text_split_method`` segmentation; drops punctuation-only pieces."""
    text = text.strip("\n")
    if method == "cut0":
        parts = [text]
    else:
        punct = re.escape(_SPLIT_SETS[method])
        parts = re.findall(rf"[^{punct}]+[{punct}]*|[{punct}]+", text)
        if method in ("cut1", "cut2"):  # cut1: 4 sentences per piece, cut2: >= 50 characters
            grouped: list[str] = []
            for p in parts:
                full = grouped and (len(re.findall(rf"[{punct}]", grouped[-1])) >= 4
                                    if method == "cut1" else len(grouped[-1]) >= 50)
                if grouped and not full:
                    grouped[-1] += p
                else:
                    grouped.append(p)
            parts = grouped
    return [p.strip() for p in parts if any(c.isalnum() for c in p)]


def char_samples(ch: str, sample_rate: int, speed: float = 1.0) -> int:
    """Samples the placeholder signal spends on one character."""
    ms = 60 + (ord(ch) * 7) % 31 if ch.isalnum() else 80
    return int(round(sample_rate * ms / 1000.0 / speed))


def render_fragment(fragment: str, sample_rate: int, speed: float = 1.0) -> np.ndarray:
    """The placeholder audio of one text fragment (int16, no trailing interval)."""
    pieces = []
    for ch in fragment:
        n = char_samples(ch, sample_rate, speed)
        t = np.arange(n) / sample_rate
        if ch.isalnum():
            f0 = 100.0 + (ord(ch) % 7) * 15.0
            tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 5))
            env = np.sin(np.pi * np.arange(n) / max(n - 1, 1)) ** 2  # one syllable
            pieces.append(0.45 * 32767 / 2.1 * tone * env)
        else:
            pieces.append(np.random.default_rng(ord(ch)).normal(0.0, 20.0, n))
    audio = np.concatenate(pieces) if pieces else np.zeros(0)
    return np.clip(audio, -32768, 32767).astype(np.int16)


def expected_samples(text: str, sample_rate: int = 32000, *, text_split_method: str = "cut5",
                     speed_factor: float = 1.0, fragment_interval: float = 0.3) -> int:
    """Total samples the stand-in returns for ``text`` (every mode; silences included)."""
    gap = int(sample_rate * fragment_interval)
    return sum(sum(char_samples(c, sample_rate, speed_factor) for c in frag) + gap
               for frag in split_text(text, text_split_method))


def wave_header_chunk(sample_rate: int = 32000) -> bytes:
    """Upstream's header chunk: ``wave`` with zero frames, so RIFF size 36 and data size 0."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(b"")
    return buf.getvalue()


def _chunks(req: dict, sr: int, mode: int) -> Iterator[tuple[int, np.ndarray]]:
    """What upstream ``TTS.run()`` yields for this request: ``(sr, int16 chunk)`` tuples."""
    if req["text"] == "RAISE":
        raise RuntimeError("stand-in: simulated inference failure")
    assert req["text_lang"] in LANGS_V2  # upstream's case-sensitive check in run()
    frags = split_text(req["text"], req["text_split_method"])
    if not frags:  # upstream: empty text after preprocessing -> 1 s of 16 kHz silence
        yield 16000, np.zeros(16000, np.int16)
        return
    speed = req["speed_factor"]
    gap = np.zeros(int(sr * req["fragment_interval"]), np.int16)
    if mode in (0, 1):
        bs = max(1, req["batch_size"])
        for i in range(0, len(frags), bs):
            yield sr, np.concatenate([x for f in frags[i:i + bs]
                                      for x in (render_fragment(f, sr, speed), gap)])
        return
    step = max(1, int(sr * req["min_chunk_length"] / TOKENS_PER_S))
    for f in frags:  # modes 2/3: many small chunks per segment, then a separate silence chunk
        audio = render_fragment(f, sr, speed)
        for i in range(0, len(audio), step):
            yield sr, audio[i:i + step]
        yield sr, gap


# --- the app ---------------------------------------------------------------------------------

def create_stand_in(sample_rate: int = 32000, chunk_delay_s: float = 0.0,
                    version: str = "v2") -> FastAPI:
    """An app that answers like ``api_v2.py``. ``chunk_delay_s`` is waited before each chunk.

    ``app.state``: ``requests`` (every request as a dict), ``chunks_sent`` (audio chunks written),
    ``streams_completed``, ``disconnects`` (streams that stopped before their last chunk).
    """
    app = FastAPI(title="GPT-SoVITS api_v2 STAND-IN")
    app.state.requests = []
    app.state.chunks_sent = 0
    app.state.streams_completed = 0
    app.state.disconnects = 0
    languages = LANGS_V1 if version == "v1" else LANGS_V2

    def bad(message: str, **extra: str) -> JSONResponse:
        return JSONResponse(status_code=400, content={"message": message, **extra})

    def check_params(req: dict) -> JSONResponse | None:
        if req.get("ref_audio_path") in (None, ""):
            return bad("ref_audio_path is required")
        if req.get("text") in (None, ""):
            return bad("text is required")
        text_lang = req.get("text_lang")
        if text_lang in (None, ""):
            return bad("text_lang is required")
        if text_lang.lower() not in languages:
            return bad(f"text_lang: {text_lang} is not supported in version {version}")
        prompt_lang = req.get("prompt_lang")
        if prompt_lang in (None, ""):
            return bad("prompt_lang is required")
        if prompt_lang.lower() not in languages:
            return bad(f"prompt_lang: {prompt_lang} is not supported in version {version}")
        if req.get("media_type", "wav") not in MEDIA_TYPES:
            return bad(f"media_type: {req.get('media_type')} is not supported")
        if req.get("text_split_method", "cut5") not in CUT_METHODS:
            return bad(f"text_split_method:{req.get('text_split_method')} is not supported")
        return None

    async def tts_handle(req: dict, request: Request) -> Response:
        mode_raw = req.get("streaming_mode", False)
        media_type = req.get("media_type", "wav")
        if (res := check_params(req)) is not None:
            return res
        if mode_raw not in (0, 1, 2, 3):  # == comparison: False == 0, True == 1
            return bad("the value of streaming_mode must be 0, 1, 2, 3(int) or true/false(bool)")
        mode = int(mode_raw)
        if media_type not in ("wav", "raw"):
            return JSONResponse(status_code=501, content={
                "message": f"stand-in: media_type {media_type} is not reproduced"})
        if mode == 0:
            try:
                sr, audio = _concat(_chunks(req, sample_rate, 0))
            except Exception as e:  # noqa: BLE001 - upstream's blanket handler
                return bad("tts failed", Exception=str(e))
            if media_type == "raw":
                return Response(audio.tobytes(), media_type="audio/raw")
            import soundfile as sf

            buf = io.BytesIO()
            sf.write(buf, audio, sr, format="wav")
            return Response(buf.getvalue(), media_type="audio/wav")

        async def body():
            finished = False
            try:
                first = True
                for sr, chunk in _chunks(req, sample_rate, mode):
                    if chunk_delay_s:
                        await asyncio.sleep(chunk_delay_s)
                    if await request.is_disconnected():
                        return
                    if first and media_type == "wav":
                        yield wave_header_chunk(sr)
                    first = False
                    yield chunk.tobytes()
                    app.state.chunks_sent += 1
                finished = True
                app.state.streams_completed += 1
            except Exception:
                finished = True  # an inference failure is not a disconnect: drop the connection
                raise
            finally:
                if not finished:
                    app.state.disconnects += 1

        return StreamingResponse(body(), media_type=f"audio/{media_type}")

    @app.post("/tts")
    async def tts_post(req: TTS_Request, request: Request) -> Response:
        app.state.requests.append({"method": "POST", "path": "/tts", "json": await request.json()})
        return await tts_handle(req.model_dump(), request)

    @app.get("/tts")
    async def tts_get(request: Request, text: str | None = None, text_lang: str | None = None,
                      ref_audio_path: str | None = None, prompt_lang: str | None = None,
                      prompt_text: str = "", text_split_method: str = "cut5",
                      batch_size: int = 1, speed_factor: float = 1.0,
                      fragment_interval: float = 0.3, media_type: str = "wav",
                      streaming_mode: Union[bool, int] = Query(False),  # noqa: UP007
                      min_chunk_length: int = 16) -> Response:
        app.state.requests.append({"method": "GET", "path": "/tts",
                                   "query": dict(request.query_params)})
        if text_lang is None or prompt_lang is None:  # upstream: None.lower() -> HTTP 500
            return PlainTextResponse("Internal Server Error", status_code=500)
        req = TTS_Request(text=text, text_lang=text_lang.lower(), ref_audio_path=ref_audio_path,
                          prompt_lang=prompt_lang.lower(), prompt_text=prompt_text,
                          text_split_method=text_split_method, batch_size=batch_size,
                          speed_factor=speed_factor, fragment_interval=fragment_interval,
                          media_type=media_type, streaming_mode=streaming_mode,
                          min_chunk_length=min_chunk_length)
        return await tts_handle(req.model_dump(), request)

    @app.get("/control")
    async def control(request: Request, command: str | None = None) -> Any:
        app.state.requests.append({"method": "GET", "path": "/control",
                                   "query": dict(request.query_params)})
        if command is None:
            return JSONResponse(status_code=400, content={"message": "command is required"})
        return None  # restart/exit are not reproduced; other commands answer null upstream too

    @app.get("/set_refer_audio")
    async def set_refer_audio(request: Request, refer_audio_path: str | None = None) -> Any:
        app.state.requests.append({"method": "GET", "path": "/set_refer_audio",
                                   "query": dict(request.query_params)})
        if not refer_audio_path:
            return bad("set refer audio failed", Exception="refer_audio_path is empty")
        return JSONResponse(status_code=200, content={"message": "success"})

    return app


def _concat(chunks: Iterator[tuple[int, np.ndarray]]) -> tuple[int, np.ndarray]:
    """Non-streaming: all segments (each with its interval) joined, like ``audio_postprocess``."""
    items = list(chunks)
    return items[0][0], np.concatenate([c for _, c in items])


@contextlib.contextmanager
def run_stand_in(app: FastAPI | None = None, **kw: Any) -> Iterator[str]:
    """Serve ``app`` (or ``create_stand_in(**kw)``) on a free loopback port; yield its URL."""
    from tests.serving import serve

    with serve(app or create_stand_in(**kw), lifespan="off", timeout=30,
               timeout_graceful_shutdown=2) as url:
        yield url
