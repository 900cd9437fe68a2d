"""End to end over a real WebSocket: real llama.cpp (SmolLM2), real Piper, real espeak-ng."""

from __future__ import annotations

import numpy as np
import pytest

from tests.wsclient import Client, Frame, Turn

pytestmark = pytest.mark.slow

STAGES = ["received", "llm_first_token", "first_sentence", "tts_first_audio",
          "first_audio_sent", "done"]


def check_audio_stream(turn: Turn, rate: int, max_chunk_ms: int = 200) -> np.ndarray:
    frames = turn.frames
    assert frames, "no audio"
    offset = 0
    for i, f in enumerate(frames):
        assert (f.kind, f.version, f.response_id) == (1, 1, turn.response_id)
        assert f.chunk_index == i
        assert f.sample_offset == offset, "sample_offset must be the position on the timeline"
        assert 0 < len(f.pcm) <= rate * max_chunk_ms // 1000
        offset += len(f.pcm)
    audio = turn.audio()
    done = turn.events("response.audio.done")[0]
    assert done["total_samples"] == len(audio)
    assert abs(done["duration_ms"] - len(audio) * 1000 / rate) < 1.0
    return audio


def check_visemes(turn: Turn, duration_ms: float) -> list[dict]:
    visemes = [v for e in turn.events("response.visemes") for v in e["visemes"]]
    assert visemes, "no visemes"
    prev_end = 0.0
    for v in visemes:
        assert v["t_ms"] >= prev_end - 0.2, "visemes must be monotonic, not overlapping"
        assert v["duration_ms"] > 0 and 0 <= v["weight"] <= 1
        prev_end = v["t_ms"] + v["duration_ms"]
    assert prev_end <= duration_ms + 0.5, "visemes must lie inside the audio"
    assert {v["viseme"] for v in visemes} & {"aa", "E", "ih", "oh", "ou"}, "no vowels"
    return visemes


async def test_typed_turn_streams_text_audio_visemes_and_animation(live):
    c = await Client.connect(live.ws)
    assert c.ready["protocol_version"] == 1 and c.ready["session"]["character_id"] == "mina"
    turn = await c.turn("Hi Mina! Tell me about your town.")
    kinds = [i["type"] if isinstance(i, dict) else "audio" for i in turn.items]
    assert kinds[0] == "response.started" and turn.response_id == 1

    done = turn.done
    assert done["status"] == "completed", done
    deltas = "".join(e["delta"] for e in turn.events("response.text.delta"))
    sentences = turn.events("response.sentence")
    assert sentences and [s["index"] for s in sentences] == list(range(len(sentences)))
    assert "".join(s["text"] for s in sentences) == deltas, "sentences must cover the text"
    assert done["text"] == deltas.strip() and done["text"]

    audio = check_audio_stream(turn, c.rate)
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 300, "audio is silent"
    duration_ms = len(audio) * 1000 / c.rate
    check_visemes(turn, duration_ms)

    anims = turn.events("avatar.animation")
    start = next(a for a in anims if a["action"] == "talk_start")
    end = next(a for a in anims if a["action"] == "talk_end")
    first_frame = turn.index(lambda i: isinstance(i, Frame))
    last_frame = max(k for k, i in enumerate(turn.items) if isinstance(i, Frame))
    assert turn.items.index(start) < first_frame and start["t_ms"] == 0
    assert turn.items.index(end) > last_frame
    assert end["t_ms"] == pytest.approx(duration_ms, abs=0.1)

    t = done["timings"]
    values = [t[s] for s in STAGES]
    assert all(v is not None for v in values), t
    assert values == sorted(values), f"stages out of order: {t}"
    assert t["overhead_ms"] is not None and t["llm_wait_ms"] > 0 and t["tts_first_ms"] > 0
    assert done["usage"]["completion_tokens"] > 0

    # The audio is what the sentences say: compare with Piper run directly on them.
    piper = live.services.tts.engines[0]
    direct = 0
    for s in sentences:
        async for chunk in piper.synthesize(s["text"].strip(), language="en"):
            direct += len(chunk.pcm) * c.rate / chunk.sample_rate
    assert 0.75 < len(audio) / direct < 1.33, (len(audio), direct)
    await c.close()


