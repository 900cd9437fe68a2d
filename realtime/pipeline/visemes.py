"""Phonemes -> the 15 Oculus visemes (and VRM expression weights), plus timing helpers.

* :func:`phonemes_to_visemes` turns timed IPA phonemes (espeak-ng events, Piper alignments or
  :func:`fit_phonemes_to_audio`) into viseme events on the response's audio timeline.
* :func:`fit_phonemes_to_audio` spreads an untimed phoneme list over the voiced parts of a clip,
  for engines without alignment (GPT-SoVITS).
* :func:`piper_alignments_to_phonemes` converts Piper's per-phoneme sample counts.

See ``docs/visemes.md`` for the tables and the reasoning behind them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from realtime.engines.tts.base import PhonemeTiming
from realtime.pipeline.audio import pcm16_to_float

VISEMES = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh",
           "ou")
VOWEL_VISEMES = frozenset({"aa", "E", "ih", "oh", "ou"})

_GROUPS: dict[str, str] = {
    # consonants
    "PP": "p b m ɓ ʙ",
    "FF": "f v ɱ ʋ ɸ β",
    "TH": "θ ð",
    "DD": "t d ʈ ɖ ɗ",
    "kk": "k g ɡ ŋ q ɢ ɴ x ɣ χ c ɟ ʁ ɠ",
    "CH": "tʃ dʒ ʃ ʒ tɕ dʑ ɕ ʑ ʂ ʐ tʂ dʐ ç ʝ",
    "SS": "s z ts dz",
    "nn": "n l ɫ ɲ ɳ ɭ ʎ ʟ ɬ ɮ ɺ",
    "RR": "r ɹ ɾ ɽ ʀ ɻ",
    # vowels and glides
    "aa": "a ɑ æ ʌ ɐ ä ɶ aɪ aʊ",
    "E": "e ɛ ə ɚ ɜ ɝ ɘ ɤ ɞ eɪ ᵊ",
    "ih": "i ɪ j ᵻ ɰ",
    "oh": "o ɔ ɒ ɵ ø œ oʊ ɔɪ əʊ",
    "ou": "u ʊ w ɯ ɨ y ʏ ʉ ɥ ʍ",
}
IPA_TO_VISEME: dict[str, str] = {sym: vis for vis, syms in _GROUPS.items() for sym in syms.split()}
"""IPA symbol -> Oculus viseme. Looked up by longest prefix after stripping stress/length marks,
tie bars, aspiration/tone marks, so ``ˈaʊ`` -> ``aa``, ``kʰ`` / ``k͈`` / ``kh`` -> ``kk``."""

TRANSPARENT = frozenset({"h", "ɦ", "ħ", "ʕ", "ʜ", "ʢ", "ʔ"})
"""Glottal/pharyngeal sounds: the mouth already has the next vowel's shape (else ``sil``)."""
GLIDES = frozenset({"j", "w", "ɥ", "ɰ", "ʍ"})
REDUCED = frozenset({"ə", "ɘ", "ɨ", "ɚ", "ᵻ", "ᵊ"})

VISEME_TO_VRM: dict[str, dict[str, float]] = {
    "sil": {},
    "PP": {},  # lips closed
    "FF": {"ih": 0.2, "ou": 0.1},
    "TH": {"ee": 0.2, "aa": 0.15},
    "DD": {"ih": 0.3, "aa": 0.1},
    "kk": {"aa": 0.3, "ih": 0.2},
    "CH": {"ih": 0.3, "ou": 0.4},
    "SS": {"ih": 0.5},
    "nn": {"ih": 0.3, "aa": 0.1},
    "RR": {"ou": 0.4, "oh": 0.1},
    "aa": {"aa": 1.0},
    "E": {"ee": 0.8, "aa": 0.2},
    "ih": {"ih": 1.0},
    "oh": {"oh": 1.0},
    "ou": {"ou": 1.0},
}
"""Oculus viseme -> VRM 1.0 expression weights (``aa ih ou ee oh``), scaled by an event's weight."""

