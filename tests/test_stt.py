"""Speech-to-text: the real tiny.en Whisper model on real synthesised speech (Piper, espeak-ng).

The model is loaded once for the module. Speech must come back with a word error rate of at most
0.25; silence, noise and a tone must be rejected; the event loop must keep ticking while the
model works; cancelling a caller must leave the worker usable.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import numpy as np
import pytest
import pytest_asyncio

from realtime.listen.stt import (
    SegmentStats,
    STTError,
    SttOptions,
    Transcript,
    WhisperSTT,
    judge,
    prepare_audio,
)
from tests.speech import espeak_16k, piper_16k, wer

SR = 16000
PIPER_SENTENCES = [
    "Please turn on the lights in the kitchen.",
    "What is the weather like tomorrow in Seattle?",
    "I would like to order a large pizza with mushrooms.",
]
ESPEAK_SENTENCES = [
    "Please turn on the lights in the kitchen.",
    "Can you remind me to call my mother this evening?",
    "I would like to order a large pizza with mushrooms.",
]
MAX_WER = 0.25


def test_wer() -> None:
    assert wer("Hello, world!", "hello world") == 0.0
    assert wer("the cat sat", "the bat sat") == pytest.approx(1 / 3)
    assert wer("the cat sat", "the sat") == pytest.approx(1 / 3)  # deletion
    assert wer("the cat sat", "the cat sat down") == pytest.approx(1 / 3)  # insertion
    assert wer("a b c d", "") == 1.0
    assert wer("I don't know.", "i dont know") == pytest.approx(1 / 3)


# ---------------------------------------------------------------------------- audio sources
@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stt():
    engine = WhisperSTT(SttOptions())
    await engine.start()
    yield engine
    await engine.aclose()


@pytest.fixture(scope="module")
def utterance(piper_voice) -> tuple[str, np.ndarray]:
    """A 2-3 s Piper utterance shared by the timing/concurrency tests."""
    text = PIPER_SENTENCES[1]
    audio = piper_16k(piper_voice, text)
    assert 2.0 <= len(audio) / SR <= 3.2
    return text, audio


def assert_good(t: Transcript, reference: str) -> None:
    assert t.rejected is None, t
    assert wer(reference, t.text) <= MAX_WER, (reference, t.text)
    assert t.language == "en"
    assert t.no_speech_prob < 0.6 and t.avg_logprob > -1.0


# ---------------------------------------------------------------------------- real speech
async def test_model_is_english_only(stt: WhisperSTT) -> None:
    assert stt.started and stt.english_only  # the embedded model is tiny.en
    assert stt.resolve_language("ko") == "en" and stt.resolve_language(None) == "en"


@pytest.mark.parametrize("text", PIPER_SENTENCES)
async def test_piper_speech(stt: WhisperSTT, piper_voice, text: str) -> None:
    audio = piper_16k(piper_voice, text)
    t = await stt.transcribe(audio)
    assert_good(t, text)
    assert t.duration_s == pytest.approx(len(audio) / SR)
    assert 0 < t.processing_s


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stt_full():
    """Whisper's own 30 s encoder window (the default is 15 s, listen/window.py)."""
    engine = WhisperSTT(SttOptions(window_s=30))
    await engine.start()
    yield engine
    await engine.aclose()


@pytest.mark.parametrize("text", ESPEAK_SENTENCES)
async def test_espeak_speech(stt_full: WhisperSTT, text: str) -> None:
    t = await stt_full.transcribe((await espeak_16k(text)).astype(np.float32) / 32768.0)
    assert_good(t, text)


async def test_espeak_speech_with_the_short_window(stt: WhisperSTT) -> None:
    """espeak-ng's robotic voice is far from Whisper's training data: one word in a sentence
    may go ("a large piece of wind mushrooms", with the 15 s encoder window; bench/stt_window.py
    prints both windows on 33 espeak clips: WER 0.145 vs 0.129 with 30 s), so the bar is on the
    three sentences together."""
    errors = []
    for text in ESPEAK_SENTENCES:
        t = await stt.transcribe((await espeak_16k(text)).astype(np.float32) / 32768.0)
        assert t.rejected is None and t.language == "en", t
        errors.append(wer(text, t.text))
    assert max(errors) <= 0.4 and sum(errors) / len(errors) <= 0.15, errors


