"""GPT-SoVITS over HTTP: a client for the upstream ``api_v2.py`` server (``POST /tts``).

Wire behaviour relied on (upstream ``api_v2.py``):

* Streaming (``streaming_mode`` 1/2/3, ``media_type="wav"``): status 200, chunked body. The first
  HTTP chunk is a 44-byte WAV header written by Python's ``wave`` with zero frames, so its RIFF
  and ``data`` sizes are bogus (36 / 0); every later chunk is headerless mono int16 PCM.
* Non-streaming (``streaming_mode`` 0): one complete WAV written by soundfile (PCM_16).
* Errors: 400 ``{"message": ..., "Exception": ...}`` (validation, or "tts failed" in
  non-streaming mode); 422 ``{"detail": [...]}`` for type errors. In streaming mode an inference
  error after the 200 only cuts the body short.

There is no alignment, so chunks carry ``phonemes=None`` and the turn engine fits visemes itself.
"""

from __future__ import annotations

import json
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import numpy as np

from realtime.engines.tts.base import SynthChunk, TTSEngine, TTSError, VoiceInfo

LANG_MAP = {"ko": "ko", "en": "en", "ja": "ja", "zh": "zh"}
SUPPORTED = frozenset({"ko", "en", "ja", "zh", "yue"})
MAX_HEADER_BYTES = 64 * 1024  # give up looking for the ``data`` chunk after this much
_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_UNKNOWN_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF)  # placeholders streaming writers put in ``data``


@dataclass
class SovitsVoice:
    """One reference voice: a WAV path *on the GPT-SoVITS host* plus its transcript."""

    ref_audio_path: str
    prompt_text: str = ""
    prompt_lang: str = "ko"
    name: str = ""
    language: str = "ko"


@dataclass(frozen=True, slots=True)
class WavFormat:
    """What the WAV header says, and where the PCM starts."""

    sample_rate: int
    channels: int
    sample_width: int  # bytes per sample
    data_offset: int  # index of the first PCM byte in the buffer that was parsed
    data_size: int  # as written in the header; meaningless (0) in api_v2 streaming


