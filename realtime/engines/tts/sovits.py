"""GPT-SoVITS over HTTP: a client for the upstream ``api_v2.py`` server (``POST /tts``).

How the real server answers (``api_v2.py`` and ``TTS_infer_pack/TTS.py`` at upstream ``48b1a01``),
and what this client makes of it:

* **Streaming** (``streaming_mode`` 1/2/3, ``media_type="wav"``): 200, a 44-byte ``wave`` header
  with zero sizes, then headerless mono int16 PCM.
* **Non-streaming** (mode 0): one soundfile WAV.
* **Validation errors**: 400 ``{"message", "Exception"?}``; 422 ``{"detail"}`` for type errors.
* **Errors before inference** (reference clip missing or outside 3-10 s, empty ``prompt_text``
  on a v3/v4 model): mode 0 answers 400 ``tts failed``; streaming modes answer **200 and then
  drop the connection without a byte**. Reported as ``TTS_FAILED`` with that explanation.
* **Errors during inference**: the server first yields its placeholder, 1 s of silence at
  16 kHz, then reloads its models and re-raises. Mode 0 returns the placeholder as a **200 WAV**
  (it looks like success); streaming modes send it (after a 16 kHz header if it is the first
  chunk) and then drop the connection. This client recognises the placeholder (exactly 16,000
  zero samples at 16 kHz) in mode 0, and in streaming modes never releases trailing silence
  until more audio or a clean end follows, so a failure costs no silence at the listener.
* **A sentence its text preprocessing empties**: streaming modes answer 200 with an **empty
  body**; the sentence is skipped (nothing to say). Mode 0 answers the placeholder (reported as
  a failure: mode 0 cannot tell the two apart).
* **One pipeline, no lock**: concurrent requests share the server's reference and prompt cache,
  so requests to one server are serialised here (``max_concurrency``, 1 by default) unless it is
  configured as safe for concurrency (several servers behind a balancer).
* **No stop on disconnect**: closing a stream does not stop the sentence being computed; a cut
  response asks for no further sentences.
* **Versions**: v1 models speak no Korean; v3/v4 need a prompt text. :meth:`check_voice` and
  :meth:`validate_voice` refuse such reference voices before they are used.

There is no alignment, so chunks carry ``phonemes=None`` and the turn engine fits visemes itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from realtime.engines.tts.base import SynthChunk, TTSEngine, TTSError, VoiceInfo
from realtime.engines.tts.wav_stream import WavStreamDecoder, parse_wav_header  # noqa: F401

log = logging.getLogger(__name__)

LANG_MAP = {"ko": "ko", "en": "en", "ja": "ja", "zh": "zh", "yue": "yue"}
V1_LANGUAGES = frozenset({"auto", "en", "zh", "ja", "all_zh", "all_ja"})
V2_LANGUAGES = frozenset({"auto", "auto_yue", "en", "zh", "ja", "yue", "ko", "all_zh", "all_ja",
                          "all_yue", "all_ko"})
VERSIONS = ("v1", "v2", "v2Pro", "v2ProPlus", "v3", "v4")
PROMPT_TEXT_REQUIRED = frozenset({"v3", "v4"})  # TTS.py: NO_PROMPT_ERROR with a vocoder
REF_MIN_S, REF_MAX_S = 3.0, 10.0  # TTS.py _set_prompt_semantic: 48,000-160,000 samples at 16 kHz
PLACEHOLDER_RATE, PLACEHOLDER_SAMPLES = 16000, 16000  # TTS.run's "failed" answer
PROBE_TEXT = {"ko": "네.", "ja": "はい。", "zh": "好。", "yue": "好。"}


def languages(version: str) -> frozenset[str]:
    return V1_LANGUAGES if version == "v1" else V2_LANGUAGES


@dataclass
class SovitsVoice:
    """One reference voice: a WAV path *on the GPT-SoVITS host* plus its transcript."""

    ref_audio_path: str
    prompt_text: str = ""
    prompt_lang: str = "ko"
    name: str = ""
    language: str = "ko"


def check_voice(voice: SovitsVoice, version: str) -> None:
    """The rules the server applies to a reference voice that can be checked without it (the
    clip's length too, when the path is readable here). Raises ``ValueError`` with the reason."""
    if not voice.ref_audio_path:
        raise ValueError("a GPT-SoVITS voice needs ref_audio_path (a WAV on the GPT-SoVITS host)")
    if voice.prompt_lang.lower() not in languages(version):
        raise ValueError(f"prompt_lang {voice.prompt_lang!r} is not supported by GPT-SoVITS "
                         f"{version} models (they take {', '.join(sorted(languages(version)))})")
    if version in PROMPT_TEXT_REQUIRED and not voice.prompt_text.strip():
        raise ValueError(f"GPT-SoVITS {version} models need the reference clip's transcript "
                         "(prompt_text)")
    path = Path(voice.ref_audio_path)
    if path.is_file():  # a shared volume: check the length here, as the server will
        import soundfile as sf

        try:
            info = sf.info(str(path))
        except Exception as exc:  # noqa: BLE001 - unreadable: the server would fail too
            raise ValueError(f"reference clip {path} is not readable audio: {exc}") from None
        if not REF_MIN_S <= info.duration <= REF_MAX_S:
            raise ValueError(f"reference clip {path} is {info.duration:.1f} s; GPT-SoVITS takes "
                             f"{REF_MIN_S:.0f}-{REF_MAX_S:.0f} s")


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
        version: str = "v2",
        max_concurrency: int = 1,
    ) -> None:
        if default_voice not in voices:
            raise ValueError(f"default voice {default_voice!r} is not among the configured voices")
        if streaming_mode not in (0, 1, 2, 3):
            raise ValueError("streaming_mode must be 0, 1, 2 or 3")
        if version not in VERSIONS:
            raise ValueError(f"GPT-SoVITS version must be one of {', '.join(VERSIONS)}")
        for voice in voices.values():
            check_voice(voice, version)
        self.base_url = base_url.rstrip("/")
        self._voices = dict(voices)
        self._bound: dict[str, tuple[SovitsVoice, int]] = {}  # character voices, ref-counted
        self.default_voice = default_voice
        self.text_split_method = text_split_method
        self.streaming_mode = int(streaming_mode)
        self.timeout_s = timeout_s
        self.min_chunk_s = min_chunk_s
        self.version = version
        self._slots = asyncio.Semaphore(max(1, max_concurrency))
        self._busy = 0
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

    # ------------------------------------------------------------------ voices
    def bind(self, voice_id: str, voice: SovitsVoice) -> None:
        """Use a character's own reference voice under ``voice_id`` until :meth:`release`."""
        check_voice(voice, self.version)
        _, n = self._bound.get(voice_id, (voice, 0))
        self._bound[voice_id] = (voice, n + 1)

    def release(self, voice_id: str) -> None:
        entry = self._bound.get(voice_id)
        if entry is None:
            return
        voice, n = entry
        if n <= 1:
            del self._bound[voice_id]
        else:
            self._bound[voice_id] = (voice, n - 1)

    @property
    def bound(self) -> int:
        return len(self._bound)

    def voices(self) -> list[VoiceInfo]:
        """The configured (shared) voices; characters' own voices are not listed here."""
        return [
            VoiceInfo(id=f"{self.name}:{vid}", name=v.name or vid, language=v.language,
                      engine=self.name,
                      extra={"prompt_lang": v.prompt_lang})
            for vid, v in self._voices.items()
        ]

    def supports(self, language: str) -> bool:
        mapped = LANG_MAP.get(language.lower())
        return mapped is not None and mapped in languages(self.version)

    def _voice(self, voice: str | None) -> SovitsVoice:
        vid = voice or self.default_voice
        v = self._voices.get(vid) or self._bound.get(vid, (None, 0))[0]
        if v is None:
            raise TTSError(f"unknown GPT-SoVITS voice {vid!r}", code="VALIDATION_ERROR")
        return v

    def build_request(self, text: str, language: str, voice: str | None, speed: float,
                      streaming_mode: int | None = None) -> dict:
        """The JSON body of ``POST /tts`` (exposed for tests and logging)."""
        return self._body(text, language, self._voice(voice), speed,
                          self.streaming_mode if streaming_mode is None else int(streaming_mode))

    def _body(self, text: str, language: str, v: SovitsVoice, speed: float, mode: int) -> dict:
        return {
            "text": text,
            "text_lang": LANG_MAP.get(language.lower(), "auto"),
            "ref_audio_path": v.ref_audio_path,
            "prompt_text": v.prompt_text,
            "prompt_lang": v.prompt_lang.lower(),
            "text_split_method": self.text_split_method,
            "speed_factor": float(speed),
            "streaming_mode": mode,
            "media_type": "wav",
            "batch_size": 1,
            "parallel_infer": False,
        }

    async def validate_voice(self, voice: SovitsVoice) -> None:
        """Check a reference voice with the server itself (one short, non-streamed synthesis:
        the server loads the clip and checks its length and transcript). Raises ``ValueError``
        with the server's reason, or :class:`TTSError` ``SERVICE_UNAVAILABLE``."""
        check_voice(voice, self.version)
        text = PROBE_TEXT.get(voice.prompt_lang.lower(), "Yes.")
        try:
            async for _ in self._stream(self._body(text, voice.prompt_lang, voice, 1.0, 0)):
                pass
        except TTSError as exc:
            if exc.code == "SERVICE_UNAVAILABLE":
                raise
            raise ValueError(f"GPT-SoVITS refused the reference voice: {exc}") from None

    # ------------------------------------------------------------------ synthesis
    async def synthesize(
        self, text: str, *, language: str, voice: str | None = None, speed: float = 1.0,
        streaming_mode: int | None = None,
    ) -> AsyncIterator[SynthChunk]:
        """POST ``/tts`` and yield the audio as it streams in (chunks of >= ``min_chunk_s``).
        ``streaming_mode`` overrides the configured mode for this request."""
        body = self.build_request(text, language, voice, speed, streaming_mode)
        if speed != 1.0:  # the pause between fragments (upstream 0.3 s) follows the speed too
            body["fragment_interval"] = round(0.3 / float(speed), 3)
        async for chunk in self._stream(body):
            yield chunk

    async def _stream(self, body: dict) -> AsyncIterator[SynthChunk]:
        if self._client is None:
            raise TTSError("GPT-SoVITS engine not started", code="SERVICE_UNAVAILABLE")
        mode = body["streaming_mode"]
        decoder = WavStreamDecoder(trust_size=mode == 0)
        gate = _SilenceGate()
        received = total = 0
        got_response = False
        async with self._slots:  # one request at a time per server (its pipeline is shared)
            self._busy += 1
            try:
                async with self._client.stream("POST", f"{self.base_url}/tts", json=body,
                                               timeout=self._timeout()) as resp:
                    got_response = True
                    if resp.status_code != 200:
                        raise TTSError(_error_message(resp.status_code, await resp.aread()))
                    pending: list[np.ndarray] = []
                    held = 0
                    async for data in resp.aiter_bytes():
                        received += len(data)
                        samples = decoder.feed(data)
                        if mode != 0:
                            samples = gate.feed(samples)
                        if not samples.size:
                            continue
                        pending.append(samples)
                        held += samples.size
                        sr = decoder.sample_rate or 0
                        if mode != 0 and held >= sr * self.min_chunk_s:
                            total += held
                            yield SynthChunk(pcm=_join(pending), sample_rate=sr)
                            pending, held = [], 0
                    if mode != 0:
                        pending.append(gate.flush())  # a clean end: the silence was real
                    pcm = _join(pending) if pending else np.zeros(0, np.int16)
            except httpx.TimeoutException as exc:
                raise TTSError(f"GPT-SoVITS timed out: {exc!r}",
                               code="SERVICE_UNAVAILABLE") from exc
            except httpx.TransportError as exc:
                if got_response:
                    raise TTSError(_broke_off(received, decoder)) from exc
                raise TTSError(f"GPT-SoVITS unreachable at {self.base_url}: {exc!r}",
                               code="SERVICE_UNAVAILABLE") from exc
            finally:
                self._busy -= 1
        if received == 0 and mode != 0:
            log.warning("GPT-SoVITS had nothing to say for %r (empty reply): sentence skipped",
                        body["text"][:60])
            return
        if decoder.format is None:
            raise TTSError("GPT-SoVITS sent no WAV header")
        if mode == 0 and decoder.sample_rate == PLACEHOLDER_RATE \
                and pcm.size == PLACEHOLDER_SAMPLES and not pcm.any():
            raise TTSError("GPT-SoVITS answered with its failure placeholder (1 s of silence at "
                           "16 kHz): inference failed, or the text had nothing it could speak; "
                           "its log has the reason")
        if not total + pcm.size:
            raise TTSError("GPT-SoVITS returned no audio")
        if pcm.size:
            yield SynthChunk(pcm=pcm, sample_rate=decoder.sample_rate or 0)

    async def health(self) -> bool:
        """api_v2 has no health route: any HTTP reply (``GET /control`` → 400) means it is up.
        While one of our requests is running, it is up (mode 0 blocks its event loop)."""
        if self._busy:
            return True
        client = self._client or httpx.AsyncClient()
        try:
            await client.get(f"{self.base_url}/control", timeout=2.0)
            return True
        except httpx.HTTPError:
            return False
        finally:
            if client is not self._client:
                await client.aclose()


