"""Microphone input limits and the playback/heard-text model: bad frames get coded errors, the
session survives, memory stays bounded."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import orjson
import pytest

from realtime.pipeline.response import Response, SentenceRecord, TurnSpec
from realtime.sinks import CollectSink
from tests.wsclient import Client

SR = 16000


def spec(**kw) -> TurnSpec:
    base = dict(response_id=1, messages=[], model="m", temperature=0.0, max_tokens=10,
                language="en", voice=None, tts_enabled=True)
    base.update(kw)
    return TurnSpec(**base)


# ------------------------------------------------------------------------------ over /ws
@pytest.mark.slow
async def test_bad_microphone_frames_get_coded_errors_and_the_session_survives(live):
    c = await Client.connect(live.ws)
    cases = [
        (b"\x00" * 641, "INVALID_AUDIO_FRAME"),  # odd byte count
        (b"\x00" * 300, "INVALID_AUDIO_FRAME"),  # 9.4 ms: under 10 ms
        (b"\x00" * 3202, "AUDIO_FRAME_TOO_LARGE"),  # 100.06 ms
        (b"\x00" * 64000, "AUDIO_FRAME_TOO_LARGE"),  # 2 s in one frame
        (orjson.dumps({"type": "input.text", "text": "hello there, how are you doing today?"})
         + b" " * 600, "INVALID_AUDIO_FRAME"),  # JSON sent as binary
    ]
    for data, code in cases:
        await c.ws.send(data)
        err = await c.expect("error", timeout=10)
        assert err["code"] == code, (len(data), err)
        assert err["message"]
    assert c.ready["session"]["input_languages"] == ["en"]  # the embedded tiny.en
    await c.send({"type": "session.update", "character_id": "haneul"})
    cfg = (await c.expect("session.updated"))["session"]
    # a Korean conversation is heard by the multilingual model: every language
    assert cfg["language"] == "ko" and cfg["input_languages"] == ["*"]
    for bad in (22050, 8000, 44100):
        await c.send({"type": "session.update", "input_sample_rate": bad})
        assert (await c.expect("error"))["code"] == "UNSUPPORTED_SAMPLE_RATE"
    await c.send({"type": "session.update", "turn_detection": "sometimes"})
    assert (await c.expect("error"))["code"] == "VALIDATION_ERROR"
    # 48 kHz: 100 ms is 9600 bytes (accepted), 9602 is too large
    await c.send({"type": "session.update", "input_sample_rate": 48000})
    assert (await c.expect("session.updated"))["session"]["input_sample_rate"] == 48000
    await c.ws.send(b"\x00" * 9600)
    await c.ws.send(b"\x00" * 9602)
    assert (await c.expect("error"))["code"] == "AUDIO_FRAME_TOO_LARGE"
    session = live.session(c)
    assert session.mic.received_ms == pytest.approx(100.0)
    await c.send({"type": "ping", "id": 1})
    assert (await c.expect("pong"))["id"] == 1
    await c.close()


@pytest.mark.slow
async def test_audio_faster_than_real_time_is_bounded(live):
    """12 s of audio sent at once: 5 s is accepted, the rest refused with one AUDIO_OVERRUN."""
    c = await Client.connect(live.ws)
    session = live.session(c)
    limit = live.services.settings.voice_max_ahead_ms
    noise = (np.random.default_rng(1).normal(0, 0.003, 12 * SR)).astype(np.float32)
    t0 = time.perf_counter()
    await c.stream_audio(noise, speed=float("inf"))
    burst_ms = (time.perf_counter() - t0) * 1000.0
    await c.send({"type": "ping", "id": "after"})
    await c.expect("pong", timeout=10)
    errors = [e for e in c.backlog if isinstance(e, dict) and e["type"] == "error"]
    assert [e["code"] for e in errors] == ["AUDIO_OVERRUN"]  # once per episode, not per frame
    mic = session.mic
    assert mic.dropped_frames > 0
    # what was accepted is kept: the limit plus what real time allowed during the burst
    assert limit <= mic.received_ms <= limit + burst_ms + 40
    assert mic.frames.queued_ms <= limit
    # the stream slows to real time: frames are accepted again
    await asyncio.sleep(0.6)
    before = mic.received_ms
    await c.stream_audio(np.zeros(SR // 5, np.float32), speed=1.0)
    await c.send({"type": "ping", "id": "again"})
    await c.expect("pong", timeout=10)
    assert mic.received_ms == pytest.approx(before + 200.0)
    # the VAD has processed everything accepted (nothing is stuck)
    for _ in range(100):
        if mic.vad.position_ms >= mic.received_ms - 1:
            break
        await asyncio.sleep(0.05)
    assert mic.vad.position_ms == pytest.approx(mic.received_ms, abs=1.0)
    await c.close()


@pytest.mark.slow
async def test_voice_metrics_are_exported(live):
    text = (await _metrics(live))
    for name in ("avatar_vad_frame_lag_seconds_bucket", "avatar_barge_ins_total",
                 "avatar_audio_frames_dropped_total"):
        assert name in text, name


async def _metrics(live) -> str:
    import httpx

    async with httpx.AsyncClient(base_url=live.url) as http:
        return (await http.get("/metrics")).text


# ------------------------------------------------------------------------------ playback model
def timeline(rate: int = 1000) -> Response:
    """Three sentences of 1 s each on a 1 kHz timeline (1 sample = 1 ms)."""
    r = Response(spec())
    r.rate = rate
    texts = ["One two three four.", "Five six seven eight.", "Nine ten."]
    for i, t in enumerate(texts):
        r.sentences.append(SentenceRecord(i, t, start_sample=i * rate, n_samples=rate))
    r.text_parts = [" ".join(texts)]
    r.samples_sent = 3 * rate
    r.timings.first_audio_sent = 0.0
    return r


def test_heard_text_follows_the_timeline():
    r = timeline()
    for pos, expected in [(0, ""), (500, "One two…"), (1000, "One two three four."),
                          (1600, "One two three four. Five six…"),
                          (3000, "One two three four. Five six seven eight. Nine ten.")]:
        r.stop_ms = pos
        assert r.heard_text() == expected, pos
    r.spec.tts_enabled = False  # read, not heard: kept whole
    r.stop_ms = 0
    assert r.heard_text() == r.text


def test_playback_position_from_marks_and_the_clock():
    r = timeline()
    now = r.t0 + 10.0
    assert r.playback_ms(now, client_marks=False) == 3000  # no marks: played as it arrived
    assert r.playback_ms(r.t0 + 1.25, client_marks=False) == pytest.approx(1250)
    assert r.playback_ms(now, client_marks=True) == 0  # marking client, none for this one yet
    r.played_ms, r.mark_time = 1200.0, now
    assert r.playback_ms(now + 0.3, client_marks=True) == pytest.approx(1500)
    assert r.playback_ms(now + 5.0, client_marks=True) == pytest.approx(2200)  # 1 s at most
    r.mark_time = r.t0 + 1.5
    assert r.still_playing(r.t0 + 2.0, client_marks=True)  # at 1.7 s of 3
    r.played_ms = 3000.0
    assert not r.still_playing(r.t0 + 2.0, client_marks=True)
    r.played_ms = 0.0
    assert not r.still_playing(r.t0 + 60.0, client_marks=True)  # too long ago to be playing


# ------------------------------------------------------------------------------ accept() alone
async def test_leaky_bucket_and_frame_checks_without_a_server():
    from realtime.config import Settings
    from realtime.errors import ProtocolError
    from realtime.listen.hub import VadHub
    from realtime.listen.mic import MicInput
    from realtime.listen.silero import SileroModel

    settings = Settings(_env_file=None, voice_max_ahead_ms=1000)
    hub = VadHub(SileroModel())
    async with asyncio.TaskGroup() as tg:
        session = type("S", (), {"id": "t", "sink": CollectSink(),
                                 "spawn": lambda self, coro, name=None: tg.create_task(coro)})()
        mic = MicInput(session, settings, hub, stt=None)
        frame = np.zeros(320, "<i2").tobytes()  # 20 ms
        t = 100.0
        for _ in range(50):  # 1 s at once: all accepted
            mic.accept(frame, t)
        with pytest.raises(ProtocolError) as exc:
            mic.accept(frame, t)
        assert exc.value.code == "AUDIO_OVERRUN"
        assert mic.accept(frame, t) is None and mic.dropped_frames == 2  # silently, once reported
        async with asyncio.timeout(30):  # a stalled hub fails here instead of hanging CI
            while mic.frames.queued_ms > 0:  # the hub runs the accepted second through the VAD
                await asyncio.sleep(0.005)
            for i in range(1, 200):  # real time afterwards: every frame accepted
                mic.accept(frame, t + 0.5 + i * 0.02)
                while mic.frames.queued_ms > 100:  # let the hub run the VAD
                    await asyncio.sleep(0.005)
        assert mic.dropped_frames == 2
        with pytest.raises(ProtocolError):
            mic.accept(b"\x00" * 3, t)
        mic.close()
    hub.close()
    assert mic.received_ms == pytest.approx(1000 + 199 * 20)


async def test_voice_disabled_is_a_clear_error():
    from realtime.config import Settings
    from realtime.session import Session

    sink = CollectSink()
    async with asyncio.TaskGroup() as tg:
        session = Session(Settings(_env_file=None, voice_enabled=False), None, sink, tg, set())
        assert session.config().voice_input is False
        assert session.config().input_languages == []
        await session.handle_binary_frame(b"\x00" * 640)
        await session.handle_text_frame('{"type": "input.audio.commit"}')
        await session.handle_text_frame('{"type": "session.update", "input_sample_rate": 48000}')
    assert [m.code for m in sink.events] == ["VOICE_DISABLED"] * 3


def test_bulk_histogram_matches_prometheus_histogram():
    """The per-frame lag histogram is fed in bulk; it must expose what a Histogram would."""
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from realtime.metrics import BulkHistogram

    values = [0.0, 0.001, 0.0011, 0.04, 0.0400001, 0.3, 7.0]
    buckets = (0.001, 0.01, 0.04, 0.5, 1.0)
    reg_a, reg_b = CollectorRegistry(), CollectorRegistry()
    a = Histogram("lag_seconds", "doc", registry=reg_a, buckets=buckets)
    b = BulkHistogram("lag_seconds", "doc", buckets)
    reg_b.register(b)
    for v in values:
        a.observe(v)
    b.observe_many(values[:3])
    b.observe_many(np.array(values[3:]))
    def samples(reg) -> dict[str, float]:
        lines = generate_latest(reg).decode().splitlines()
        return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in lines
                                         if not line.startswith("#") and "_created" not in line)}

    a_samples, b_samples = samples(reg_a), samples(reg_b)
    assert a_samples == pytest.approx(b_samples) and len(a_samples) == len(buckets) + 3
    assert b_samples['lag_seconds_bucket{le="0.04"}'] == 4.0
