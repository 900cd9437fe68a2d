"""Voice turns over /ws with real speech (Piper, espeak-ng), real Silero VAD, real Whisper tiny.en,
the real embedded LLM and TTS: audio in 20 ms frames -> VAD events -> transcript -> spoken answer."""

from __future__ import annotations

import asyncio
import re

import httpx
import numpy as np
import pytest
import soxr

from tests.speech import espeak_16k, piper_16k, wer
from tests.wsclient import Client, Frame

pytestmark = pytest.mark.slow

SR = 16000
MAX_WER = 0.25


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


def voiced_span_ms(audio: np.ndarray, level: float = 0.02) -> tuple[float, float]:
    """First and last sample above ``level`` (the ground truth for VAD positions), in ms."""
    idx = np.flatnonzero(np.abs(audio) > level)
    return idx[0] * 1000.0 / SR, idx[-1] * 1000.0 / SR


async def until(c: Client, type_: str, timeout: float = 60.0, **match) -> dict:
    """The next event of ``type_`` whose fields match (earlier events are dropped)."""
    while True:
        item = await c.recv(timeout)
        if isinstance(item, dict) and item["type"] == type_ and all(
                item.get(k) == v for k, v in match.items()):
            return item


# ------------------------------------------------------------------------------ whole turns
async def test_spoken_question_gets_a_spoken_answer_with_visemes(live, piper_voice):
    text = "What is the capital of France?"
    speech = piper_16k(piper_voice, text)
    audio = np.concatenate([silence(0.5), speech, silence(1.2)])
    on_ms, off_ms = voiced_span_ms(audio)
    c = await Client.connect(live.ws)
    assert c.ready["session"]["voice_input"] is True
    assert c.ready["input_sample_rates"] == [16000, 24000, 48000]
    sender = asyncio.create_task(c.stream_audio(audio, speed=1.0))  # real time, 20 ms frames

    started = await c.expect("vad.speech_started", timeout=10)
    assert abs(started["t_ms"] - on_ms) <= 100, (started, on_ms)
    stopped = await c.expect("vad.speech_stopped", timeout=10)
    assert stopped["utterance_id"] == started["utterance_id"] and not stopped["forced"]
    assert abs(stopped["t_ms"] - off_ms) <= 150, (stopped, off_ms)
    final = await c.expect("transcript.final", timeout=30)
    assert final["utterance_id"] == started["utterance_id"]
    assert wer(text, final["text"]) <= MAX_WER, final
    assert final["language"] == "en" and final["stt_ms"] > 0
    assert final["start_ms"] <= on_ms and final["end_ms"] >= off_ms

    turn = await c.collect()
    begin = turn.events("response.started")[0]
    assert begin["source"] == "voice" and begin["utterance_id"] == started["utterance_id"]
    done = turn.done
    assert done["status"] == "completed" and done["text"]
    assert len(turn.audio()) > c.rate * 0.5  # at least half a second of answer
    assert turn.events("response.visemes")
    actions = [a["action"] for a in turn.events("avatar.animation")]
    assert actions[0] == "talk_start" and actions[-1] == "talk_end"
    t = done["timings"]
    # semantic_vad (the default): the end-of-turn model judged the question complete after a
    # short pause, well before the long silence (a fixed 512 ms with server_vad)
    assert final["turn_end"] == stopped["turn_end"] == "smart_turn", (final, stopped)
    s = live.services.settings
    assert t["speech_stopped"] == 0.0
    assert s.smart_turn_silence_ms <= t["endpoint_ms"] < s.smart_turn_max_silence_ms, t
    chain = [t[k] for k in ("speech_stopped", "stt_done", "llm_first_token", "first_sentence",
                            "tts_first_audio", "first_audio_sent")]
    assert chain == sorted(chain), t
    assert t["voice_to_voice_ms"] == pytest.approx(t["endpoint_ms"] + t["first_audio_sent"])
    await sender
    # the turn is in the history the next turn is built from
    session = live.session(c)
    assert (session.history[-2]["role"], session.history[-2]["content"]) == ("user",
                                                                              final["text"])
    # and in the Prometheus histograms
    async with httpx.AsyncClient(base_url=live.url) as http:
        metrics = (await http.get("/metrics")).text
    for stage in ("stt_done", "llm_first_token", "first_audio_sent"):
        pattern = rf'^avatar_voice_stage_seconds_count{{stage="{stage}"}} (\S+)'
        m = re.search(pattern, metrics, re.M)
        assert m and float(m.group(1)) >= 1, stage
    m = re.search(r"^avatar_voice_to_voice_seconds_count (\S+)", metrics, re.M)
    assert m and float(m.group(1)) >= 1
    await c.close()