class _SilenceGate:
    """Holds back a trailing run of exact-zero samples until audio follows or the stream ends
    cleanly: api_v2's failure placeholder (silence, then a dropped connection) never plays."""

    def __init__(self) -> None:
        self._held: list[np.ndarray] = []

    def feed(self, samples: np.ndarray) -> np.ndarray:
        if not samples.size:
            return samples
        nz = np.flatnonzero(samples)
        if not nz.size:
            self._held.append(samples)
            return samples[:0]
        cut = int(nz[-1]) + 1
        out = _join([*self._held, samples[:cut]])
        self._held = [samples[cut:]] if cut < samples.size else []
        return out

    def flush(self) -> np.ndarray:
        out = _join(self._held) if self._held else np.zeros(0, np.int16)
        self._held = []
        return out


def _join(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _broke_off(received: int, decoder: WavStreamDecoder) -> str:
    if decoder.format is None or received <= 44:
        return ("GPT-SoVITS accepted the request, then failed before any audio (HTTP 200 and a "
                "dropped connection: api_v2's way of reporting a reference clip it cannot use, a "
                "missing prompt text for v3/v4 models, or an inference error; its log has the "
                "reason)")
    return ("GPT-SoVITS failed while synthesising (the audio stream broke off after "
            f"{received} bytes: an inference error; its log has the reason)")


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
