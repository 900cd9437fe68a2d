"""GPTSoVITSEngine against the api_v2 STAND-IN (tests/stand_ins) over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import struct
import time

import httpx
import numpy as np
import pytest

from realtime.engines.tts.base import TTSError
from realtime.engines.tts.sovits import (
    GPTSoVITSEngine,
    SovitsVoice,
    WavStreamDecoder,
    parse_wav_header,
)
from tests.serving import free_port
from tests.stand_ins.sovits_api_v2 import (
    create_stand_in,
    expected_samples,
    run_stand_in,
    wave_header_chunk,
)

TEXT = "안녕하세요. 오늘 날씨가 좋네요! 산책 갈까요?"
VOICES = {"mina": SovitsVoice("/refs/mina.wav", prompt_text="안녕", prompt_lang="ko", name="Mina")}


@pytest.fixture(scope="module")
def stand_in():
    app = create_stand_in()
    with run_stand_in(app) as url:
        yield app, url


def make_engine(url: str, **kw) -> GPTSoVITSEngine:
    kw.setdefault("voices", VOICES)
    kw.setdefault("default_voice", "mina")
    return GPTSoVITSEngine(url, **kw)


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

async def test_streaming_synth_length_and_request(stand_in):
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
        "text": TEXT, "text_lang": "ko", "ref_audio_path": "/refs/mina.wav",
        "prompt_text": "안녕", "prompt_lang": "ko", "text_split_method": "cut5",
        "speed_factor": 1.0, "streaming_mode": 1, "media_type": "wav", "batch_size": 1,
        "parallel_infer": False}}]
    sent = app.state.requests[0]["json"]  # 1 == True and 1 == 1.0 in Python: check JSON types too
    assert type(sent["streaming_mode"]) is int and type(sent["batch_size"]) is int
    assert type(sent["speed_factor"]) is float and sent["parallel_infer"] is False


async def test_chunks_arrive_incrementally():
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


async def test_non_streaming_matches_streaming(stand_in):
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


async def test_speed_and_cut0(stand_in):
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


# --- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("voice, split, text, mode, message", [
    (SovitsVoice(""), "cut0", "hi", 1, "ref_audio_path is required"),
    (SovitsVoice("/r.wav", prompt_lang="xx"), "cut0", "hi", 1,
     "prompt_lang: xx is not supported in version v2"),
    (SovitsVoice("/r.wav"), "cut9", "hi", 1, "text_split_method:cut9 is not supported"),
    (SovitsVoice("/r.wav"), "cut0", "RAISE", 0,
     "tts failed: stand-in: simulated inference failure"),
])
async def test_http_400_messages(stand_in, voice, split, text, mode, message):
    _, url = stand_in
    engine = make_engine(url, voices={"v": voice}, default_voice="v", text_split_method=split,
                         streaming_mode=mode)
    await engine.start()
    try:
        with pytest.raises(TTSError) as err:
            await collect(engine, text=text)
    finally:
        await engine.aclose()
    assert str(err.value) == message and err.value.code == "TTS_FAILED"


async def test_streaming_failure_after_200(stand_in):
    _, url = stand_in
    engine = make_engine(url)
    await engine.start()
    try:
        with pytest.raises(TTSError) as err:
            await collect(engine, text="RAISE")
    finally:
        await engine.aclose()
    assert err.value.code == "TTS_FAILED"


async def test_stream_without_audio_is_an_error():
    header_only = httpx.MockTransport(
        lambda req: httpx.Response(200, content=wave_header_chunk(32000)))
    async with httpx.AsyncClient(transport=header_only) as client:
        engine = make_engine("http://sovits", client=client)
        await engine.start()
        with pytest.raises(TTSError, match="no audio"):
            await collect(engine)
        await engine.aclose()
        assert not client.is_closed  # an injected client is not ours to close


async def test_server_down_and_health():
    engine = make_engine(f"http://127.0.0.1:{free_port()}")
    await engine.start()
    try:
        with pytest.raises(TTSError) as err:
            await collect(engine)
        assert err.value.code == "SERVICE_UNAVAILABLE"
        assert await engine.health() is False
    finally:
        await engine.aclose()


async def test_health_up(stand_in):
    app, url = stand_in
    engine = make_engine(url)
    assert await engine.health() is True  # works before start() too
    assert app.state.requests[-1] == {"method": "GET", "path": "/control", "query": {}}


async def test_timeout_is_service_unavailable():
    with run_stand_in(create_stand_in(chunk_delay_s=2.0)) as url:
        engine = make_engine(url, timeout_s=0.3)
        await engine.start()
        try:
            with pytest.raises(TTSError) as err:
                await collect(engine)
        finally:
            await engine.aclose()
    assert err.value.code == "SERVICE_UNAVAILABLE"


async def test_early_close_disconnects_the_stream():
    app = create_stand_in(chunk_delay_s=0.2)
    text = "하나. 둘. 셋. 넷. 다섯. 여섯. 일곱. 여덟."
    with run_stand_in(app) as url:
        engine = make_engine(url, text_split_method="cut5")
        await engine.start()
        try:
            gen = engine.synthesize(text, language="ko")
            first = await gen.__anext__()
            assert first.pcm.size > 0
            await gen.aclose()
            deadline = time.monotonic() + 5
            while app.state.disconnects == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await engine.aclose()
        assert app.state.disconnects == 1
        assert app.state.streams_completed == 0
        assert app.state.chunks_sent < 8


# --- the stand-in itself matches the documented api_v2 wire format ---------------------------

async def test_stand_in_wire_format(stand_in):
    _, url = stand_in
    good = {"text": "hi", "text_lang": "en", "ref_audio_path": "/r.wav", "prompt_lang": "en"}
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
        r = await client.get("/set_refer_audio", params={"refer_audio_path": "/r.wav"})
        assert r.json() == {"message": "success"}


def test_voices_and_supports():
    engine = make_engine("http://x")
    (v,) = engine.voices()
    assert (v.id, v.name, v.language, v.engine) == ("mina", "Mina", "ko", "gpt_sovits")
    assert engine.supports("ko") and engine.supports("yue") and not engine.supports("de")


async def test_character_reference_voice_reaches_gpt_sovits(stand_in):
    """A character's GPT-SoVITS binding (its own reference clip) is what the request carries."""
    from realtime.characters import Character
    from realtime.engines.tts.router import TTSRouter

    app, url = stand_in
    engine = make_engine(url)
    router = TTSRouter([engine])
    await router.start()
    try:
        juno = Character(id="juno1", name="Juno", language="ko", voice={
            "engine": "gpt_sovits", "ref_audio_path": "/refs/juno.wav",
            "prompt_text": "반가워요", "prompt_lang": "ko"})
        voice = router.bind_character_voice(juno)
        assert voice == "gpt_sovits:char-juno1"
        picked, local = router.pick("ko", voice)
        app.state.requests.clear()
        async for _ in picked.synthesize("좋아요.", language="ko", voice=local):
            pass
        sent = app.state.requests[0]["json"]
        assert (sent["ref_audio_path"], sent["prompt_text"], sent["prompt_lang"]) == (
            "/refs/juno.wav", "반가워요", "ko")
        plain = Character(id="p", name="P", voice={"voice_id": "nope:none"})
        assert router.bind_character_voice(plain) is None  # unknown here: default voice
    finally:
        await router.aclose()