async def test_two_espeak_utterances_streamed_faster_than_real_time(live):
    """espeak-ng speech at 3x real time: two utterances, two transcripts, in order. (Fixed
    silence: the end-of-turn model finds espeak-ng's robotic prosody unfinished, e.g. 0.1 for
    "What time is it now?", so with semantic_vad these turns would end on the long silence.)"""
    texts = ["Hello, my name is Anna.", "What time is it now?"]
    parts = [(await espeak_16k(t)).astype(np.float32) / 32768.0 for t in texts]
    audio = np.concatenate([silence(0.4), parts[0], silence(1.0), parts[1], silence(1.0)])
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=8,
                             turn_detection="server_vad")
    await c.stream_audio(audio, speed=3.0)
    finals = [await c.expect("transcript.final", timeout=30) for _ in texts]
    assert [f["utterance_id"] for f in finals] == [1, 2]
    for ref, f in zip(texts, finals, strict=True):
        assert wer(ref, f["text"]) <= 0.34, (ref, f)  # espeak-ng is robotic: looser bound
    assert finals[0]["end_ms"] < finals[1]["start_ms"]
    await c.close()


@pytest.mark.parametrize("rate", [24000, 48000])
async def test_24k_and_48k_input_is_resampled(live, piper_voice, rate):
    text = "Please tell me a joke about cats."
    speech16 = piper_16k(piper_voice, text)
    audio16 = np.concatenate([silence(0.5), speech16, silence(1.0)])
    audio = soxr.resample(audio16, SR, rate).astype(np.float32)
    c = await Client.connect(live.ws, input_sample_rate=rate, tts_enabled=False, max_tokens=8)
    assert live.session(c).config().input_sample_rate == rate
    await c.stream_audio(audio, rate=rate, speed=2.0)
    started = await c.expect("vad.speech_started", timeout=10)
    on_ms, _ = voiced_span_ms(audio16)
    # positions stay on the 16 kHz input timeline
    assert abs(started["t_ms"] - on_ms) <= 100, (started, on_ms)
    final = await c.expect("transcript.final", timeout=30)
    assert wer(text, final["text"]) <= MAX_WER, final
    await c.close()


async def test_a_pause_inside_a_sentence_does_not_end_the_turn(live, piper_voice):
    """The speculative transcript started in the pause is dropped when speech resumes."""
    a, b = "I would like to know", "what the weather is like today."
    parts = []
    for text in (a, b):  # Piper pads speech with silence: keep the voiced span only
        x = piper_16k(piper_voice, text)
        on, off = voiced_span_ms(x)
        parts.append(x[int(on * SR / 1000): int(off * SR / 1000) + 1])
    gap = silence(0.3)  # > the 128 ms speculation point, < the 500 ms end of turn
    audio = np.concatenate([silence(0.4), parts[0], gap, parts[1], silence(1.0)])
    # server_vad: the fixed silence rule ("I would like to know." alone is a whole sentence,
    # which the end-of-turn model may rightly call complete; tests/test_smart_turn.py covers it)
    c = await Client.connect(live.ws, turn_detection="server_vad", tts_enabled=False,
                             max_tokens=8)
    await c.stream_audio(audio, speed=2.0)
    final = await c.expect("transcript.final", timeout=30)
    assert wer(f"{a} {b}", final["text"]) <= MAX_WER, final
    events = [i for i in await c.drain(1.0) if isinstance(i, dict)]
    assert not [e for e in events if e["type"].startswith("transcript.")]
    await c.close()