async def test_int16_input(stt: WhisperSTT, utterance) -> None:
    text, audio = utterance
    pcm = np.round(audio * 32767).astype(np.int16)
    t = await stt.transcribe(pcm, language="ko")  # an English-only model still decodes English
    assert_good(t, text)


async def test_prompt_is_accepted(stt: WhisperSTT, utterance) -> None:
    text, audio = utterance
    assert_good(await stt.transcribe(audio, prompt="Weather in Seattle."), text)


# ---------------------------------------------------------------------------- non-speech
def white_noise(rms: float, seconds: float = 2.0) -> np.ndarray:
    return (np.random.default_rng(7).standard_normal(int(seconds * SR)) * rms).astype(np.float32)


def tone(amplitude: float = 0.3, seconds: float = 2.0, hz: float = 440.0) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * SR)) / SR)).astype(
        np.float32)


@pytest.mark.parametrize("name,audio", [
    ("silence", np.zeros(2 * SR, np.float32)),
    ("very low noise", white_noise(0.0005)),
    ("empty", np.zeros(0, np.float32)),
])
async def test_below_floor_rejected_without_decoding(stt: WhisperSTT, name, audio) -> None:
    t = await stt.transcribe(audio)
    assert t.rejected == ("no_audio" if name == "empty" else "quiet")
    assert t.text == "" and t.processing_s < 0.05  # the model never ran


@pytest.mark.parametrize("name,audio", [
    ("silence", np.zeros(2 * SR, np.float32)),
    ("low white noise", white_noise(0.003)),
    ("white noise", white_noise(0.05, 1.0)),
    ("440 Hz tone", tone(0.3)),
    ("quiet 440 Hz tone", tone(0.02, 1.0)),
])
async def test_non_speech_rejected_by_model_guards(stt: WhisperSTT, name, audio) -> None:
    """With the RMS floor off the model runs, hallucinates, and the guards catch it."""
    floor = stt.options.rms_floor
    stt.options.rms_floor = 0.0
    try:
        t = await stt.transcribe(audio)
    finally:
        stt.options.rms_floor = floor
    assert t.rejected is not None and t.rejected != "quiet", t
    assert t.processing_s > 0.05  # it really decoded


async def test_low_noise_rejected_with_default_options(stt: WhisperSTT) -> None:
    t = await stt.transcribe(white_noise(0.003))  # above the floor: decoded, then rejected
    assert t.rejected == "no_speech", t


# ---------------------------------------------------------------------------- concurrency
async def test_event_loop_not_blocked(stt_full: WhisperSTT, utterance) -> None:
    stt = stt_full  # the longer decode (30 s window) gives the ticker more to prove
    text, audio = utterance
    lags: list[float] = []
    period = 0.005

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(period)
            lags.append(loop.time() - t0 - period)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    try:
        t0 = time.perf_counter()
        result = await stt.transcribe(audio)
        busy = time.perf_counter() - t0
    finally:
        task.cancel()
    assert_good(result, text)
    assert busy > 0.2 and len(lags) >= busy / 0.02  # the ticker really ran during the decode
    print(f"\nloop lag during a {busy:.2f}s transcription: max {max(lags) * 1000:.1f} ms, "
          f"{len(lags)} ticks")
    assert max(lags) < 0.050


def instrument(engine: WhisperSTT) -> dict:
    """Wrap the worker function: count calls and the most running at once."""
    state = {"calls": 0, "active": 0, "max_active": 0, "done": 0}
    inner = WhisperSTT._transcribe_sync

    def wrapped(*args):
        state["calls"] += 1
        state["active"] += 1
        state["max_active"] = max(state["max_active"], state["active"])
        try:
            return inner(engine, *args)
        finally:
            state["active"] -= 1
            state["done"] += 1

    engine._transcribe_sync = wrapped
    return state


