"""GPTSoVITSEngine against the api_v2 STAND-IN (tests/stand_ins) over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import struct
import time

import httpx
import numpy as np
import pytest

from realtime.engines.tts.base import TTSError
from realtime.engines.tts.sovits import GPTSoVITSEngine, SovitsVoice, check_voice
from realtime.engines.tts.wav_stream import WavStreamDecoder, parse_wav_header
from tests.serving import free_port
from tests.stand_ins.sovits_api_v2 import (
    char_samples,
    create_stand_in,
    expected_samples,
    run_stand_in,
    voice_gain,
    wave_header_chunk,
    write_ref_clip,
)

TEXT = "안녕하세요. 오늘 날씨가 좋네요! 산책 갈까요?"


@pytest.fixture(scope="module")
def refs(tmp_path_factory):
    """Reference clips on the (shared) disk of the stand-in: two good ones, a short one."""
    d = tmp_path_factory.mktemp("refs")
    return {"mina": write_ref_clip(d / "mina.wav", 4.0), "juno": write_ref_clip(d / "juno.wav", 6.0),
            "short": write_ref_clip(d / "short.wav", 2.0)}


@pytest.fixture(scope="module")
def voices(refs):
    return {"mina": SovitsVoice(refs["mina"], prompt_text="안녕", prompt_lang="ko", name="Mina")}


@pytest.fixture(scope="module")
def stand_in():
    app = create_stand_in()
    with run_stand_in(app) as url:
        yield app, url


@pytest.fixture
def make_engine(voices):
    def make(url: str, **kw) -> GPTSoVITSEngine:
        kw.setdefault("voices", voices)
        kw.setdefault("default_voice", "mina")
        return GPTSoVITSEngine(url, **kw)

    return make


async def collect(engine: GPTSoVITSEngine, text: str = TEXT, **kw):
    kw.setdefault("language", "ko")
    chunks, times = [], []
    async for chunk in engine.synthesize(text, **kw):
        chunks.append(chunk)
        times.append(time.monotonic())
    return chunks, times


# --- WAV header parsing ----------------------------------------------------------------------

def _wav_with_list(pcm: np.ndarray, sr: int = 24000) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, sr, sr * 2, 2, 16)
    lst = b"INFOa"  # odd size: padded with one byte
    data = pcm.astype("<i2").tobytes()
    body = (b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"LIST" + struct.pack("<I", len(lst)) + lst + b"\0"
            + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _feed(decoder: WavStreamDecoder, blob: bytes, step: int) -> np.ndarray:
    parts = [decoder.feed(blob[i:i + step]) for i in range(0, len(blob), step)]
    return np.concatenate(parts)


@pytest.mark.parametrize("step", [1, 3, 7, 43, 45])
def test_header_split_across_chunks(step):
    pcm = (np.arange(301) * 97 % 65536 - 32768).astype(np.int16)
    blob = wave_header_chunk(32000) + pcm.tobytes()
    assert parse_wav_header(blob[:43]) is None
    decoder = WavStreamDecoder()
    out = _feed(decoder, blob, step)
    assert decoder.sample_rate == 32000 and decoder.format.data_offset == 44
    assert decoder.format.data_size == 0
    np.testing.assert_array_equal(out, pcm)


@pytest.mark.parametrize("step", [1, 5, 1000])
def test_header_with_list_chunk(step):
    pcm = np.array([1, -2, 300, -32768, 32767], np.int16)
    blob = _wav_with_list(pcm) + b"JUNK\x04\x00\x00\x00abcd"  # trailing chunk after data
    fmt = parse_wav_header(blob)
    assert fmt is not None and fmt.sample_rate == 24000 and fmt.data_offset == 44 + 14
    decoder = WavStreamDecoder(trust_size=True)
    np.testing.assert_array_equal(_feed(decoder, blob, step), pcm)


def test_streaming_ignores_data_size():
    pcm = np.arange(100, dtype=np.int16)
    header = bytearray(wave_header_chunk(16000))
    header[40:44] = struct.pack("<I", 4)  # a bogus size: streaming must not stop after 2 samples
    np.testing.assert_array_equal(_feed(WavStreamDecoder(), bytes(header) + pcm.tobytes(), 50), pcm)


def test_header_rejects_non_wav_and_stereo():
    with pytest.raises(TTSError):
        parse_wav_header(b"<html>")
    stereo = bytearray(wave_header_chunk(32000))
    stereo[22] = 2
    with pytest.raises(TTSError, match="mono 16-bit"):
        WavStreamDecoder().feed(bytes(stereo))


# --- streaming / non-streaming synthesis -----------------------------------------------------

async def test_streaming_synth_length_and_request(stand_in, make_engine, refs):
    app, url = stand_in
    engine = make_engine(url, text_split_method="cut5", streaming_mode=1)
    await engine.start()
    try:
        app.state.requests.clear()
        chunks, _ = await collect(engine, language="KO", speed=1.0)
    finally:
        await engine.aclose()
    assert len(chunks) > 1  # one per sentence fragment
    assert all(c.sample_rate == 32000 and c.pcm.dtype == np.int16 and c.phonemes is None
               for c in chunks)
    assert all(c.pcm.size >= 32000 * 0.04 for c in chunks)
    total = sum(c.pcm.size for c in chunks)
    assert total == expected_samples(TEXT, 32000, text_split_method="cut5")
    assert app.state.requests == [{"method": "POST", "path": "/tts", "json": {
        "text": TEXT, "text_lang": "ko", "ref_audio_path": refs["mina"],
        "prompt_text": "안녕", "prompt_lang": "ko", "text_split_method": "cut5",
        "speed_factor": 1.0, "streaming_mode": 1, "media_type": "wav", "batch_size": 1,
        "parallel_infer": False}}]
    sent = app.state.requests[0]["json"]  # 1 == True and 1 == 1.0 in Python: check JSON types too
    assert type(sent["streaming_mode"]) is int and type(sent["batch_size"]) is int
    assert type(sent["speed_factor"]) is float and sent["parallel_infer"] is False


async def test_chunks_arrive_incrementally(make_engine):
    app = create_stand_in(chunk_delay_s=0.15)
    with run_stand_in(app) as url:
        engine = make_engine(url, text_split_method="cut5")
        await engine.start()
        try:
            chunks, times = await collect(engine)
        finally:
            await engine.aclose()
    assert len(chunks) >= 3
    assert times[-1] - times[0] >= 0.2  # the first chunk came well before the last


async def test_non_streaming_matches_streaming(stand_in, make_engine):
    _, url = stand_in
    pcms = {}
    for mode in (0, 1, 2):
        engine = make_engine(url, text_split_method="cut5", streaming_mode=mode)
        await engine.start()
        try:
            chunks, _ = await collect(engine, language="xx")  # unknown -> "auto"
        finally:
            await engine.aclose()
        assert {c.sample_rate for c in chunks} == {32000}
        pcms[mode] = np.concatenate([c.pcm for c in chunks])
    assert pcms[0].size == expected_samples(TEXT, text_split_method="cut5")
    np.testing.assert_array_equal(pcms[0], pcms[1])
    np.testing.assert_array_equal(pcms[0], pcms[2])


async def test_speed_and_cut0(stand_in, make_engine):
    app, url = stand_in
    engine = make_engine(url)  # cut0: the whole sentence is one fragment
    await engine.start()
    try:
        chunks, _ = await collect(engine, text="Hello world.", language="en", speed=1.5)
    finally:
        await engine.aclose()
    sent = app.state.requests[-1]["json"]
    assert sent["text_lang"] == "en" and sent["speed_factor"] == 1.5
    assert sent["text_split_method"] == "cut0"
    assert sum(c.pcm.size for c in chunks) == expected_samples(  # the pause follows the speed
        "Hello world.", text_split_method="cut0", speed_factor=1.5, fragment_interval=0.2)


# --- errors: what the real api_v2 does, and what the client makes of it ----------------------

@pytest.mark.parametrize("voice, split, message", [
    (SovitsVoice("/r.wav", prompt_lang="ko"), "cut9", "text_split_method:cut9 is not supported"),
    (SovitsVoice("/nowhere/r.wav", prompt_lang="ko"), "cut0",
     "tts failed: /nowhere/r.wav not exists"),
])
async def test_http_400_messages(stand_in, make_engine, voice, split, message):
    _, url = stand_in
    engine = make_engine(url, voices={"v": voice}, default_voice="v", text_split_method=split,
                         streaming_mode=0)
    await engine.start()
    try:
        with pytest.raises(TTSError) as err:
            await collect(engine, text="hi")
    finally:
        await engine.aclose()
    assert str(err.value) == message and err.value.code == "TTS_FAILED"


async def test_wire_errors_before_inference(stand_in, refs):
    """Upstream: a bad reference (missing, out of 3-10 s) or a v3/v4 request without prompt text
    fails before TTS.run's try: 400 in mode 0, but 200 and a dropped connection when streaming."""
    _, url = stand_in
    base = {"text": "hi", "text_lang": "en", "prompt_lang": "en", "prompt_text": "x"}
    async with httpx.AsyncClient(base_url=url) as client:
        for ref, reason in (("/nowhere.wav", "not exists"), (refs["short"], "3-10 second")):
            r = await client.post("/tts", json={**base, "ref_audio_path": ref})
            assert r.status_code == 400 and reason in r.json()["Exception"]
            with pytest.raises(httpx.RemoteProtocolError):
                async with client.stream("POST", "/tts", json={
                        **base, "ref_audio_path": ref, "streaming_mode": 1}) as resp:
                    assert resp.status_code == 200
                    assert await resp.aread() == b""
    with run_stand_in(create_stand_in(version="v3")) as v3:
        async with httpx.AsyncClient(base_url=v3) as client:
            r = await client.post("/tts", json={**base, "prompt_text": "",
                                                "ref_audio_path": refs["mina"]})
            assert r.status_code == 400 and "prompt_text cannot be empty" in r.json()["Exception"]