# ------------------------------------------------------------------------------ push-to-talk
async def test_push_to_talk_commit_and_clear(live, piper_voice):
    text_a, text_b = "Good morning.", "How are you today?"
    a, b = piper_16k(piper_voice, text_a), piper_16k(piper_voice, text_b)
    c = await Client.connect(live.ws, turn_detection="manual", tts_enabled=False, max_tokens=8)
    assert live.session(c).config().turn_detection == "manual"

    await c.send({"type": "input.audio.commit"})  # nothing said yet
    assert (await c.expect("error"))["code"] == "AUDIO_BUFFER_EMPTY"

    # a long pause inside one push-to-talk utterance does not end it
    await c.stream_audio(np.concatenate([silence(0.2), a, silence(1.0), b, silence(0.2)]),
                         speed=4.0)
    await c.send({"type": "input.audio.commit"})
    committed = await c.expect("input.audio.committed", timeout=10)
    final = await c.expect("transcript.final", timeout=30)
    assert final["utterance_id"] == committed["utterance_id"]
    assert wer(f"{text_a} {text_b}", final["text"]) <= MAX_WER, final
    await c.expect("response.done", timeout=60)
    c.backlog.clear()

    # clear drops what was said: no transcript follows
    await c.stream_audio(np.concatenate([silence(0.2), a]), speed=4.0)
    await c.send({"type": "input.audio.clear"})
    await c.expect("input.audio.cleared", timeout=10)
    await c.send({"type": "input.audio.commit"})
    assert (await c.expect("error", timeout=10))["code"] == "AUDIO_BUFFER_EMPTY"
    rest = [i for i in await c.drain(1.0) if isinstance(i, dict)]
    assert not [e for e in rest if e["type"] in ("transcript.final", "response.started")]
    await c.close()


async def test_commit_ends_a_turn_without_waiting_for_silence(live, piper_voice):
    text = "Tell me something nice."
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=8)
    await c.stream_audio(np.concatenate([silence(0.3), piper_16k(piper_voice, text)]), speed=4.0)
    await c.send({"type": "input.audio.commit"})
    committed = await c.expect("input.audio.committed", timeout=10)
    final = await c.expect("transcript.final", timeout=30)
    assert final["utterance_id"] == committed["utterance_id"]
    assert wer(text, final["text"]) <= MAX_WER
    done = await c.expect("response.done", timeout=60)
    assert done["timings"]["endpoint_ms"] == 0.0  # the user ended the turn, not the silence
    await c.close()


# ------------------------------------------------------------------------------ not speech
async def test_noise_and_coughs_start_no_turn(live):
    rng = np.random.default_rng(3)
    t = np.arange(int(0.15 * SR)) / SR
    cough = (0.3 * rng.normal(size=len(t)) * np.exp(-t * 20)).astype(np.float32)
    hum = (0.05 * np.sin(2 * np.pi * 50 * np.arange(2 * SR) / SR)).astype(np.float32)
    noise = (0.01 * rng.normal(size=2 * SR)).astype(np.float32)
    audio = np.concatenate([noise, cough, silence(0.5), hum, cough, silence(1.0)])
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=8)
    await c.stream_audio(audio, speed=4.0)
    events = [i for i in await c.drain(1.5) if isinstance(i, dict)]
    assert not [e for e in events if e["type"] in ("transcript.final", "response.started")]

    # forced through STT with push-to-talk, noise is rejected by the hallucination guards
    await c.send({"type": "session.update", "turn_detection": "manual"})
    await c.expect("session.updated")
    await c.stream_audio(noise, speed=8.0)
    await c.send({"type": "input.audio.commit"})
    rejected = await c.expect("transcript.rejected", timeout=30)
    assert rejected["reason"]
    rest = [i for i in await c.drain(1.0) if isinstance(i, dict)]
    assert not [e for e in rest if e["type"] == "response.started"]
    await c.close()


