"""Picks the TTS engine for a (language, voice) pair and owns the engines' lifetimes."""

from __future__ import annotations

import asyncio
import logging

from realtime.engines.tts.base import TTSEngine, TTSError, VoiceInfo

log = logging.getLogger(__name__)


class TTSRouter:
    """``engines`` in priority order; a voice id ``engine:voice`` selects an engine directly."""

    def __init__(self, engines: list[TTSEngine]) -> None:
        self.engines = engines

    async def start(self) -> None:
        for engine in self.engines:
            await engine.start()

    async def aclose(self) -> None:
        for engine in self.engines:
            try:
                await engine.aclose()
            except Exception:  # noqa: BLE001 - shut the rest down anyway
                log.exception("closing %s", engine.name)

    def voices(self) -> list[VoiceInfo]:
        return [v for e in self.engines for v in e.voices()]

    def voice_ids(self) -> set[str]:
        return {v.id for v in self.voices()}

    def pick(self, language: str, voice: str | None = None) -> tuple[TTSEngine, str | None]:
        """-> (engine, engine-local voice id)."""
        if voice:
            engine_name, _, local = voice.partition(":")
            for engine in self.engines:
                if engine.name == engine_name and engine.supports(language):
                    return engine, local or None
        for engine in self.engines:
            if engine.supports(language):
                return engine, None
        raise TTSError(f"no TTS engine speaks language {language!r}", code="VALIDATION_ERROR")

    def bind_character_voice(self, character) -> str | None:
        """The voice id a character speaks with: its GPT-SoVITS reference clip (registered
        with the GPT-SoVITS engine as ``char-<id>``), else its ``voice_id`` when this server
        has it, else None (the language's default voice)."""
        binding = character.voice
        if binding.engine == "gpt_sovits" and binding.ref_audio_path:
            from realtime.engines.tts.sovits import GPTSoVITSEngine, SovitsVoice

            for engine in self.engines:
                if isinstance(engine, GPTSoVITSEngine):
                    local = f"char-{character.id}"
                    engine.add_voice(local, SovitsVoice(
                        ref_audio_path=binding.ref_audio_path, prompt_text=binding.prompt_text,
                        prompt_lang=binding.prompt_lang, name=character.name,
                        language=character.language))
                    return f"{engine.name}:{local}"
            return None  # no GPT-SoVITS here: the default voice for the language
        if binding.voice_id and binding.voice_id in self.voice_ids():
            return binding.voice_id
        return None

    async def health(self, timeout_s: float) -> dict[str, str]:
        async def one(engine: TTSEngine) -> str:
            try:
                ok = await asyncio.wait_for(engine.health(), timeout_s)
            except Exception:  # noqa: BLE001 - a failing check is "unhealthy"
                ok = False
            return "healthy" if ok else "unhealthy"

        results = await asyncio.gather(*(one(e) for e in self.engines))
        return {e.name: r for e, r in zip(self.engines, results, strict=True)}