async def test_streaming_error_before_audio_is_explained(stand_in, make_engine):
    _, url = stand_in
    engine = make_engine(url, voices={"v": SovitsVoice("/nowhere/r.wav", prompt_lang="ko")},
                         default_voice="v")
    await engine.start()
    try:
        with pytest.raises(TTSError) as err:
            await collect(engine, text="hi")
    finally:
        await engine.aclose()
    assert err.value.code == "TTS_FAILED" and "before any audio" in str(err.value)


async def test_mode0_inference_failure_is_not_a_silent_success(stand_in, make_engine, refs):
    """Upstream answers an inference error in mode 0 with HTTP 200 and 1 s of 16 kHz silence."""
    _, url = stand_in
    async with httpx.AsyncClient(base_url=url) as client:
        r = await client.post("/tts", json={"text": "RAISE", "text_lang": "en",
                                            "ref_audio_path": refs["mina"], "prompt_lang": "ko"})
    assert r.status_code == 200 and len(r.content) == 44 + 32000  # what the wire says
    engine = make_engine(url, streaming_mode=0)
    await engine.start()
    try:
        with pytest.raises(TTSError, match="failure placeholder") as err:
            await collect(engine, text="RAISE")
    finally:
        await engine.aclose()
    assert err.value.code == "TTS_FAILED"