VISEME_WEIGHT: dict[str, float] = {
    "sil": 0.0, "PP": 0.8, "FF": 0.7, "TH": 0.7, "DD": 0.6, "kk": 0.6, "CH": 0.7, "SS": 0.6,
    "nn": 0.6, "RR": 0.7, "aa": 1.0, "E": 1.0, "ih": 1.0, "oh": 1.0, "ou": 1.0,
}
REDUCED_WEIGHT = 0.8  # schwa-like vowels, glides and vowels borrowed by a transparent ``h``

_PAUSE_CHARS = set(" \t\n_^$#.,!?;:-–—…'\"()[]{}«»¡¿|/~。、！？，；：「」『』")
_LANG_SWITCH = re.compile(r"^\([a-z-]+\)$")
_STRESS = "ˈˌ"
_MARKS = "ˈˌːˑ\u0361\u035c\u203f\u031a.-ʰʱʲʷˠˤⁿˡᵝʼ˞ˀ0123456789"  # dropped before lookup
_HANGUL_VOWELS = ("aa E aa E aa E aa E oh aa E E oh ou aa E ih ou ou ih ih").split()
_MAX_KEY = max(map(len, IPA_TO_VISEME))


def is_pause(phoneme: str) -> bool:
    """Spaces, ``_``, punctuation, Piper's ``^``/``$`` and espeak's ``(en)`` markers."""
    return not phoneme.strip() or all(c in _PAUSE_CHARS for c in phoneme) or bool(
        _LANG_SWITCH.match(phoneme))


def _strip(phoneme: str) -> str:
    return "".join(c for c in phoneme if c not in _MARKS)


def _prefix_lookup(s: str) -> tuple[str, str] | None:
    for n in range(min(len(s), _MAX_KEY), 0, -1):
        if s[:n] in IPA_TO_VISEME:
            return s[:n], IPA_TO_VISEME[s[:n]]
    return None


def _table_lookup(core: str) -> tuple[str, str] | None:
    """Longest known prefix of ``core``, then of its diacritic-free form (ũ -> u, p͈ -> p)."""
    hit = _prefix_lookup(core)
    if hit is None:
        plain = "".join(c for c in unicodedata.normalize("NFD", core)
                        if not unicodedata.combining(c))
        hit = _prefix_lookup(plain) if plain else None
    return hit