# ------------------------------------------------------------------------------ partials
async def test_partial_transcripts_when_enabled(live, piper_voice, monkeypatch):
    monkeypatch.setattr(live.services.settings, "stt_partial_interval_ms", 400)
    text = "Tell me a short story about a brave little robot who lives on the moon."
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=8)
    await c.stream_audio(np.concatenate([silence(0.3), piper_16k(piper_voice, text), silence(1.0)]))
    final = await c.expect("transcript.final", timeout=30)
    partials = [i for i in c.backlog if isinstance(i, dict) and i["type"] == "transcript.partial"]
    assert partials, "no transcript.partial while speaking"
    assert all(p["utterance_id"] == final["utterance_id"] for p in partials)
    assert len(partials[0]["text"]) <= len(final["text"]) + 5
    await c.close()


def frames_of(items, rid: int) -> list[Frame]:
    return [i for i in items if isinstance(i, Frame) and i.response_id == rid]


async def test_maximum_utterance_length_ends_the_turn(live, piper_voice, monkeypatch):
    """A monologue longer than AVATAR_VAD_MAX_UTTERANCE_S is cut there (forced) and answered."""
    monkeypatch.setattr(live.services.settings, "vad_max_utterance_s", 2.0)
    text = "Tell me a short story about a brave little robot who lives on the moon."
    speech = piper_16k(piper_voice, text)
    assert len(speech) / SR > 3.0
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=8)  # new session: new cap
    await c.stream_audio(np.concatenate([silence(0.3), speech, silence(1.0)]), speed=3.0)
    stopped = await c.expect("vad.speech_stopped", timeout=20)
    assert stopped["forced"] is True
    final = await c.expect("transcript.final", timeout=30)
    assert final["end_ms"] - final["start_ms"] <= 2000.0 + 1.0
    assert final["utterance_id"] == stopped["utterance_id"]
    # the first words are there; the rest of the monologue starts a new utterance
    assert wer("Tell me a short story", " ".join(final["text"].split()[:5])) <= 0.4, final
    await c.close()


async def test_speech_is_routed_by_the_conversation_language(live, piper_voice):
    """One server, two conversations: English speech goes to the fast English-only tiny.en,
    Korean speech to the embedded multilingual Whisper base (told the conversation is Korean).
    (espeak-ng's Korean is too robotic to check the words; the language and the route can be.)"""
    # server_vad: "Good morning." is whole; the end-of-turn model may end the turn there
    en = await Client.connect(live.ws, turn_detection="server_vad", tts_enabled=False,
                              max_tokens=8)
    ko = await Client.connect(live.ws, language="ko", turn_detection="server_vad",
                              tts_enabled=False, max_tokens=8)
    assert en.ready["session"]["input_languages"] == ["en"]
    updated = (await ko.send({"type": "session.update", "language": "ko"}),
               await until(ko, "session.updated"))[1]
    assert updated["session"]["input_languages"] == ["*"]  # it hears every language
    korean = (await espeak_16k("네, 좋아요", "ko")).astype(np.float32) / 32768
    english = piper_16k(piper_voice, "Good morning, how are you?")
    senders = [asyncio.create_task(c.stream_audio(np.concatenate([silence(0.3), a, silence(1.2)]),
                                                  speed=1.0))
               for c, a in ((ko, korean), (en, english))]
    heard_ko = await until(ko, "transcript.final", timeout=60)
    heard_en = await until(en, "transcript.final", timeout=60)
    assert heard_ko["language"] == "ko" and heard_ko["model"] == "base", heard_ko
    assert re.search(r"[가-힣]", heard_ko["text"]), heard_ko
    assert heard_en["language"] == "en" and heard_en["model"] == "tiny.en", heard_en
    assert wer("Good morning, how are you?", heard_en["text"]) <= MAX_WER
    for task in senders:
        await task
    await en.close()
    await ko.close()
