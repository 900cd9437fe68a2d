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

    def release_memory(self) -> None:
        for engine in self.engines:
            try:
                engine.release_memory()
            except Exception:  # noqa: BLE001 - housekeeping: the next engine still runs
                log.exception("releasing %s's memory", engine.name)

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

    def _sovits(self):
        from realtime.engines.tts.sovits import GPTSoVITSEngine

        return next((e for e in self.engines if isinstance(e, GPTSoVITSEngine)), None)

    @staticmethod
    def _sovits_voice(character):
        from realtime.engines.tts.sovits import SovitsVoice

        b = character.voice
        return SovitsVoice(ref_audio_path=b.ref_audio_path, prompt_text=b.prompt_text or "",
                           prompt_lang=b.prompt_lang or character.language, name=character.name,
                           language=character.language)

    def bind_character_voice(self, character) -> str | None:
        """The voice id a character speaks with: its GPT-SoVITS reference clip (bound to the
        GPT-SoVITS engine as ``char-<id>`` until :meth:`release_voice`), else its ``voice_id``
        when this server has it, else None (the language's default voice)."""
        binding = character.voice
        if binding.engine == "gpt_sovits" and binding.ref_audio_path:
            engine = self._sovits()
            if engine is None:
                return None  # no GPT-SoVITS here: the default voice for the language
            local = f"char-{character.id}"
            try:
                engine.bind(local, self._sovits_voice(character))
            except ValueError as exc:  # stored before the rules were checked: say why, go on
                log.warning("character %s: its GPT-SoVITS voice is unusable (%s); using the "
                            "default voice", character.id, exc)
                return None
            return f"{engine.name}:{local}"
        if binding.voice_id and binding.voice_id in self.voice_ids():
            return binding.voice_id
        return None

    def bind_reference_voice(self, ref_audio_path: str, *, prompt_text: str, prompt_lang: str,
                             language: str) -> str | None:
        """A GPT-SoVITS reference voice given with one request (the seeds' ``ref_audio_path``
        body), bound until :meth:`release_voice`; None without GPT-SoVITS. Raises
        ``ValueError`` for a voice the model cannot use."""
        import hashlib

        from realtime.engines.tts.sovits import SovitsVoice

        engine = self._sovits()
        if engine is None:
            return None
        local = "ref-" + hashlib.sha1(
            f"{ref_audio_path}\0{prompt_text}\0{prompt_lang}".encode()).hexdigest()[:12]
        engine.bind(local, SovitsVoice(ref_audio_path=ref_audio_path, prompt_text=prompt_text,
                                       prompt_lang=prompt_lang, name=local, language=language))
        return f"{engine.name}:{local}"

    def release_voice(self, voice_id: str | None) -> None:
        """Give back a voice bound by :meth:`bind_character_voice` or
        :meth:`bind_reference_voice` (no-op for other ids)."""
        if not voice_id:
            return
        engine_name, _, local = voice_id.partition(":")
        engine = self._sovits()
        if engine is not None and engine_name == engine.name and \
                local.startswith(("char-", "ref-")):
            engine.release(local)

    def character_voice_info(self, character) -> VoiceInfo | None:
        """How a character's own GPT-SoVITS voice is listed (for its owner only)."""
        engine = self._sovits()
        b = character.voice
        if engine is None or b.engine != "gpt_sovits" or not b.ref_audio_path:
            return None
        return VoiceInfo(id=f"{engine.name}:char-{character.id}", name=character.name,
                         language=character.language, engine=engine.name,
                         extra={"prompt_lang": b.prompt_lang or character.language,
                                "character_id": character.id})

    async def validate_character_voice(self, character) -> None:
        """Check a character's voice before it is saved: GPT-SoVITS rules (and the clip, with
        the server itself when one is configured). Raises ``ValueError`` with the reason, or
        :class:`TTSError` ``SERVICE_UNAVAILABLE`` when the server cannot be asked."""
        b = character.voice
        if b.engine != "gpt_sovits" or not b.ref_audio_path:
            return
        from realtime.engines.tts.sovits import check_voice

        engine = self._sovits()
        voice = self._sovits_voice(character)
        if engine is None:  # nothing to ask: the rules every version shares
            check_voice(voice, "v2")
            return
        await engine.validate_voice(voice)

    async def health(self, timeout_s: float) -> dict[str, str]:
        async def one(engine: TTSEngine) -> str:
            try:
                ok = await asyncio.wait_for(engine.health(), timeout_s)
            except Exception:  # noqa: BLE001 - a failing check is "unhealthy"
                ok = False
            return "healthy" if ok else "unhealthy"

        results = await asyncio.gather(*(one(e) for e in self.engines))
        return {e.name: r for e, r in zip(self.engines, results, strict=True)}
