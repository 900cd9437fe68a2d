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

    async def health(self, timeout_s: float) -> dict[str, str]:
        async def one(engine: TTSEngine) -> str:
            try:
                ok = await asyncio.wait_for(engine.health(), timeout_s)
            except Exception:  # noqa: BLE001 - a failing check is "unhealthy"
                ok = False
            return "healthy" if ok else "unhealthy"

        results = await asyncio.gather(*(one(e) for e in self.engines))
        return {e.name: r for e, r in zip(self.engines, results, strict=True)}
