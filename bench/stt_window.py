"""Whisper's encoder window: accuracy and time of 30 s (Whisper's own) vs shorter windows.

    .venv/bin/python bench/stt_window.py [--windows 30,20,15,10] [--repeat 2]

The embedded models (tiny.en, and the multilingual base on the same English clips and on
Korean espeak-ng clips with the language left to detection) transcribe Piper-spoken clips
(and tiny.en the same texts in espeak-ng's robotic English, far from Whisper's training data):
questions, short answers ("No.", "Thanks!"), hesitations with a 700 ms pause, long
sentences, and 12-25 s monologues (more than
one 10 s window). Printed side by side per window: word error rate (against the text Piper
spoke), clips with any error, runaways (a decode that repeats past 1.5x the words spoken: the
failure a too-short window causes), time per clip p50/p90, and the ratio to the 30 s window.
Korean: how many clips were detected as ``ko`` (espeak-ng's Korean is too robotic for an
accuracy figure). See ``realtime/listen/window.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import pct  # noqa: E402
from voice_turns import HESITATIONS, QUESTIONS  # noqa: E402

from realtime.listen.stt import SttOptions, WhisperSTT  # noqa: E402
from tests.speech import espeak_16k, load_piper_voice, piper_16k, wer, words  # noqa: E402

LONG = [
    "I went to the store yesterday and bought some apples, bananas and a loaf of bread.",
    "Please remind me to call my mother at six o'clock this evening.",
    "The quick brown fox jumps over the lazy dog while the farmer watches from the porch.",
    "Hello!", "Yes.", "No, thank you.",
]
SHORT = ["No.", "Okay.", "Thanks!", "Sure, why not?", "Good morning.", "I see.", "Really?",
         "Goodbye.", "Maybe later.", "What?", "Tell me more.", "That's great!", "Why?",
         "Of course.", "Sounds good."]
KOREAN = ["안녕하세요, 만나서 반갑습니다.", "오늘 날씨가 정말 좋네요.", "저녁으로 뭘 먹을까요?",
          "한국어를 배우고 있어요.", "주말에 영화를 보러 갈까요?"]


def english_clips() -> list[tuple[str, np.ndarray]]:
    voice = load_piper_voice()
    clips = [(t, piper_16k(voice, t)) for t in QUESTIONS + LONG + SHORT]
    pause = np.zeros(int(0.7 * 16000), np.float32)
    for a, b in HESITATIONS:
        clips.append((f"{a} {b}", np.concatenate([piper_16k(voice, a), pause,
                                                  piper_16k(voice, b)])))
    gap = np.zeros(int(0.4 * 16000), np.float32)
    for n in (5, 9):  # monologues: ~12 s and ~22 s
        texts = (QUESTIONS + LONG[:3])[n: n * 2 + 1]
        parts = [x for t in texts for x in (piper_16k(voice, t), gap)]
        clips.append((" ".join(texts), np.concatenate(parts)))
    return clips


async def run(stt: WhisperSTT, clips, language: str | None, repeat: int) -> dict:
    errs, times, runaways, langs = [], [], 0, []
    for text, audio in clips:
        for i in range(repeat):
            t0 = time.perf_counter()
            tr = await stt.transcribe(audio, language=language)
            times.append((time.perf_counter() - t0) * 1000.0)
        if language is None and text in KOREAN:
            langs.append(tr.language)
            continue
        said = tr.text or ""
        errs.append(wer(text, said))
        if len(words(said)) > 1.5 * len(words(text)) + 2:
            runaways += 1
            print(f"    runaway: {text[:40]!r} -> {said[:80]!r}...")
    return {"wer": float(np.mean(errs)) if errs else float("nan"),
            "wrong": sum(e > 0 for e in errs), "n": len(errs), "runaways": runaways,
            "p50": pct(times, 50), "p90": pct(times, 90),
            "ko": sum(x == "ko" for x in langs), "nko": len(langs)}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", default="30,20,15,10")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    windows = [float(w) for w in args.windows.split(",")]
    clips = english_clips()
    korean = [(t, (await espeak_16k(t, "ko")).astype(np.float32) / 32768) for t in KOREAN]
    print(f"{len(clips)} English clips ({sum(len(a) for _, a in clips) / 16000:.0f} s), "
          f"{len(korean)} Korean; {args.repeat} runs each")
    from realtime.listen.models import ensure_multilingual_whisper

    base_dir = ensure_multilingual_whisper(Path(tempfile.gettempdir()) / "avatar-bench-models")
    robotic = [(t, (await espeak_16k(t, "en")).astype(np.float32) / 32768)
               for t in QUESTIONS + LONG[:3] + SHORT]
    models = [("tiny.en", "", clips, "en"), ("tiny.en", "", robotic, "espeak")]
    if base_dir is not None:
        models += [("base", str(base_dir), clips, "en"), ("base", str(base_dir), korean, None)]
    print(f"{'model':8} {'clips':8} {'window':>6} {'WER':>6} {'wrong':>6} {'runaway':>7} "
          f"{'p50 ms':>7} {'p90 ms':>7} {'p50 vs 30s':>10}")
    for label, path, cl, lang in models:
        base_p50 = None
        for w in windows:
            stt = WhisperSTT(SttOptions(model=path, window_s=w), label=label)
            await stt.start()
            lang_ = "en" if lang == "espeak" else lang
            await stt.transcribe(cl[0][1], language=lang_)  # warm-up
            r = await run(stt, cl, lang_, args.repeat)
            await stt.aclose()
            base_p50 = base_p50 or r["p50"]
            kind = "ko auto" if lang is None else "espeak" if lang == "espeak" else "en"
            quality = f"{r['ko']}/{r['nko']} ko" if lang is None else \
                f"{r['wer']:6.3f} {r['wrong']:>3}/{r['n']:<2} {r['runaways']:>7}"
            print(f"{label:8} {kind:8} {w:6.0f} {quality:>22} {r['p50']:7.0f} {r['p90']:7.0f} "
                  f"{r['p50'] / base_p50:9.2f}x", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