@pytest.mark.parametrize("mode", [1, 2, 3])
async def test_streaming_inference_failure_plays_no_silence(stand_in, make_engine, mode):
    """Streaming: upstream sends its 16 kHz placeholder silence, reloads, then breaks the stream.
    None of that silence reaches the listener, and the error says what happened."""
    _, url = stand_in
    engine = make_engine(url, streaming_mode=mode, text_split_method="cut5")
    await engine.start()
    got = []
    try:
        with pytest.raises(TTSError, match="failed while synthesising") as err:
            async for chunk in engine.synthesize("RAISE now.", language="en"):
                got.append(chunk)
    finally:
        await engine.aclose()
    assert err.value.code == "TTS_FAILED" and got == []


async def test_failure_after_audio_keeps_the_audio_but_not_the_placeholder(stand_in, make_engine):
    _, url = stand_in
    engine = make_engine(url, streaming_mode=1, text_split_method="cut5")
    await engine.start()
    got = []
    try:
        with pytest.raises(TTSError, match="failed while synthesising"):
            async for chunk in engine.synthesize("Hello there. RAISE now.", language="en"):
                got.append(chunk)
    finally:
        await engine.aclose()
    audio = np.concatenate([c.pcm for c in got])
    spoken = sum(char_samples(c, 32000) for c in "Hello there.")
    assert audio.size == spoken  # the first fragment, without its gap or the placeholder
    assert {c.sample_rate for c in got} == {32000}


