"""The app's engines, built from :class:`Settings` and started/stopped by the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from realtime.config import Settings
from realtime.engines.llm.base import LLM
from realtime.engines.llm.llama_server import LlamaServerProcess
from realtime.engines.llm.openai_compat import OpenAICompatLLM
from realtime.engines.tts.base import TTSEngine
from realtime.engines.tts.router import TTSRouter
from realtime.metrics import Metrics
from realtime.pipeline.turn import TurnEngine

log = logging.getLogger(__name__)


def build_tts_engines(settings: Settings) -> list[TTSEngine]:
    from realtime.engines.tts.espeak import EspeakEngine
    from realtime.engines.tts.piper_engine import PiperEngine, ensure_aligned_voice

    engines: list[TTSEngine] = []
    if settings.tts_engine == "gpt_sovits":
        from realtime.engines.tts.sovits import GPTSoVITSEngine, SovitsVoice

        voice = SovitsVoice(ref_audio_path=settings.tts_sovits_ref_audio_path,
                            prompt_text=settings.tts_sovits_prompt_text,
                            prompt_lang=settings.tts_sovits_prompt_lang, name="default",
                            language=settings.tts_sovits_prompt_lang)
        engines.append(GPTSoVITSEngine(
            settings.tts_sovits_url, voices={"default": voice}, default_voice="default",
            text_split_method=settings.tts_sovits_text_split_method,
            streaming_mode=settings.tts_sovits_streaming_mode, timeout_s=settings.tts_timeout_s))
    voice_path = settings.tts_piper_voice_path or ensure_aligned_voice(
        Path(settings.storage_dir) / "models")
    engines.append(PiperEngine(voice_path, threads=settings.tts_piper_threads))
    engines.append(EspeakEngine(voices={"ko": settings.tts_espeak_voice_ko}))
    return engines


def build_voice(settings: Settings, metrics: Metrics):
    """-> (VadHub, WhisperSTT), or (None, None) when voice input is off."""
    if not settings.voice_enabled:
        return None, None
    from realtime.voice.hub import VadHub
    from realtime.voice.stt import SttOptions, WhisperSTT
    from realtime.voice.vad import SileroModel

    hub = VadHub(SileroModel(settings.vad_model_path), observe_lag=metrics.vad_lag.observe_many)
    stt = WhisperSTT(SttOptions(
        model=settings.stt_model, device=settings.stt_device,
        compute_type=settings.stt_compute_type, cpu_threads=settings.stt_cpu_threads,
        beam_size=settings.stt_beam_size, language=settings.stt_language,
        no_speech_threshold=settings.stt_no_speech_threshold))
    return hub, stt


@dataclass
class Services:
    settings: Settings
    llm: LLM
    tts: TTSRouter
    engine: TurnEngine
    metrics: Metrics
    llama: LlamaServerProcess | None = None
    vad_hub: object | None = None  # realtime.voice.hub.VadHub
    stt: object | None = None  # realtime.voice.stt.STT
    voice_error: str | None = None
    sessions: set = field(default_factory=set)

    @classmethod
    def build(cls, settings: Settings, *, llm: LLM | None = None,
              tts_engines: list[TTSEngine] | None = None) -> Services:
        llama = None
        if llm is None:
            base_url = settings.llm_base_url
            alias: dict[str, str] = {}
            if settings.embedded_llm:
                log_path = Path(settings.storage_dir) / "logs" / "llama-server.log"
                log_path.parent.mkdir(parents=True, exist_ok=True)
                llama = LlamaServerProcess(
                    settings.llm_embedded_model_path, port=settings.llm_embedded_port,
                    threads=settings.llm_embedded_threads, n_ctx=settings.llm_embedded_ctx,
                    model_alias=settings.llm_default_model, log_path=log_path,
                    nice=settings.llm_embedded_nice, quant=settings.llm_embedded_quant,
                    models_dir=Path(settings.storage_dir) / "models")
                base_url = llama.base_url
            llm = OpenAICompatLLM(
                base_url, api_key=settings.llm_api_key,
                connect_timeout_s=settings.llm_connect_timeout_s,
                first_token_timeout_s=settings.llm_first_token_timeout_s,
                idle_timeout_s=settings.llm_idle_timeout_s, model_alias=alias)
        tts = TTSRouter(tts_engines if tts_engines is not None else build_tts_engines(settings))
        metrics = Metrics()
        engine = TurnEngine(settings, llm, tts, metrics)
        voice_error = None
        try:
            hub, stt = build_voice(settings, metrics)
        except Exception as exc:  # noqa: BLE001 - typed chat still works without voice
            log.error("voice input disabled: %s", exc)
            hub, stt, voice_error = None, None, str(exc)
        return cls(settings, llm, tts, engine, metrics, llama, hub, stt, voice_error)

    async def start(self) -> None:
        Path(self.settings.audio_dir).mkdir(parents=True, exist_ok=True)
        jobs = [self.tts.start()]
        if self.llama is not None:
            jobs.append(self.llama.start())
        if self.stt is not None:
            jobs.append(self._start_stt())
        await asyncio.gather(*jobs)  # load TTS voices and Whisper while the LLM server boots
        await self.llm.start()
        await self._warm_up()

    async def _warm_up(self) -> None:
        """One tiny request with the default persona, so the first user turn finds the prompt
        in the server's cache (the embedded model otherwise spends ~1 s reading it)."""
        from realtime.engines.llm.base import ChatRequest, StreamStats
        from realtime.pipeline.persona import (
            BUILTIN_CHARACTERS, DEFAULT_CHARACTER_ID, build_system_prompt,
        )

        character = BUILTIN_CHARACTERS[DEFAULT_CHARACTER_ID]
        request = ChatRequest(messages=[
            {"role": "system", "content": build_system_prompt(character)},
            {"role": "user", "content": "Hi"}], model=self.settings.llm_default_model,
            temperature=0.0, max_tokens=1)
        stream = self.llm.stream(request, StreamStats())
        try:
            async with asyncio.timeout(self.settings.llm_first_token_timeout_s):
                async for _ in stream:
                    pass
        except Exception as exc:  # noqa: BLE001 - a cold cache is not fatal
            log.info("LLM warm-up skipped: %s", exc)
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def _start_stt(self) -> None:
        try:
            await self.stt.start()
            # the first decode is slower (allocations); pay it now, on low noise (not "quiet")
            noise = np.random.default_rng(0).normal(0, 0.01, 16000).astype(np.float32)
            await self.stt.transcribe(noise)
        except Exception as exc:  # noqa: BLE001 - typed chat still works without voice
            log.error("speech-to-text failed to load, voice input disabled: %s", exc)
            self.voice_error = str(exc)
            self.stt = None

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.llm.aclose()
        if self.llama is not None:
            await self.llama.stop()
        await self.tts.aclose()
        if self.stt is not None:
            with contextlib.suppress(Exception):
                await self.stt.aclose()
        if self.vad_hub is not None:
            self.vad_hub.close()

    async def health(self) -> dict[str, object]:
        timeout = self.settings.health_timeout_s

        async def llm_ok() -> str:
            try:
                return "healthy" if await asyncio.wait_for(self.llm.health(), timeout) \
                    else "unhealthy"
            except Exception:  # noqa: BLE001
                return "unhealthy"

        llm_status, tts_status = await asyncio.gather(llm_ok(), self.tts.health(timeout))
        if not self.settings.voice_enabled:
            stt_status = "disabled"
        elif self.stt is None or self.vad_hub is None:
            stt_status = "unavailable"
        else:
            stt_status = "healthy" if getattr(self.stt, "started", True) else "unhealthy"
        return {"llm": llm_status, "tts": tts_status, "stt": stt_status}