async def test_calls_are_serialised(stt: WhisperSTT, piper_voice) -> None:
    state = instrument(stt)
    try:
        clips = [(s, piper_16k(piper_voice, s)) for s in PIPER_SENTENCES[:2]]
        results = await asyncio.gather(*(stt.transcribe(a) for _, a in clips))
    finally:
        del stt._transcribe_sync
    for (text, _), t in zip(clips, results):
        assert_good(t, text)  # each caller got its own transcript
    assert state["calls"] == 2 and state["max_active"] == 1


async def test_cancelling_a_running_call_is_safe(stt: WhisperSTT, utterance) -> None:
    text, audio = utterance
    state = instrument(stt)
    try:
        task = asyncio.create_task(stt.transcribe(audio))
        while state["calls"] == 0:  # wait until the worker is decoding
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert state["done"] == 0  # the decode is still running in its thread...
        assert stt.pending == 1 and not stt.idle  # ...and still counts as work for the worker
        t = await stt.transcribe(audio)  # ...and the next call queues behind it
        assert state["done"] == 2 and state["max_active"] == 1
    finally:
        del stt._transcribe_sync
    assert_good(t, text)


async def test_cancelling_a_queued_call_skips_it(stt: WhisperSTT, utterance) -> None:
    text, audio = utterance
    state = instrument(stt)
    try:
        first = asyncio.create_task(stt.transcribe(audio))
        second = asyncio.create_task(stt.transcribe(audio))
        while state["calls"] == 0:
            await asyncio.sleep(0.005)
        assert stt.pending == 2
        second.cancel()
        assert_good(await first, text)
        with pytest.raises(asyncio.CancelledError):
            await second
        await asyncio.sleep(0.05)
        assert state["calls"] == 1  # the cancelled call never reached the model
        assert stt.pending == 0 and stt.idle
    finally:
        del stt._transcribe_sync


async def test_real_time_factor(stt: WhisperSTT, utterance) -> None:
    text, audio = utterance
    await stt.transcribe(audio)  # warm
    runs = []
    for _ in range(2):
        t0 = time.perf_counter()
        result = await stt.transcribe(audio)
        runs.append((time.perf_counter() - t0, result.processing_s))
        assert_good(result, text)
    wall = min(w for w, _ in runs)
    duration = len(audio) / SR
    print(f"\ntiny.en int8 cpu_threads={stt.options.cpu_threads}: {duration:.2f}s utterance in "
          f"{wall:.3f}s wall (worker {min(p for _, p in runs):.3f}s), RTF {wall / duration:.2f}")
    # about 0.07 on two idle cores (the encoder sees a 15 s window, listen/window.py; 0.15 with
    # Whisper's own 30 s); the margin is for CPUs shared with other work
    assert wall / duration < 1.5


# ---------------------------------------------------------------------------- guards (no model)
def seg(text: str, nsp: float = 0.05, lp: float = -0.2, cr: float = 1.0,
        n: int = 8) -> SegmentStats:
    return SegmentStats(text, nsp, lp, cr, n)


def reason(segments, level: float = 0.1, duration: float = 1.5, **opts) -> str | None:
    return judge(segments, level=level, duration_s=duration, opts=SttOptions(**opts))[3]


def test_guards() -> None:
    assert reason([seg(" Turn on the lights.")]) is None
    assert reason([]) == "empty"
    assert reason([seg("")]) == "empty"
    assert reason([seg(" .", nsp=0.95, lp=-1.3)]) == "no_speech"
    assert reason([seg(" You", nsp=0.8, lp=-1.7)]) == "no_speech"
    assert reason([seg(" Hello.", nsp=0.9, lp=-0.3)]) is None  # sure of the words: kept
    assert reason([seg(" Hello.", nsp=0.4, lp=-1.3)]) is None  # speech likely: kept
    assert reason([seg(" [BLANK_AUDIO]")]) == "annotation"
    assert reason([seg(" (music) ♪")]) == "annotation"
    assert reason([seg(" ...")]) == "punctuation"
    assert reason([seg(" I.")]) == "short_token"
    assert reason([seg(" 네")]) is None  # a one-character Korean word is real
    assert reason([seg(" Okay.")], min_words=2) == "too_few_words"
    assert reason([seg(" Okay, thanks.")], min_words=2) is None
    # hallucination phrases: only with corroborating evidence
    assert reason([seg(" Thank you.")]) is None  # clearly spoken
    assert reason([seg(" Thank you.")], level=0.002) == "hallucination_phrase"  # quiet
    assert reason([seg(" Thank you.")], duration=0.2) == "hallucination_phrase"  # too short
    assert reason([seg(" Thanks for watching!", lp=-0.9)]) == "hallucination_phrase"
    assert reason([seg(" you", nsp=0.55)]) == "hallucination_phrase"
    assert reason([seg(" Thank you for your help.", lp=-0.9)]) is None  # not the phrase
    assert reason([seg(" no no no no no no no no no no no", cr=3.0)]) == "repetition"