async def test_a_sentence_with_nothing_to_say(stand_in, make_engine):
    """Text the preprocessing empties: streaming modes get an empty 200 body (skipped, no error);
    mode 0 gets the placeholder (reported: mode 0 cannot tell it from a failure)."""
    _, url = stand_in
    engine = make_engine(url, streaming_mode=1, text_split_method="cut5")
    await engine.start()
    try:
        chunks, _ = await collect(engine, text="... !?")
    finally:
        await engine.aclose()
    assert chunks == []
    engine = make_engine(url, streaming_mode=0, text_split_method="cut5")
    await engine.start()
    try:
        with pytest.raises(TTSError, match="placeholder"):
            await collect(engine, text="... !?")
    finally:
        await engine.aclose()


async def test_stream_without_audio_is_an_error(make_engine):
    header_only = httpx.MockTransport(
        lambda req: httpx.Response(200, content=wave_header_chunk(32000)))
    async with httpx.AsyncClient(transport=header_only) as client:
        engine = make_engine("http://sovits", client=client)
        await engine.start()
        with pytest.raises(TTSError, match="no audio"):
            await collect(engine)
        await engine.aclose()
        assert not client.is_closed  # an injected client is not ours to close


async def test_server_down_and_health(make_engine):
    engine = make_engine(f"http://127.0.0.1:{free_port()}")
    await engine.start()
    try:
        with pytest.raises(TTSError) as err:
            await collect(engine)
        assert err.value.code == "SERVICE_UNAVAILABLE"
        assert await engine.health() is False
    finally:
        await engine.aclose()


async def test_health_up(stand_in, make_engine):
    app, url = stand_in
    engine = make_engine(url)
    assert await engine.health() is True  # works before start() too
    assert app.state.requests[-1] == {"method": "GET", "path": "/control", "query": {}}


async def test_health_while_a_mode0_request_blocks_the_server(make_engine):
    """Mode 0 runs upstream's synthesis on its event loop: /control waits. Our own request in
    flight is proof enough that it is up."""
    app = create_stand_in(chunk_delay_s=1.0)
    with run_stand_in(app) as url:
        engine = make_engine(url, streaming_mode=0)
        await engine.start()
        try:
            task = asyncio.create_task(collect(engine, text="Hello world.", language="en"))
            while not app.state.active:
                await asyncio.sleep(0.01)
            t0 = time.monotonic()
            assert await engine.health() is True
            assert time.monotonic() - t0 < 0.5
            await task
        finally:
            await engine.aclose()


async def test_timeout_is_service_unavailable(make_engine):
    with run_stand_in(create_stand_in(chunk_delay_s=2.0)) as url:
        engine = make_engine(url, timeout_s=0.3)
        await engine.start()
        try:
            with pytest.raises(TTSError) as err:
                await collect(engine)
        finally:
            await engine.aclose()
    assert err.value.code == "SERVICE_UNAVAILABLE"


# --- one pipeline per server ------------------------------------------------------------------

