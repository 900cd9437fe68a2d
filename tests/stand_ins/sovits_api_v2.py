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

Reproduced from upstream ``api_v2.py`` and ``TTS_infer_pack/TTS.py`` (``48b1a01``), because the
client must survive them:

* errors raised before ``TTS.run``'s ``try`` (``ref_audio_path`` not on disk, a clip outside
  3-10 s, an empty ``prompt_text`` on v3/v4, a language the version lacks): mode 0 answers 400
  ``tts failed``; streaming modes answer 200 and drop the connection without a byte;
* inference errors (a fragment containing ``RAISE``): 1 s of 16 kHz silence first — mode 0
  returns it as a 200 WAV, streaming modes send it (a 16 kHz header if it is the first chunk) and
  then, after the model reload (``reload_s``), drop the connection;
* text its preprocessing empties: mode 0 answers the 16 kHz placeholder, streaming modes an
  empty 200 body;
* one shared pipeline without a lock: concurrent requests render with whichever reference voice
  was set last (the voice shows as the placeholder's loudness, :func:`voice_gain`); mode 0
  blocks the server's event loop (``/control`` waits);
* no stop on disconnect: the step in progress runs to its end.

Not reproduced: real inference, ``ogg``/``aac`` (answered 501), ``/control?command=restart|exit``
(no-ops), the weight-switching endpoints, ``aux_ref_audio_paths``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import time
import wave
import zlib
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


def voice_gain(ref_audio_path: str | None) -> float:
    """The loudness that marks a reference voice in the placeholder signal (so a test can tell
    whose voice a chunk was rendered with)."""
    name = os.path.basename(ref_audio_path or "")  # not the folder: a test's tmp dir varies
    return 0.15 + 0.1 * (zlib.crc32(name.encode()) % 6)


def render_fragment(fragment: str, sample_rate: int, speed: float = 1.0,
                    gain: float = 0.45) -> np.ndarray:
    """The placeholder audio of one text fragment (int16, no trailing interval)."""
    pieces = []
    for ch in fragment:
        n = char_samples(ch, sample_rate, speed)
        t = np.arange(n) / sample_rate
        if ch.isalnum():
            f0 = 100.0 + (ord(ch) % 7) * 15.0
            tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 5))
            env = np.sin(np.pi * np.arange(n) / max(n - 1, 1)) ** 2  # one syllable
            pieces.append(gain * 32767 / 2.1 * tone * env)
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



# --- upstream TTS.run(), as far as the wire can tell -----------------------------------------

class InferenceError(RuntimeError):
    """What the model raises inside ``TTS.run``'s ``try`` (e.g. CUDA out of memory)."""


