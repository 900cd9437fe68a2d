"""The app's engines, built from :class:`Settings` and started/stopped by the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass
class Services:
    settings: Settings
    llm: LLM
    tts: TTSRouter
    engine: TurnEngine
    metrics: Metrics
    llama: LlamaServerProcess | None = None
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
        return cls(settings, llm, tts, engine, metrics, llama)

    async def start(self) -> None:
        Path(self.settings.audio_dir).mkdir(parents=True, exist_ok=True)
        jobs = [self.tts.start()]
        if self.llama is not None:
            jobs.append(self.llama.start())
        await asyncio.gather(*jobs)  # load TTS voices while the LLM server boots
        await self.llm.start()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.llm.aclose()
        if self.llama is not None:
            await self.llama.stop()
        await self.tts.aclose()

    async def health(self) -> dict[str, object]:
        timeout = self.settings.health_timeout_s

        async def llm_ok() -> str:
            try:
                return "healthy" if await asyncio.wait_for(self.llm.health(), timeout) \
                    else "unhealthy"
            except Exception:  # noqa: BLE001
                return "unhealthy"

        llm_status, tts_status = await asyncio.gather(llm_ok(), self.tts.health(timeout))
        return {"llm": llm_status, "tts": tts_status}