def _lookup(core: str) -> tuple[str, str]:
    """-> (matched base symbol, viseme) for a stripped, non-empty phoneme; never fails."""
    hit = _table_lookup(core)
    if hit is not None:
        return hit
    ch = core[0]
    if "\uac00" <= ch <= "\ud7a3":  # a Hangul syllable (letter fallback): its vowel's shape
        return ch, _HANGUL_VOWELS[((ord(ch) - 0xAC00) % 588) // 28]
    return ch, ("E" if ch.isalpha() else "sil")  # unknown voiced letter: neutral half-open


def is_known(phoneme: str) -> bool:
    """Whether the phoneme is a pause, a bare mark, ``h``-like or found in :data:`IPA_TO_VISEME`."""
    core = _strip(phoneme).lstrip("".join(TRANSPARENT))
    return is_pause(phoneme) or not core or _table_lookup(core) is not None


def phoneme_to_viseme(phoneme: str) -> str:
    """The Oculus viseme of one phoneme on its own (``h`` and bare marks -> ``sil``)."""
    if is_pause(phoneme):
        return "sil"
    core = _strip(phoneme)
    if not core or core[0] in TRANSPARENT:
        return "sil"
    return _lookup(core)[1]


def _classify(phoneme: str) -> tuple[str, str, float]:
    """-> (kind, viseme, weight); kind: sound, pause, next/prev (bare mark), h (transparent)."""
    if is_pause(phoneme):
        return "pause", "sil", 0.0
    core = _strip(phoneme)
    if not core:
        return ("next" if any(c in _STRESS for c in phoneme) else "prev"), "sil", 0.0
    if core[0] in TRANSPARENT:
        core = core.lstrip("".join(TRANSPARENT))
        if not core:
            return "h", "sil", 0.0
    base, vis = _lookup(core)
    weight = VISEME_WEIGHT[vis] * (REDUCED_WEIGHT if base in REDUCED or base in GLIDES else 1.0)
    return "sound", vis, weight


def _resolve(phonemes: Sequence[str]) -> list[tuple[str, float]]:
    """Visemes for a phoneme sequence; bare marks and ``h`` borrow from their neighbours."""
    items = [_classify(p) for p in phonemes]
    out: list[tuple[str, float] | None] = [
        (v, w) if k in ("sound", "pause") else None for k, v, w in items]
    following: tuple[str, float] | None = None
    for i in range(len(items) - 1, -1, -1):  # stress marks and h look ahead
        kind = items[i][0]
        if kind == "next":
            out[i] = following
        elif kind == "h":
            vowel = following is not None and following[0] in VOWEL_VISEMES
            out[i] = (following[0], following[1] * REDUCED_WEIGHT) if vowel else ("sil", 0.0)
        if out[i] is not None:
            following = out[i]
    preceding: tuple[str, float] = ("sil", 0.0)
    for i, item in enumerate(out):  # length marks (and trailing stress marks) look back
        if item is None:
            out[i] = preceding
        else:
            preceding = item
    return out  # type: ignore[return-value]


def phonemes_to_visemes(phonemes: list[PhonemeTiming], offset_ms: float = 0.0,
                        min_duration_ms: float = 20.0) -> list[dict[str, Any]]:
    """Timed phonemes -> ``[{"t_ms", "viseme", "duration_ms", "weight"}]`` on the response timeline.

    Events are sorted, non-overlapping and contiguous: identical neighbours merge (max weight),
    gaps of ``min_duration_ms`` or more become ``sil`` (shorter ones extend the previous event),
    and events shorter than ``min_duration_ms`` are absorbed by their predecessor.
    """
    timed = sorted(phonemes, key=lambda p: p.start_ms)
    visemes = _resolve([p.phoneme for p in timed])
    segs: list[list[Any]] = []  # [start, end, viseme, weight]
    for p, (vis, weight) in zip(timed, visemes, strict=True):
        start = offset_ms + max(0.0, p.start_ms)
        end = start + max(0.0, p.duration_ms)
        if segs:
            gap = start - segs[-1][1]
            if gap >= min_duration_ms:
                segs.append([segs[-1][1], start, "sil", 0.0])
            elif gap > 0:
                segs[-1][1] = start
            start = max(start, segs[-1][1])
        if end > start:
            segs.append([start, end, vis, weight])
    merged: list[list[Any]] = []
    carry: float | None = None  # start of a too-short first event, handed to the next one
    for seg in segs:
        if carry is not None:
            seg[0], carry = carry, None
        if merged and merged[-1][2] == seg[2]:
            merged[-1][1] = seg[1]
            merged[-1][3] = max(merged[-1][3], seg[3])
        elif seg[1] - seg[0] < min_duration_ms:
            if merged:
                merged[-1][1] = seg[1]
            else:
                carry = seg[0]
        else:
            merged.append(seg)
    if carry is not None and segs:  # everything was too short: keep one event
        merged.append([carry, segs[-1][1], *max(segs, key=lambda s: s[1] - s[0])[2:]])
    out: list[dict[str, Any]] = []
    for start, end, vis, weight in merged:
        t, e = round(start, 1), round(end, 1)
        if e > t:
            out.append({"t_ms": t, "viseme": vis, "duration_ms": round(e - t, 1),
                        "weight": round(min(1.0, max(0.0, weight)), 3)})
    return out


def piper_alignments_to_phonemes(alignments: Iterable[Any],
                                 sample_rate: int) -> list[PhonemeTiming]:
    """Piper ``PhonemeAlignment(phoneme, phoneme_ids, num_samples)`` -> timings (ms, cumulative)."""
    out: list[PhonemeTiming] = []
    pos = 0
    for al in alignments:
        n = int(al.num_samples)
        out.append(PhonemeTiming(al.phoneme, pos * 1000.0 / sample_rate, n * 1000.0 / sample_rate))
        pos += n
    return out


# ------------------------------------------------------------------------- alignment-less fit
HOP_MS = 10.0
VOICED_REL = 0.06  # a frame is voiced above ~-24 dB of the loudest frame ...
FLOOR_MULT = 2.0  # ... and above twice the quiet (10th percentile) level
GAP_CLOSE_MS = 60.0  # closures / unvoiced consonants shorter than this stay inside a region
MIN_REGION_MS = 30.0
VOWEL_LEN = 2.0  # vowels get twice a consonant's share of a region


def _voiced_regions(pcm: np.ndarray, sample_rate: int) -> list[tuple[float, float]]:
    """Voiced (start_ms, end_ms) regions from a 10 ms RMS envelope."""
    x = np.asarray(pcm).reshape(-1)
    x = pcm16_to_float(x) if x.dtype.kind in "iu" else x.astype(np.float32)
    hop = max(1, int(round(sample_rate * HOP_MS / 1000.0)))
    n_frames = -(-len(x) // hop)
    if n_frames == 0:
        return []
    padded = np.zeros(n_frames * hop, dtype=np.float32)
    padded[: len(x)] = x
    env = np.sqrt(np.mean(padded.reshape(n_frames, hop) ** 2, axis=1))
    peak = float(env.max())
    if peak < 1e-4:  # digital silence
        return []
    floor = float(np.percentile(env, 10))
    thr = min(max(peak * VOICED_REL, floor * FLOOR_MULT), peak * 0.5)
    voiced = np.concatenate(([False], env > thr, [False]))
    edges = np.flatnonzero(voiced[1:] != voiced[:-1])
    runs = [[int(s), int(e)] for s, e in zip(edges[::2], edges[1::2], strict=True)]
    closed: list[list[int]] = []
    for run in runs:
        if closed and (run[0] - closed[-1][1]) * HOP_MS < GAP_CLOSE_MS:
            closed[-1][1] = run[1]
        else:
            closed.append(run)
    kept = [r for r in closed if (r[1] - r[0]) * HOP_MS >= MIN_REGION_MS] or closed
    dur_ms = len(x) * 1000.0 / sample_rate
    hop_ms = hop * 1000.0 / sample_rate
    return [(s * hop_ms, min(e * hop_ms, dur_ms)) for s, e in kept]


def _is_vowel(phoneme: str) -> bool:
    core = _strip(phoneme)
    return bool(core) and core not in GLIDES and phoneme_to_viseme(phoneme) in VOWEL_VISEMES


def fit_phonemes_to_audio(phonemes: list[str], pcm: np.ndarray,
                          sample_rate: int) -> list[PhonemeTiming]:
    """Spread untimed phonemes over the clip's voiced regions (pauses ``_`` in between).

    Each phoneme goes to the region holding the midpoint of its share of the total voiced time
    (shares: vowels 2, consonants 1); inside a region the phonemes fill it in proportion.
    """
    sounds = [p for p in phonemes if not is_pause(p) and _strip(p)]
    regions = _voiced_regions(pcm, sample_rate) if sounds else []
    if not regions:
        return []
    weights = np.array([VOWEL_LEN if _is_vowel(p) else 1.0 for p in sounds])
    lengths = np.array([e - s for s, e in regions])
    mids = (np.cumsum(weights) - weights / 2) / weights.sum() * lengths.sum()
    owner = np.minimum(np.searchsorted(np.cumsum(lengths), mids, side="right"), len(regions) - 1)
    dur_ms = len(np.asarray(pcm).reshape(-1)) * 1000.0 / sample_rate
    out: list[PhonemeTiming] = []
    cursor = 0.0
    for r, (start, end) in enumerate(regions):
        idx = np.flatnonzero(owner == r)
        if len(idx) == 0:
            continue
        if start > cursor:
            out.append(PhonemeTiming("_", cursor, start - cursor))
        bounds = start + np.concatenate(([0.0], np.cumsum(weights[idx]))) / weights[idx].sum() * (
            end - start)
        for k, i in enumerate(idx):
            out.append(PhonemeTiming(sounds[i], float(bounds[k]), float(bounds[k + 1] - bounds[k])))
        cursor = end
    if dur_ms > cursor:
        out.append(PhonemeTiming("_", cursor, dur_ms - cursor))
    return out