class Pipeline:
    """Upstream's one global ``tts_pipeline``: a single prompt cache shared by every request, no
    lock (modes 1-3 run in Starlette's thread pool, so requests interleave and a later request's
    reference voice is what an earlier one renders with from then on)."""

    def __init__(self, version: str, sample_rate: int, check_refs: bool) -> None:
        self.version = version
        self.sample_rate = sample_rate
        self.check_refs = check_refs
        self.ref_audio_path: str | None = None  # prompt_cache["ref_audio_path"]
        self.languages = LANGS_V1 if version == "v1" else LANGS_V2

    def set_ref_audio(self, path: str) -> None:
        """``TTS.set_ref_audio`` -> ``_set_prompt_semantic``: the clip must be 3-10 s."""
        if self.check_refs:
            import soundfile as sf

            seconds = sf.info(path).duration
            if not 3.0 <= seconds <= 10.0:
                raise OSError("Reference audio is outside the 3-10 second range, please choose "
                              "another one!")
        self.ref_audio_path = path

    def steps(self, req: dict, mode: int) -> Iterator[tuple[int, np.ndarray]]:
        """What ``TTS.run`` yields: ``(sr, int16 chunk)``. Errors before its ``try`` propagate
        at the first ``next()``; errors inside it first yield 1 s of 16 kHz silence."""
        if req["text_lang"] not in self.languages:  # upstream: assert (case-sensitive)
            raise AssertionError()
        prompt_text = req.get("prompt_text") or ""
        if not prompt_text and self.version in ("v3", "v4"):
            raise RuntimeError("prompt_text cannot be empty when using SoVITS_V3")  # NO_PROMPT_ERROR
        ref = req["ref_audio_path"]
        if ref != self.ref_audio_path:
            if self.check_refs and not os.path.exists(ref):
                raise ValueError(f"{ref} not exists")
            self.set_ref_audio(ref)
        frags = split_text(req["text"], req["text_split_method"])
        if not frags:  # nothing left after preprocessing
            if mode == 0:
                yield 16000, np.zeros(16000, np.int16)
            return  # streaming: no chunk at all (make_batch -> None for every piece)
        sr, speed = self.sample_rate, req["speed_factor"]
        gap = np.zeros(int(sr * req["fragment_interval"]), np.int16)
        try:
            if mode == 0:
                audio = []
                for f in frags:
                    if "RAISE" in f:
                        raise InferenceError("stand-in: simulated inference failure")
                    audio += [render_fragment(f, sr, speed, voice_gain(self.ref_audio_path)), gap]
                yield sr, np.concatenate(audio)
                return
            step = max(1, int(sr * req["min_chunk_length"] / TOKENS_PER_S))
            for f in frags:
                if "RAISE" in f:
                    raise InferenceError("stand-in: simulated inference failure")
                if mode == 1:  # one chunk per fragment (batch_size 1), its interval appended
                    yield sr, np.concatenate([render_fragment(f, sr, speed,
                                                              voice_gain(self.ref_audio_path)), gap])
                    continue
                audio = render_fragment(f, sr, speed, voice_gain(self.ref_audio_path))
                for i in range(0, len(audio), step):  # modes 2/3: token-level chunks
                    yield sr, audio[i:i + step]
                yield sr, gap
        except InferenceError:
            yield 16000, np.zeros(16000, np.int16)  # "must return an empty audio" (upstream)
            raise


# --- the app ---------------------------------------------------------------------------------