@pytest.mark.parametrize("concurrency", [1, 2])
async def test_requests_to_one_server_are_serialised(make_engine, voices, refs, concurrency):
    """Upstream shares one prompt cache across requests: two voices at once corrupt each other
    (the stand-in shows it as the wrong voice's loudness). One request at a time (the default)
    keeps every chunk in its own voice; 2 reproduces the corruption."""
    app = create_stand_in(chunk_delay_s=0.03)
    juno = SovitsVoice(refs["juno"], prompt_text="반가워", prompt_lang="ko", name="Juno")
    with run_stand_in(app) as url:
        engine = make_engine(url, voices={**voices, "juno": juno}, text_split_method="cut5",
                             max_concurrency=concurrency)
        await engine.start()
        try:
            await asyncio.gather(collect(engine, voice="mina"), collect(engine, voice="juno"))
        finally:
            await engine.aclose()
    own = {r["json"]["ref_audio_path"]: voice_gain(r["json"]["ref_audio_path"])
           for r in app.state.requests}
    assert len(set(own.values())) == 2  # the two voices are told apart
    rendered = [set(g) for g in app.state.rendered]
    if concurrency == 1:
        assert app.state.max_active == 1
        assert sorted(map(sorted, rendered)) == sorted([[g] for g in own.values()])
    else:
        assert app.state.max_active == 2
        assert any(len(g) > 1 for g in rendered), "no request mixed voices: overlap not shown"


# --- voices: versions, binding, validation ----------------------------------------------------

def test_voices_and_supports(make_engine, refs):
    engine = make_engine("http://x")
    (v,) = engine.voices()
    assert (v.id, v.name, v.language, v.engine) == ("gpt_sovits:mina", "Mina", "ko", "gpt_sovits")
    assert engine.supports("ko") and engine.supports("yue") and not engine.supports("de")
    v1 = make_engine("http://x", version="v1",
                     voices={"e": SovitsVoice(refs["mina"], prompt_text="hi", prompt_lang="en")},
                     default_voice="e")
    assert v1.supports("en") and not v1.supports("ko")  # v1 models have no Korean


def test_voice_rules_by_version(refs):
    ok = SovitsVoice(refs["mina"], prompt_text="안녕", prompt_lang="ko")
    check_voice(ok, "v2")
    with pytest.raises(ValueError, match="not supported by GPT-SoVITS v1"):
        check_voice(ok, "v1")
    with pytest.raises(ValueError, match="need the reference clip's transcript"):
        check_voice(SovitsVoice(refs["mina"], prompt_text="", prompt_lang="ko"), "v4")
    with pytest.raises(ValueError, match="2.0 s"):
        check_voice(SovitsVoice(refs["short"], prompt_text="a", prompt_lang="ko"), "v2")
    with pytest.raises(ValueError, match="transcript"):  # refused at start, not per request
        GPTSoVITSEngine("http://x", voices={"d": SovitsVoice(refs["mina"], prompt_lang="ko")},
                        default_voice="d", version="v3")


async def test_validate_voice_asks_the_server(stand_in, make_engine, refs):
    _, url = stand_in
    engine = make_engine(url)
    await engine.start()
    try:
        await engine.validate_voice(SovitsVoice(refs["juno"], prompt_text="네", prompt_lang="ko"))
        with pytest.raises(ValueError, match="not exists"):
            await engine.validate_voice(SovitsVoice("/gpu-host/missing.wav", prompt_text="네",
                                                    prompt_lang="ko"))
    finally:
        await engine.aclose()
    down = make_engine(f"http://127.0.0.1:{free_port()}")
    await down.start()
    try:
        with pytest.raises(TTSError) as err:
            await down.validate_voice(SovitsVoice("/gpu-host/a.wav", prompt_text="네"))
        assert err.value.code == "SERVICE_UNAVAILABLE"
    finally:
        await down.aclose()


# --- the stand-in itself matches the documented api_v2 wire format ---------------------------

async def test_stand_in_wire_format(stand_in, refs):
    _, url = stand_in
    good = {"text": "hi", "text_lang": "en", "ref_audio_path": refs["mina"], "prompt_lang": "en"}
    async with httpx.AsyncClient(base_url=url) as client:
        r = await client.post("/tts", json={"text": "hi"})
        assert (r.status_code, r.json()) == (400, {"message": "ref_audio_path is required"})
        r = await client.post("/tts", json={**good, "streaming_mode": 7})
        assert r.status_code == 400 and r.json()["message"].startswith("the value of streaming")
        r = await client.post("/tts", json={**good, "streaming_mode": True})
        assert r.headers["content-type"] == "audio/wav"
        assert r.content[:44] == (b"RIFF$\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\0}\0\0\0\xfa\0\0"
                                  b"\x02\0\x10\0data\0\0\0\0")
        r = await client.get("/tts", params={"text": "hi", "ref_audio_path": "/r"})
        assert r.status_code == 500
        r = await client.get("/set_refer_audio", params={"refer_audio_path": refs["mina"]})
        assert r.json() == {"message": "success"}
        r = await client.get("/set_refer_audio", params={"refer_audio_path": refs["short"]})
        assert r.status_code == 400 and "3-10 second" in r.json()["Exception"]


