"""Phonemes -> Oculus visemes, VRM weights, alignment-less fitting."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.engines.tts.base import PhonemeTiming
from realtime.engines.tts.espeak import EspeakEngine, text_to_phonemes
from realtime.pipeline.visemes import (
    IPA_TO_VISEME,
    TRANSPARENT,
    VISEME_TO_VRM,
    VISEMES,
    VOWEL_VISEMES,
    fit_phonemes_to_audio,
    is_known,
    is_pause,
    phoneme_to_viseme,
    phonemes_to_visemes,
    piper_alignments_to_phonemes,
)

SENTENCES = {
    "ko": ["안녕하세요. 만나서 반갑습니다.", "키가 크고 토끼는 빨리 뛴다. 짜장면과 짬뽕을 먹었어요.",
           "쌀과 씨앗을 샀습니다. 의사와 외국인, 위험한 왜가리. 닭이 꽃밭에서 흙을 밟았다."],
    "en": ["Hello world. How are you today?",
           "The quick brown fox jumps over the lazy dog. She sells sea shells.",
           "Judge the church thing with vision and measure. Our boy enjoyed the cute bird."],
    "ja": ["こんにちは、元気ですか。ありがとうございます。"],
    "zh": ["你好世界。我们是朋友。"],
}


def check_events(vis: list[dict], start_ms: float, end_ms: float) -> None:
    assert vis
    for v in vis:
        assert set(v) == {"t_ms", "viseme", "duration_ms", "weight"}
        assert v["viseme"] in VISEMES
        assert v["duration_ms"] > 0 and 0.0 <= v["weight"] <= 1.0
        assert v["t_ms"] == round(v["t_ms"], 1) and v["duration_ms"] == round(v["duration_ms"], 1)
        assert start_ms - 1e-6 <= v["t_ms"] and v["t_ms"] + v["duration_ms"] <= end_ms + 0.1
        assert (v["weight"] == 0.0) == (v["viseme"] == "sil")
    for a, b in zip(vis, vis[1:]):
        assert a["t_ms"] + a["duration_ms"] <= b["t_ms"] + 1e-6  # monotonic, no overlap
        assert a["viseme"] != b["viseme"]  # identical neighbours merged


# ----------------------------------------------------------------------------- the mapping
@pytest.mark.parametrize("symbols,viseme", [
    ("p b m pʰ p͈ ph", "PP"), ("f v", "FF"), ("θ ð", "TH"), ("t d tʰ t͈", "DD"),
    ("k g ɡ ŋ kʰ k͈ kh q", "kk"), ("tʃ dʒ ʃ ʒ tɕ dʑ tɕʰ", "CH"), ("s z s͈ s-", "SS"),
    ("n l ɫ", "nn"), ("r ɹ ɾ", "RR"), ("a ɑ æ ʌ ɐ ˈɐ ɑː ˈaɪ", "aa"), ("e ɛ ə ɚ ˈeɪ", "E"),
    ("i ɪ j iː", "ih"), ("o ɔ ˈoʊ", "oh"), ("u ʊ w ɯ ɨ uː ɯᵝ", "ou"),
])
def test_ipa_groups(symbols: str, viseme: str) -> None:
    for sym in symbols.split():
        assert phoneme_to_viseme(sym) == viseme, sym


def test_pauses_and_marks() -> None:
    for p in ("", " ", "_", ".", ",", "!", "?", "^", "$", "…", "(en)", "。"):
        assert is_pause(p) and phoneme_to_viseme(p) == "sil", repr(p)
    assert not is_pause("s-") and not is_pause("a")
    assert phoneme_to_viseme("h") == "sil" and phoneme_to_viseme("ʘ") == "E"  # unknown letter


def test_vrm_table() -> None:
    assert set(VISEME_TO_VRM) == set(VISEMES) and len(VISEMES) == 15
    for weights in VISEME_TO_VRM.values():
        assert set(weights) <= {"aa", "ih", "ou", "ee", "oh"}
        assert all(0.0 <= w <= 1.0 for w in weights.values())
    assert VISEME_TO_VRM["aa"] == {"aa": 1.0} and VISEME_TO_VRM["PP"] == {}
    assert VISEME_TO_VRM["sil"] == {} and VISEME_TO_VRM["E"]["ee"] >= 0.5
    assert set(IPA_TO_VISEME.values()) <= set(VISEMES) - {"sil"}


@pytest.mark.parametrize("language", list(SENTENCES))
async def test_espeak_symbols_are_covered(language: str) -> None:
    """Every symbol espeak-ng produces maps through the table to a non-sil viseme (or is a pause)."""
    engine = EspeakEngine()
    symbols: set[str] = set()
    for text in SENTENCES[language]:
        symbols.update(text_to_phonemes(text, language))
        async for chunk in engine.synthesize(text, language=language):
            symbols.update(p.phoneme for p in chunk.phonemes)
    assert len(symbols) > 10
    for sym in sorted(symbols):
        assert is_known(sym), sym
        if is_pause(sym):
            continue
        if sym.lstrip("ˈˌ")[0] in TRANSPARENT:
            # h takes the following vowel's shape
            vis = phonemes_to_visemes([PhonemeTiming(sym, 0, 50), PhonemeTiming("a", 50, 50)])
            assert [v["viseme"] for v in vis] == ["aa"], sym
        else:
            assert phoneme_to_viseme(sym) != "sil", sym


# ----------------------------------------------------------------------- phonemes_to_visemes
def pt(spec: str, step: float = 50.0, start: float = 0.0) -> list[PhonemeTiming]:
    return [PhonemeTiming(p, start + i * step, step) for i, p in enumerate(spec.split("|"))]


def test_merge_offset_rounding_weights() -> None:
    vis = phonemes_to_visemes(pt("m|ˈa|a|n| |s|i|."), offset_ms=1000.04)
    assert [v["viseme"] for v in vis] == ["PP", "aa", "nn", "sil", "SS", "ih", "sil"]
    assert vis[0]["t_ms"] == 1000.0 and vis[1] == {"t_ms": 1050.0, "viseme": "aa",
                                                   "duration_ms": 100.0, "weight": 1.0}
    weights = {v["viseme"]: v["weight"] for v in vis}
    assert weights["sil"] == 0.0 and weights["aa"] == 1.0
    assert all(0.6 <= weights[c] <= 0.8 for c in ("PP", "nn", "SS"))
    check_events(vis, 1000.0, 1000.04 + 8 * 50)


def test_piper_style_marks_and_h() -> None:
    # Piper: one code point per phoneme; stress goes with the next sound, length with the previous
    vis = phonemes_to_visemes(pt("h|ˈ|o|ː|p", 30.0))
    assert [(v["viseme"], v["duration_ms"]) for v in vis] == [("oh", 120.0), ("PP", 30.0)]
    assert [v["viseme"] for v in phonemes_to_visemes(pt("s|h|_"))] == ["SS", "sil"]


def test_gaps_short_events_and_zero_length() -> None:
    phon = [PhonemeTiming("a", 0, 100), PhonemeTiming("t", 100, 0), PhonemeTiming("t", 100, 10),
            PhonemeTiming("o", 110, 90), PhonemeTiming("u", 300, 50), PhonemeTiming("i", 355, 60)]
    vis = phonemes_to_visemes(phon)
    assert [(v["t_ms"], v["viseme"], v["duration_ms"]) for v in vis] == [
        (0.0, "aa", 110.0), (110.0, "oh", 90.0), (200.0, "sil", 100.0), (300.0, "ou", 55.0),
        (355.0, "ih", 60.0)]
    assert phonemes_to_visemes([]) == []
    short = phonemes_to_visemes([PhonemeTiming("a", 0, 5)])
    assert [(v["viseme"], v["duration_ms"]) for v in short] == [("aa", 5.0)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "p", "s", "ˈi", "h", "_", " ", "ː", "tɕ", "o"]),
                          st.floats(0, 2000), st.floats(0, 300)), max_size=40),
       st.floats(0, 1e5))
def test_visemes_are_well_formed(items: list[tuple[str, float, float]], offset: float) -> None:
    phon = [PhonemeTiming(p, s, d) for p, s, d in items]
    vis = phonemes_to_visemes(phon, offset_ms=offset)
    if any(d >= 1 for _, _, d in items):
        lo = offset + min(s for _, s, _ in items) - 0.1
        check_events(vis, lo, offset + max(s + d for _, s, d in items))


def test_piper_alignments() -> None:
    @dataclass
    class Al:
        phoneme: str
        phoneme_ids: list[int]
        num_samples: int

    out = piper_alignments_to_phonemes([Al("^", [1], 2205), Al("h", [20], 1102),
                                        Al("a", [14], 4410)], 22050)
    assert [(p.phoneme, p.start_ms, p.duration_ms) for p in out] == [
        ("^", 0.0, 100.0), ("h", 100.0, pytest.approx(49.977, abs=1e-3)),
        ("a", pytest.approx(149.977, abs=1e-3), 200.0)]


# ------------------------------------------------------------------------------ real audio
@pytest.mark.parametrize("text,language", [("안녕하세요. 만나서 반갑습니다.", "ko"),
                                           ("Hello world. How are you today?", "en")])
async def test_visemes_from_real_synthesis(text: str, language: str) -> None:
    chunks = [c async for c in EspeakEngine().synthesize(text, language=language)]
    total_ms = sum(len(c.pcm) for c in chunks) * 1000.0 / 22050
    response_offset = 250.0  # the sentence starts 250 ms into the response
    vis = phonemes_to_visemes([p for c in chunks for p in c.phonemes], offset_ms=response_offset)
    check_events(vis, response_offset, response_offset + total_ms)
    assert {v["viseme"] for v in vis} & VOWEL_VISEMES >= {"aa", "ih", "oh"}
    voiced = sum(v["duration_ms"] for v in vis if v["viseme"] != "sil")
    assert voiced > 0.7 * total_ms
    # the same audio fitted without alignment stays inside the clip, too
    pcm = np.concatenate([c.pcm for c in chunks])
    fitted = fit_phonemes_to_audio(text_to_phonemes(text, language), pcm, 22050)
    check_events(phonemes_to_visemes(fitted), 0.0, total_ms)


# ------------------------------------------------------------------------------- fitting
def two_bursts(rate: int = 16000) -> tuple[np.ndarray, list[tuple[float, float]]]:
    t = np.arange(int(3.0 * rate)) / rate
    sig = np.random.default_rng(1).normal(0, 30, len(t))  # faint noise floor
    bursts = [(0.5, 1.2), (1.8, 2.6)]
    for a, b in bursts:
        m = (t >= a) & (t < b)
        sig[m] += 8000 * np.sin(2 * np.pi * 180 * t[m]) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t[m]))
    return sig.astype(np.int16), [(a * 1000, b * 1000) for a, b in bursts]


def test_fit_puts_phonemes_inside_bursts() -> None:
    pcm, bursts = two_bursts()
    phonemes = ["h", "ə", "l", "ˈoʊ", " ", "w", "ˈɜː", "l", "d", "n", "ˈaɪ", "s"]
    fit = fit_phonemes_to_audio(phonemes, pcm, 16000)
    sounds = [p for p in fit if p.phoneme != "_"]
    assert [p.phoneme for p in sounds] == [p for p in phonemes if p != " "]
    used = set()
    for p in sounds:
        inside = [i for i, (a, b) in enumerate(bursts)
                  if a - 20 <= p.start_ms and p.start_ms + p.duration_ms <= b + 20]
        assert inside, p
        used.add(inside[0])
    assert used == {0, 1}
    assert all(p.phoneme == "_" for p in fit if 1250 < p.start_ms < 1750)  # the gap is silent
    for a, b in zip(fit, fit[1:]):
        assert abs(a.start_ms + a.duration_ms - b.start_ms) < 1e-6
    assert fit[0].start_ms >= 0 and fit[-1].start_ms + fit[-1].duration_ms <= 3000 + 1e-6
    by = {p.phoneme: p.duration_ms for p in sounds}
    assert by["ˈoʊ"] > 1.5 * by["l"]  # vowels weighted longer


def test_fit_edge_cases() -> None:
    pcm, _ = two_bursts()
    assert fit_phonemes_to_audio([], pcm, 16000) == []
    assert fit_phonemes_to_audio(["a", "b"], np.zeros(16000, np.int16), 16000) == []
    assert fit_phonemes_to_audio(["a"], np.zeros(0, np.int16), 16000) == []
    tone = (0.3 * np.sin(np.arange(8000) / 5)).astype(np.float32)  # float, voiced throughout
    fit = fit_phonemes_to_audio(["a", "b"], tone, 16000)
    assert [p.phoneme for p in fit] == ["a", "b"] and fit[-1].start_ms + fit[-1].duration_ms <= 500


def test_fit_is_fast() -> None:
    rng = np.random.default_rng(2)
    pcm = (rng.normal(0, 3000, 5 * 22050) * np.repeat(rng.random(500) > 0.3, 221)[:5 * 22050])
    phonemes = list("hello world this is a fairly long sentence to fit") * 2
    fit_phonemes_to_audio(phonemes, pcm.astype(np.int16), 22050)
    best = min(_timed(fit_phonemes_to_audio, phonemes, pcm.astype(np.int16), 22050)
               for _ in range(10))
    assert best < 0.005, best


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0