def create_stand_in(sample_rate: int = 32000, chunk_delay_s: float = 0.0, version: str = "v2",
                    check_refs: bool = True, reload_s: float = 0.2) -> FastAPI:
    """An app that answers like ``api_v2.py``. ``chunk_delay_s``: compute time of each step of
    ``TTS.run`` (mode 0 blocks the server's event loop for it, as upstream's ``next()`` does).
    ``reload_s``: the model reload after an inference error, before the stream breaks.

    ``app.state``: ``requests`` (every request as a dict), ``chunks_sent``, ``streams_completed``,
    ``disconnects`` (streams the client left before their end), ``steps_after_disconnect`` (work
    upstream finishes for a client that has gone), ``active`` / ``max_active`` (requests inside
    the pipeline at once), ``rendered`` (per request: the voice gains its chunks were made with).
    """
    app = FastAPI(title="GPT-SoVITS api_v2 STAND-IN")
    st = app.state
    st.requests, st.rendered = [], []
    st.chunks_sent = st.streams_completed = st.disconnects = st.steps_after_disconnect = 0
    st.active = st.max_active = 0
    pipeline = Pipeline(version, sample_rate, check_refs)
    app.state.pipeline = pipeline

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
        if text_lang.lower() not in pipeline.languages:
            return bad(f"text_lang: {text_lang} is not supported in version {version}")
        prompt_lang = req.get("prompt_lang")
        if prompt_lang in (None, ""):
            return bad("prompt_lang is required")
        if prompt_lang.lower() not in pipeline.languages:
            return bad(f"prompt_lang: {prompt_lang} is not supported in version {version}")
        if req.get("media_type", "wav") not in MEDIA_TYPES:
            return bad(f"media_type: {req.get('media_type')} is not supported")
        if req.get("text_split_method", "cut5") not in CUT_METHODS:
            return bad(f"text_split_method:{req.get('text_split_method')} is not supported")
        return None

    def enter() -> list[float]:
        st.active += 1
        st.max_active = max(st.max_active, st.active)
        gains: list[float] = []
        st.rendered.append(gains)
        return gains

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
        if mode == 0:  # upstream: next(generator) on its own event loop, blocking it
            gains = enter()
            try:
                sr, audio = next(pipeline.steps(req, 0))
                time.sleep(chunk_delay_s * max(1, len(split_text(req["text"],
                                                                 req["text_split_method"]))))
                gains.append(voice_gain(pipeline.ref_audio_path))
            except Exception as e:  # noqa: BLE001 - upstream's blanket handler
                return bad("tts failed", Exception=str(e))
            finally:
                st.active -= 1
            if media_type == "raw":
                return Response(audio.tobytes(), media_type="audio/raw")
            import soundfile as sf

            buf = io.BytesIO()
            sf.write(buf, audio, sr, format="wav")
            return Response(buf.getvalue(), media_type="audio/wav")

        gains = enter()
        chunks: asyncio.Queue = asyncio.Queue()
        gone = asyncio.Event()

        async def produce() -> None:
            """The thread-pool iteration of ``TTS.run``: a step in progress when the client
            leaves runs to its end (upstream never calls ``tts_pipeline.stop()``)."""
            try:
                gen = pipeline.steps(req, mode)
                while True:
                    if chunk_delay_s:
                        await asyncio.sleep(chunk_delay_s)
                    if gone.is_set():
                        st.steps_after_disconnect += 1
                        return
                    try:
                        sr, chunk = next(gen)
                    except StopIteration:
                        break
                    gains.append(voice_gain(pipeline.ref_audio_path))
                    await chunks.put((sr, chunk))
                await chunks.put(None)
            except Exception as exc:  # noqa: BLE001 - delivered to the body, which breaks
                if isinstance(exc, InferenceError) and reload_s:
                    await asyncio.sleep(reload_s)  # upstream reloads both models first
                await chunks.put(exc)
            finally:
                st.active -= 1

        producer = asyncio.create_task(produce())

        async def body():
            finished = False
            try:
                first = True
                while (item := await chunks.get()) is not None:
                    if isinstance(item, Exception):
                        finished = True
                        raise item  # after the 200: the connection is dropped
                    sr, chunk = item
                    if first and media_type == "wav":
                        yield wave_header_chunk(sr)
                    first = False
                    yield chunk.tobytes()
                    st.chunks_sent += 1
                finished = True
                st.streams_completed += 1
            finally:
                if not finished:
                    st.disconnects += 1
                    gone.set()

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
        try:
            pipeline.set_ref_audio(refer_audio_path)  # upstream: loads None -> an exception
        except Exception as e:  # noqa: BLE001
            return bad("set refer audio failed", Exception=str(e))
        return JSONResponse(status_code=200, content={"message": "success"})

    return app


def write_ref_clip(path, seconds: float = 4.0, rate: int = 32000) -> str:
    """A reference clip for the stand-in (any audio of the right length; it only measures it)."""
    import soundfile as sf

    rng = np.random.default_rng(int(seconds * 1000))
    sf.write(str(path), (rng.normal(0, 0.1, int(seconds * rate))).astype(np.float32), rate)
    return str(path)


@contextlib.contextmanager
def run_stand_in(app: FastAPI | None = None, **kw: Any) -> Iterator[str]:
    """Serve ``app`` (or ``create_stand_in(**kw)``) on a free loopback port; yield its URL."""
    from tests.serving import serve

    with serve(app or create_stand_in(**kw), lifespan="off", timeout=30,
               timeout_graceful_shutdown=2) as url:
        yield url
