"""Speech-to-text by language: the fast English model for English, a multilingual one for the
rest (cf. a LiveKit ``stt.FallbackAdapter``, but routed by the conversation's language).

The embedded defaults: ``tiny.en`` (~0.5 s per utterance on 2 cores) for English sessions, and
Whisper base (multilingual, ~2 s) for Korean and every other language, told the session's
language so it does not have to guess (auto-detection is unreliable on short utterances). Both
share **one worker thread**: two CTranslate2 models decoding at once on a small CPU only slow
each other down, and the order of utterances is kept. A production multilingual model (e.g.
large-v3 on CUDA as ``AVATAR_STT_MODEL``) serves every language alone.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from realtime.listen.stt import STT, STTError, Transcript, WhisperSTT, _language_code


class SpeechRouter(STT):
    """Routes each utterance to ``english`` or ``multilingual`` by its language."""

    name = "whisper"

    def __init__(self, english: WhisperSTT, multilingual: WhisperSTT | None = None,
                 executor: ThreadPoolExecutor | None = None) -> None:
        self.english = english
        self.multilingual = multilingual
        self._executor = executor

    @property
    def models(self) -> list[WhisperSTT]:
        return [m for m in (self.english, self.multilingual) if m is not None]

    async def start(self) -> None:
        await self.english.start()
        if not self.english.english_only and self.multilingual is not None:
            self.multilingual = None  # the main model speaks every language: one is enough
        if self.multilingual is not None:
            try:
                await self.multilingual.start()
            except STTError:  # English voice input still works
                self.multilingual = None
                raise

    async def aclose(self) -> None:
        for model in self.models:
            await model.aclose()
        if self._executor is not None:
            pool, self._executor = self._executor, None
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    @property
    def started(self) -> bool:
        return self.english.started

    @property
    def idle(self) -> bool:
        return all(m.idle for m in self.models)

    @property
    def pending(self) -> int:
        return sum(m.pending for m in self.models)

    def route(self, language: str | None) -> WhisperSTT:
        """The model for an utterance expected in ``language`` (None / ``auto``: unknown)."""
        code = _language_code(language)
        if not self.english.english_only or self.multilingual is None:
            return self.english
        return self.english if code == "en" else self.multilingual

    def languages_for(self, language: str | None) -> list[str]:
        """What a conversation in ``language`` can say and be understood: ``["en"]`` when it
        goes to an English-only model, else ``["*"]``."""
        return self.route(language).languages

    @property
    def languages(self) -> list[str]:
        return ["*"] if any(m.languages == ["*"] for m in self.models) else ["en"]

    async def transcribe(self, audio16k: np.ndarray, *, language: str | None = None,
                         prompt: str | None = None) -> Transcript:
        return await self.route(language).transcribe(audio16k, language=language,
                                                     prompt=prompt)