async def test_character_voice_is_bound_per_use_and_released(stand_in, make_engine, refs):
    """A character's own reference clip reaches GPT-SoVITS while in use, is not listed among
    the shared voices, and is released afterwards (no unbounded registry)."""
    from realtime.characters import Character
    from realtime.engines.tts.router import TTSRouter

    app, url = stand_in
    engine = make_engine(url)
    router = TTSRouter([engine])
    await router.start()
    try:
        juno = Character(id="juno1", name="Juno", language="ko", voice={
            "engine": "gpt_sovits", "ref_audio_path": refs["juno"],
            "prompt_text": "반가워요", "prompt_lang": "ko"})
        voice = router.bind_character_voice(juno)
        assert voice == "gpt_sovits:char-juno1"
        assert voice not in router.voice_ids()  # private: listed to its owner only
        picked, local = router.pick("ko", voice)
        app.state.requests.clear()
        async for _ in picked.synthesize("좋아요.", language="ko", voice=local):
            pass
        sent = app.state.requests[0]["json"]
        assert (sent["ref_audio_path"], sent["prompt_text"], sent["prompt_lang"]) == (
            refs["juno"], "반가워요", "ko")
        assert router.bind_character_voice(juno) == voice and engine.bound == 1
        router.release_voice(voice)
        assert engine.bound == 1  # still held by the first user
        router.release_voice(voice)
        assert engine.bound == 0
        with pytest.raises(TTSError):
            async for _ in picked.synthesize("좋아요.", language="ko", voice=local):
                pass
        plain = Character(id="p", name="P", voice={"voice_id": "nope:none"})
        assert router.bind_character_voice(plain) is None  # unknown here: default voice
    finally:
        await router.aclose()


async def test_a_cut_response_stops_asking_for_more(make_engine, tmp_path):
    """A response cut mid-answer closes its stream and asks GPT-SoVITS for no later sentence
    (upstream itself finishes the step it is computing: it has no stop on disconnect)."""
    from realtime.config import Settings
    from realtime.engines.tts.router import TTSRouter
    from realtime.pipeline.floor import Floor
    from realtime.pipeline.response import Response, TurnSpec
    from realtime.pipeline.turn import TurnEngine
    from tests.races import LogSink

    app = create_stand_in(chunk_delay_s=0.05)
    sentences = [f"Sentence number {n} is here." for n in range(8)]
    with run_stand_in(app) as url:
        engine = make_engine(url, text_split_method="cut5", streaming_mode=2)
        router = TTSRouter([engine])
        await router.start()
        try:
            settings = Settings(_env_file=None, storage_dir=tmp_path)
            sink = LogSink()
            floor = Floor(TurnEngine(settings, None, router), sink, rate=24000)
            resp = floor.start(Response(TurnSpec(
                response_id=1, messages=[], model="", temperature=0, max_tokens=0,
                language="en", voice=None, tts_enabled=True, speak_sentences=sentences,
                source="speak")))
            while not any(e[0] == "audio" for e in sink.log):
                await asyncio.sleep(0.01)
            assert await floor.interrupt(resp, "cancel")
            asked = len(app.state.requests)
            assert asked <= 2 < len(sentences)
            deadline = time.monotonic() + 3
            while app.state.disconnects < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert app.state.disconnects >= 1 and app.state.streams_completed == 0
            # the response has ended and nothing of it runs: no request can follow (its task
            # returns right after response.done; on a loaded machine that can take a moment)
            await asyncio.wait({resp.task}, timeout=5)
            assert resp.task.done() and resp.finished.is_set() and engine._busy == 0
            assert len(app.state.requests) == asked
        finally:
            await router.aclose()