def test_guard_keeps_speech_segments_and_drops_silent_ones() -> None:
    text, nsp, lp, rejected = judge(
        [seg(" Hello there.", nsp=0.1, lp=-0.2), seg(" you", nsp=0.9, lp=-1.5)],
        level=0.1, duration_s=35.0, opts=SttOptions())
    assert (text, rejected, nsp, lp) == ("Hello there.", None, 0.1, -0.2)
    text, _, _, rejected = judge([seg(" [Music] Hello there.")], level=0.1, duration_s=2.0,
                                 opts=SttOptions())
    assert (text, rejected) == ("Hello there.", None)


def test_prepare_audio() -> None:
    pcm = np.array([0, 16384, -32768, 32767], np.int16)
    out = prepare_audio(pcm)
    assert out.dtype == np.float32 and out.tolist() == pytest.approx([0, 0.5, -1.0, 32767 / 32768])
    assert prepare_audio(np.array([[0.5], [0.25]], np.float64)).tolist() == [0.5, 0.25]
    assert prepare_audio(np.array([1.2, -0.5], np.float32)).tolist() == [1.0, -0.5]  # clipped
    with pytest.raises(ValueError, match="int16"):
        prepare_audio(pcm.astype(np.float32))  # int16-scale samples passed as float
    with pytest.raises(ValueError, match="mono"):
        prepare_audio(np.zeros((2, 100), np.float32))
    with pytest.raises(ValueError):
        prepare_audio(np.zeros(100, np.int32))


# ---------------------------------------------------------------------------- lifecycle (fake)
class FakeModel:
    """Stands in for WhisperModel: a slow decode that yields one lazily-produced segment."""

    model = SimpleNamespace(is_multilingual=True)

    def __init__(self) -> None:
        self.calls = 0

    def transcribe(self, audio, **kw):
        self.calls += 1

        def segments():
            time.sleep(0.2)  # a lazy generator: this runs where it is iterated (the worker)
            yield SimpleNamespace(text=" Hello there.", no_speech_prob=0.1, avg_logprob=-0.2,
                                  compression_ratio=1.0, tokens=[1, 2, 3])

        return segments(), SimpleNamespace(language=kw["language"] or "de")


async def test_fake_model_language_and_aclose() -> None:
    engine = WhisperSTT(SttOptions(language="auto"))
    engine._model = fake = FakeModel()  # skip loading: the lifecycle machinery is under test
    engine._pool()
    speech = white_noise(0.1, 0.5)
    lags: list[float] = []

    async def ticker() -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - t0 - 0.005)

    tick = asyncio.create_task(ticker())
    try:
        t = await engine.transcribe(speech)  # the generator sleeps in the worker, not here
    finally:
        tick.cancel()
    assert (t.text, t.language, t.rejected) == ("Hello there.", "de", None)
    assert max(lags) < 0.1 and len(lags) >= 10
    assert (await engine.transcribe(speech, language="ko-KR")).language == "ko"
    running = asyncio.create_task(engine.transcribe(speech))
    queued = asyncio.create_task(engine.transcribe(speech))
    await asyncio.sleep(0.05)
    await engine.aclose()  # waits for the running call, drops the queued one
    assert (await running).text == "Hello there."
    with pytest.raises(STTError):
        await queued
    with pytest.raises(STTError):
        await engine.transcribe(speech)  # closed: no silent reload
    assert fake.calls == 3
