"""Whisper's hallucination guards: does a decode hold real speech? (pure functions)

Whisper writes *something* for almost any input: on silence, noise, hum or
a click it produces ``"."``, ``"you"``, ``"Thank you."``, ``"Thanks for watching!"``,
``"[BLANK_AUDIO]"``... A :class:`Transcript` whose ``rejected`` is set (a short reason code) must
not start a turn. The checks, in order (the first that fires names the reason):

``"no_audio"``
    Zero samples.
``"quiet"``
    Audio RMS below ``rms_floor`` (default 0.001, -60 dBFS): digital silence or a muted / far
    microphone. Decided *before* the model runs, which saves a whole (about 1 s) decode.
``"no_speech"``
    Whisper's own silence rule, made a hard rejection: every segment has
    ``no_speech_prob > no_speech_threshold`` *and* ``avg_logprob < log_prob_threshold`` (the
    model thinks there is no speech and is unsure of the words it wrote). Segments failing it are
    dropped from the text when others pass. This catches nearly all noise, hum and tone input.
``"empty"``
    The decoded text is empty.
``"annotation"``
    The text is only non-speech annotations: ``[BLANK_AUDIO]``, ``(music)``, ``[Music]``,
    ``*coughs*``, ``♪``. (Annotations inside real text are removed from it.)
``"punctuation"``
    The text has no letter or digit (``"."``, ``"..."``, ``"-"``).
``"short_token"``
    A single token with a single ASCII letter/digit (``"I"``, ``"a."``, ``"5"``): too little to act
    on and a typical noise decode. (One CJK character, e.g. Korean ``"네"``, is a real word and
    passes.)
``"too_few_words"``
    Fewer than ``min_words`` words (whitespace-separated; default 1, so off).
``"hallucination_phrase"``
    The text is one of :data:`HALLUCINATION_PHRASES` (compared without case, spaces or
    punctuation) *and* the audio is short (< ``phrase_max_short_s``), quiet (RMS <
    ``quiet_rms``) or the decode was unsure (``avg_logprob < phrase_max_logprob`` or
    ``no_speech_prob > phrase_min_no_speech``). A clearly spoken "Thank you." (confident decode,
    normal level) is a real turn and passes.
``"repetition"``
    ``compression_ratio > compression_ratio_threshold`` (2.4, Whisper's value): the decoder got
    stuck repeating itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Thresholds(Protocol):
    """The guard settings (``realtime.listen.stt.SttOptions`` has them)."""

    no_speech_threshold: float
    log_prob_threshold: float
    min_words: int
    quiet_rms: float
    phrase_max_short_s: float
    phrase_max_logprob: float
    phrase_min_no_speech: float
    compression_ratio_threshold: float


#: Texts Whisper is known to invent on silence/noise (training data: subtitled videos). Keys are
#: compared after :func:`phrase_key` (lower case, letters and digits only).
HALLUCINATION_PHRASES: tuple[str, ...] = (
    "you", "thank you", "thanks", "thank you very much", "thank you so much",
    "thanks for watching", "thank you for watching", "thank you so much for watching",
    "thanks for watching and see you next time", "please subscribe", "like and subscribe",
    "bye", "bye bye", "the end", "subtitles by the amara.org community",
    "시청해주셔서 감사합니다", "구독과 좋아요 부탁드립니다", "ご視聴ありがとうございました",
    "字幕由amara.org社区提供", "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目",
)

# [BLANK_AUDIO], (music), [Music], *coughs*, ♪ ... ♪ (one annotation; the text may hold several)
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|[♪♫]+")


def phrase_key(text: str) -> str:
    """``"Thanks for watching!"`` -> ``"thanksforwatching"``: lower case, letters/digits only."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


_PHRASE_KEYS = frozenset(phrase_key(p) for p in HALLUCINATION_PHRASES)


@dataclass(slots=True)
class SegmentStats:
    text: str
    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float
    n_tokens: int


def judge(segments: list[SegmentStats], *, level: float, duration_s: float,
          opts: Thresholds) -> tuple[str, float, float, str | None]:
    """Apply the guards after decoding -> (text, no_speech_prob, avg_logprob, rejected)."""

    def is_silent(s: SegmentStats) -> bool:
        return (s.no_speech_prob > opts.no_speech_threshold
                and s.avg_logprob < opts.log_prob_threshold)

    if not segments:
        return "", 1.0, float("-inf"), "empty"
    kept = [s for s in segments if not is_silent(s)]
    chosen = kept or segments
    no_speech = min(s.no_speech_prob for s in chosen)
    weights = [max(1, s.n_tokens) for s in chosen]
    logprob = float(np.average([s.avg_logprob for s in chosen], weights=weights))
    raw = " ".join(s.text.strip() for s in chosen).strip()
    if not kept:
        return raw, no_speech, logprob, "no_speech"
    if not raw:
        return raw, no_speech, logprob, "empty"
    text = " ".join(_ANNOTATION.sub(" ", raw).split())
    if not text:
        return raw, no_speech, logprob, "annotation"
    if not any(ch.isalnum() for ch in text):
        return raw, no_speech, logprob, "punctuation"
    words = text.split()
    alnum = [ch for ch in text if ch.isalnum()]
    if len(words) == 1 and len(alnum) == 1 and alnum[0].isascii():
        return raw, no_speech, logprob, "short_token"
    if len(words) < opts.min_words:
        return raw, no_speech, logprob, "too_few_words"
    if phrase_key(text) in _PHRASE_KEYS and (
            duration_s < opts.phrase_max_short_s or level < opts.quiet_rms
            or logprob < opts.phrase_max_logprob or no_speech > opts.phrase_min_no_speech):
        return raw, no_speech, logprob, "hallucination_phrase"
    if max(s.compression_ratio for s in kept) > opts.compression_ratio_threshold:
        return raw, no_speech, logprob, "repetition"
    return text, no_speech, logprob, None