def parse_wav_header(buf: bytes) -> WavFormat | None:
    """Parse a RIFF/WAVE header from the start of ``buf``.

    Returns ``None`` while more bytes are needed (header split across HTTP chunks). Chunks other
    than ``fmt `` and ``data`` (``LIST``, ``fact``...) are skipped. Raises :class:`TTSError` for
    anything that is not a WAV header.
    """
    if len(buf) < 12:
        if not (b"RIFF".startswith(buf[:4]) and b"WAVE".startswith(buf[8:12])):
            raise TTSError("GPT-SoVITS reply is not a WAV stream")
        return None
    if buf[:4] != b"RIFF" or buf[8:12] != b"WAVE":
        raise TTSError("GPT-SoVITS reply is not a WAV stream")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while len(buf) >= pos + 8:
        cid = buf[pos:pos + 4]
        (size,) = struct.unpack_from("<I", buf, pos + 4)
        body = pos + 8
        if cid == b"data":
            if fmt is None:
                raise TTSError("WAV data chunk before its fmt chunk")
            _, channels, rate, bits = fmt
            return WavFormat(rate, channels, bits // 8, body, size)
        if cid == b"fmt ":
            if size < 16:
                raise TTSError("WAV fmt chunk too short")
            if len(buf) < body + 16:
                return None
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", buf, body)
            fmt = (tag, channels, rate, bits)
            if tag not in (_WAVE_FORMAT_PCM, _WAVE_FORMAT_EXTENSIBLE):
                raise TTSError(f"WAV format tag {tag} is not PCM")
        pos = body + size + (size & 1)  # chunks are padded to even sizes
    if pos > MAX_HEADER_BYTES:
        raise TTSError("no WAV data chunk in the first 64 KiB")
    return None


class WavStreamDecoder:
    """Incremental WAV → int16 decoder: feed raw HTTP bytes, get sample arrays back.

    ``trust_size`` honours the header's ``data`` size (complete files); streamed headers from
    api_v2 say 0, so streaming leaves it off and takes every byte after the header as PCM.
    """

    def __init__(self, *, trust_size: bool = False) -> None:
        self.trust_size = trust_size
        self.format: WavFormat | None = None
        self._head = b""
        self._odd = b""  # a trailing half sample carried to the next feed
        self._left: int | None = None  # PCM bytes still expected when the size is trusted

    @property
    def sample_rate(self) -> int | None:
        return self.format.sample_rate if self.format else None

    def feed(self, data: bytes) -> np.ndarray:
        """Consume ``data``; return the complete int16 samples it finished (maybe empty)."""
        if self.format is None:
            self._head += data
            fmt = parse_wav_header(self._head)
            if fmt is None:
                if len(self._head) > MAX_HEADER_BYTES:
                    raise TTSError("no WAV data chunk in the first 64 KiB")
                return np.zeros(0, np.int16)
            if fmt.channels != 1 or fmt.sample_width != 2:
                raise TTSError(f"GPT-SoVITS sent {fmt.channels} channel(s) of "
                               f"{8 * fmt.sample_width}-bit audio; need mono 16-bit")
            if fmt.sample_rate <= 0:
                raise TTSError("WAV header has no sample rate")
            self.format = fmt
            if self.trust_size and fmt.data_size not in _UNKNOWN_SIZES:
                self._left = fmt.data_size
            data, self._head = self._head[fmt.data_offset:], b""
        if self._left is not None:
            data = data[:self._left]
            self._left -= len(data)
        data = self._odd + data
        cut = len(data) - (len(data) & 1)
        self._odd = data[cut:]
        return np.frombuffer(data[:cut], dtype="<i2").astype(np.int16)


class GPTSoVITSEngine(TTSEngine):
    """Streams one sentence at a time from a GPT-SoVITS ``api_v2.py`` server."""

    name = "gpt_sovits"

    def __init__(
        self,
        base_url: str,
        *,
        voices: dict[str, SovitsVoice],
        default_voice: str,
        text_split_method: str = "cut0",
        streaming_mode: int = 1,
        timeout_s: float = 30.0,
        client: httpx.AsyncClient | None = None,
        min_chunk_s: float = 0.04,
    ) -> None:
        if default_voice not in voices:
            raise ValueError(f"default voice {default_voice!r} is not among the configured voices")
        if streaming_mode not in (0, 1, 2, 3):
            raise ValueError("streaming_mode must be 0, 1, 2 or 3")
        self.base_url = base_url.rstrip("/")
        self._voices = dict(voices)
        self.default_voice = default_voice
        self.text_split_method = text_split_method
        self.streaming_mode = int(streaming_mode)
        self.timeout_s = timeout_s
        self.min_chunk_s = min_chunk_s
        self._client = client
        self._owns_client = False

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout())
            self._owns_client = True

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
            self._owns_client = False

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout_s, connect=min(5.0, self.timeout_s))

    def add_voice(self, voice_id: str, voice: SovitsVoice) -> None:
        """Register (or replace) a reference voice, e.g. a character's own clip."""
        self._voices[voice_id] = voice

    def voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo(id=vid, name=v.name or vid, language=v.language, engine=self.name,
                      extra={"prompt_lang": v.prompt_lang})
            for vid, v in self._voices.items()
        ]

    def supports(self, language: str) -> bool:
        return language.lower() in SUPPORTED

    def build_request(self, text: str, language: str, voice: str | None, speed: float) -> dict:
        """The JSON body of ``POST /tts`` (exposed for tests and logging)."""
        vid = voice or self.default_voice
        v = self._voices.get(vid)
        if v is None:
            raise TTSError(f"unknown GPT-SoVITS voice {vid!r}", code="VALIDATION_ERROR")
        return {
            "text": text,
            "text_lang": LANG_MAP.get(language.lower(), "auto"),
            "ref_audio_path": v.ref_audio_path,
            "prompt_text": v.prompt_text,
            "prompt_lang": v.prompt_lang.lower(),
            "text_split_method": self.text_split_method,
            "speed_factor": float(speed),
            "streaming_mode": self.streaming_mode,
            "media_type": "wav",
            "batch_size": 1,
            "parallel_infer": False,
        }

    async def synthesize(
        self, text: str, *, language: str, voice: str | None = None, speed: float = 1.0,
        streaming_mode: int | None = None,
    ) -> AsyncIterator[SynthChunk]:
        """POST ``/tts`` and yield the audio as it streams in (chunks of >= ``min_chunk_s``)."""
        if self._client is None:
            raise TTSError("GPT-SoVITS engine not started", code="SERVICE_UNAVAILABLE")
        body = self.build_request(text, language, voice, speed)
        if streaming_mode is not None:
            body["streaming_mode"] = int(streaming_mode)
        if speed != 1.0:  # the pause between fragments (upstream 0.3 s) follows the speed too
            body["fragment_interval"] = round(0.3 / float(speed), 3)
        decoder = WavStreamDecoder(trust_size=body["streaming_mode"] == 0)
        total = 0
        got_response = False
        try:
            async with self._client.stream("POST", f"{self.base_url}/tts", json=body,
                                           timeout=self._timeout()) as resp:
                got_response = True
                if resp.status_code != 200:
                    raise TTSError(_error_message(resp.status_code, await resp.aread()))
                pending: list[np.ndarray] = []
                held = 0
                async for data in resp.aiter_bytes():
                    samples = decoder.feed(data)
                    if not samples.size:
                        continue
                    pending.append(samples)
                    held += samples.size
                    sr = decoder.sample_rate or 0
                    if held >= sr * self.min_chunk_s:
                        total += held
                        yield SynthChunk(pcm=_join(pending), sample_rate=sr)
                        pending, held = [], 0
                if held:
                    total += held
                    yield SynthChunk(pcm=_join(pending), sample_rate=decoder.sample_rate or 0)
        except httpx.TimeoutException as exc:
            raise TTSError(f"GPT-SoVITS timed out: {exc!r}", code="SERVICE_UNAVAILABLE") from exc
        except httpx.TransportError as exc:
            if got_response:  # the server answered 200 and then broke off (inference error)
                raise TTSError(f"GPT-SoVITS audio stream broke off: {exc!r}") from exc
            raise TTSError(f"GPT-SoVITS unreachable at {self.base_url}: {exc!r}",
                           code="SERVICE_UNAVAILABLE") from exc
        if decoder.format is None:
            raise TTSError("GPT-SoVITS sent no WAV header")
        if total == 0:
            raise TTSError("GPT-SoVITS returned no audio")

    async def health(self) -> bool:
        """api_v2 has no health route: any HTTP reply (``GET /control`` → 400) means it is up."""
        client = self._client or httpx.AsyncClient()
        try:
            await client.get(f"{self.base_url}/control", timeout=2.0)
            return True
        except httpx.HTTPError:
            return False
        finally:
            if client is not self._client:
                await client.aclose()


def _join(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _error_message(status: int, raw: bytes) -> str:
    """Turn api_v2's ``{"message", "Exception"}`` (or FastAPI's ``{"detail"}``) into text."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if isinstance(data, dict):
        if "message" in data:
            msg = str(data["message"])
            exc = data.get("Exception")
            return f"{msg}: {exc}" if exc else msg
        if "detail" in data:
            return f"GPT-SoVITS rejected the request (HTTP {status}): {data['detail']}"
    text = raw.decode("utf-8", "replace").strip()[:200]
    return f"GPT-SoVITS HTTP {status}: {text or 'no body'}"
