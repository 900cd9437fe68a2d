"""Whisper's shorter encoder window (realtime/listen/window.py) on the real tiny.en model: the
encoder sees whole 15 s windows, transcripts match the full 30 s window's, a doubled answer is
decoded again with the full window, and the window is the faster one."""

from __future__ import annotations

import contextlib
import time

import numpy as np
import pytest
import pytest_asyncio

from realtime.listen.stt import SttOptions, WhisperSTT
from realtime.listen.window import FULL, content_frames, keep_frames, repeats
from tests.speech import piper_16k, wer

CLIPS = ["What is the capital of France?", "Could you help me with my homework?", "Why?",
         "No.", "Thanks!", "I went to the store yesterday and bought some bread."]


def test_keep_frames() -> None:
    assert keep_frames(200, 1500) == 1500  # a 2 s question: one 15 s window
    assert keep_frames(1400, 1500) == 1500
    assert keep_frames(1401, 1500) == 3000  # less than 1 s of padding left: the next window
    assert keep_frames(2950, 1500) == FULL and keep_frames(0, 1500) == 1500
    assert keep_frames(200, 0) == FULL and keep_frames(200, 3000) == FULL


def test_content_frames() -> None:
    f = np.zeros((80, 3000), np.float32)
    assert content_frames(f) == 0
    f[3, 0] = -0.4  # a frame of real audio: some bin is not exactly zero
    f[:, 204] = 0.1
    assert content_frames(f) == 205
    assert content_frames(f[None]) == 205  # batched


@pytest.mark.parametrize(("text", "expected"), [
    ("Thanks Thanks", True), ("No? No?", True), ("That's great. That's great.", True),
    ("My favorite food is pizza.", False), ("Pizza. Pizza. Pizza. Pizz", False),
    ("What is X? What is X? What is", True), ("no", False), ("", False),
    ("I said no, I said no", True), ("I said no, I said", False), ("Bye-bye now", False),
    ("No, no, no!", True),
])
def test_repeats(text: str, expected: bool) -> None:
    assert repeats(text) is expected


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def engines():
    short, full = WhisperSTT(SttOptions(window_s=15)), WhisperSTT(SttOptions(window_s=30))
    await short.start()
    await full.start()
    yield short, full
    await short.aclose()
    await full.aclose()


@contextlib.contextmanager
def spy(model, sizes: list[int]):
    """Record the encoder positions of each encode inside the block."""
    cls = type(model)

    class Spy(cls):
        def encode(self, features):
            out = super().encode(features)
            sizes.append(int(out.shape[1]))  # encoder positions: half the frames
            return out

    model.__class__ = Spy
    try:
        yield
    finally:
        model.__class__ = cls


async def test_short_window_hears_what_the_full_window_hears(engines, piper_voice) -> None:
    short, full = engines
    sizes: list[int] = []
    t_short = t_full = 0.0
    for text in CLIPS:
        audio = piper_16k(piper_voice, text)
        t0 = time.perf_counter()
        with spy(short._model, sizes):
            a = await short.transcribe(audio, language="en")
        t_short += time.perf_counter() - t0
        t0 = time.perf_counter()
        b = await full.transcribe(audio, language="en")
        t_full += time.perf_counter() - t0
        assert a.rejected is None and wer(text, a.text) <= wer(text, b.text) + 0.2, (a, b)
    # every clip encoded once at 1500 frames (750 positions); decoding on CPU threads is not
    # repeatable, so a one-word answer is now and then doubled and decoded again with 30 s
    assert sizes.count(750) == len(CLIPS) and sizes.count(1500) <= 2, sizes
    # the encoder over 30 s is most of a decode: the 15 s window is clearly faster
    assert t_short < 0.8 * t_full, (t_short, t_full)


async def test_a_doubled_answer_is_decoded_again_with_the_full_window(engines,
                                                                       piper_voice) -> None:
    short, _ = engines
    sizes: list[int] = []
    real = short._decode
    calls = []

    def doubled_first(model, audio, language, prompt):
        stats, info = real(model, audio, language, prompt)
        calls.append(stats[0].text)
        if len(calls) == 1:  # what a short window sometimes does to a one-word answer
            stats[0].text = f"{stats[0].text} {stats[0].text}"
        return stats, info

    short._decode = doubled_first
    try:
        with spy(short._model, sizes):
            t = await short.transcribe(piper_16k(piper_voice, "Thanks!"), language="en")
    finally:
        del short._decode
    assert len(calls) == 2 and sizes == [750, 1500], (calls, sizes)
    assert t.rejected is None and wer("Thanks!", t.text) == 0.0, t