async def test_history_carries_into_next_turn(live):
    c = await Client.connect(live.ws)
    t1 = await c.turn("My name is Alice.")
    t2 = await c.turn("Hello again.")
    assert t1.response_id == 1 and t2.response_id == 2  # integers, increasing per session
    session = live.session(c)
    roles = [m["role"] for m in session.history]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert session.history[0]["content"] == "My name is Alice."
    assert session.history[1]["content"] == t1.done["text"]
    await c.close()


async def test_cancel_mid_response_stops_audio(live):
    c = await Client.connect(live.ws, max_tokens=300)
    await c.send({"type": "input.text",
                  "text": "Tell me a long story about a dragon and a baker, with many details."})
    started = await c.expect("response.started")
    rid = started["response_id"]
    while not isinstance(item := await c.recv(), Frame):
        pass
    await c.send({"type": "response.cancel"})
    rest = Turn(rid, [item])
    while True:
        item = await c.recv()
        rest.items.append(item)
        if isinstance(item, dict) and item["type"] == "response.done":
            break
    assert item["status"] == "interrupted"
    done_at = len(rest.items) - 1
    assert any(isinstance(i, dict) and i.get("action") == "talk_end" for i in rest.items)
    late = await c.drain(0.5)
    assert not [i for i in late if isinstance(i, Frame)], "audio after response.done"
    assert all(not isinstance(i, Frame) for i in rest.items[done_at:])
    # The session is still usable.
    await c.send({"type": "ping", "id": 7})
    assert (await c.expect("pong"))["id"] == 7
    await c.close()


async def test_tts_off_on_click_and_speak(live):
    c = await Client.connect(live.ws, tts_mode="on_click")
    turn = await c.turn("Say hello.")
    assert turn.done["status"] == "completed" and not turn.frames
    assert not turn.events("response.visemes")
    await c.send({"type": "response.speak", "response_id": turn.response_id})
    spoken = await c.collect()
    assert spoken.response_id == turn.response_id + 1
    assert spoken.events("response.started")[0]["source"] == "speak"
    check_audio_stream(spoken, c.rate)
    assert spoken.done["text"] == turn.done["text"]

    await c.send({"type": "session.update", "tts_enabled": False, "tts_mode": "realtime"})
    await c.expect("session.updated")
    quiet = await c.turn("And again.")
    assert quiet.done["status"] == "completed" and not quiet.frames
    await c.close()


async def test_delayed_mode_sends_audio_after_text(live):
    c = await Client.connect(live.ws, tts_mode="delayed", tts_delay_ms=100)
    turn = await c.turn("What is your favourite food?")
    first_audio = turn.index(lambda i: isinstance(i, Frame))
    last_delta = max(k for k, i in enumerate(turn.items)
                     if isinstance(i, dict) and i["type"] == "response.text.delta")
    assert first_audio > last_delta
    await c.close()


async def test_korean_session_speaks_with_espeak(live):
    c = await Client.connect(live.ws, character_id="haneul")
    session = live.session(c)
    assert session.language == "ko" and "당신은 하늘입니다." in session.system_prompt()
    turn = await c.turn("안녕하세요! 오늘 기분이 어때요?")
    assert turn.done["status"] == "completed"
    engine, _ = live.services.tts.pick("ko")
    assert engine.name == "espeak"
    audio = check_audio_stream(turn, c.rate)
    check_visemes(turn, len(audio) * 1000 / c.rate)
    await c.close()


async def test_spoken_length_cap(live):
    settings = live.services.engine.settings
    old = settings.tts_max_speech_s
    settings.tts_max_speech_s = 1.0
    try:
        c = await Client.connect(live.ws, max_tokens=120)
        turn = await c.turn("Describe the sea in three long sentences.")
        audio_done = turn.events("response.audio.done")[0]
        assert audio_done["truncated"] is True
        assert len(turn.audio()) <= c.rate * 1.0
        assert turn.done["status"] == "completed"
        await c.close()
    finally:
        settings.tts_max_speech_s = old


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def test_memory_stays_flat_over_a_long_session(live):
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=6)
    session = live.session(c)
    for i in range(10):
        assert (await c.turn(f"Message {i}")).done["status"] == "completed"
    base = _rss_mb()
    for i in range(40):
        await c.turn(f"Another message {i}")
    grown = _rss_mb() - base
    assert len(session.responses) <= session.KEEP_RESPONSES
    assert grown < 20, f"RSS grew {grown:.1f} MB over 40 turns"
    await c.close()
