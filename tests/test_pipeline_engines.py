"""The turn pipeline with other engines and inputs.

- GPT-SoVITS through the whole /ws turn: a STAND-IN api_v2 server (tests/stand_ins) speaks the
  upstream wire protocol; the real GPU model cannot run here. The LLM is the real embedded one.
- Emotion tags: the turn engine fed by a scripted LLM (a test double of the ``LLM`` seam, so the
  token stream is known exactly) and the real Piper engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from realtime.app import create_app
from realtime.engines.llm.base import LLM, ChatRequest, StreamStats
from realtime.engines.tts.router import TTSRouter
from realtime.pipeline.response import Response, TurnSpec
from realtime.pipeline.turn import TurnEngine
from realtime.services import Services
from realtime.sinks import CollectSink
from tests.conftest import embedded_settings, serve, ws_url
from tests.stand_ins.sovits_api_v2 import create_stand_in, run_stand_in, write_ref_clip
from tests.test_ws_e2e import check_audio_stream, check_visemes
from tests.wsclient import Client

pytestmark = pytest.mark.slow


async def test_gpt_sovits_turn_streams_audio_with_fitted_visemes(live, tmp_path):
    stand_in = create_stand_in(sample_rate=32000, chunk_delay_s=0.01)
    ref = write_ref_clip(tmp_path / "mina.wav", 5.0)
    with run_stand_in(app=stand_in) as sovits_url:
        settings = embedded_settings(
            tmp_path, llm_base_url=live.services.llama.base_url, tts_engine="gpt_sovits",
            tts_sovits_url=sovits_url, tts_sovits_ref_audio_path=ref,
            tts_sovits_prompt_text="안녕하세요", tts_sovits_prompt_lang="ko")
        app = create_app(settings)
        with serve(app) as url:
            engine, _ = app.state.services.tts.pick("en")
            assert engine.name == "gpt_sovits"
            c = await Client.connect(ws_url(url), max_tokens=40)
            turn = await c.turn("Hello! Where do you live?")
            assert turn.done["status"] == "completed", turn.done
            audio = check_audio_stream(turn, c.rate)  # resampled 32 kHz -> 24 kHz
            duration = len(audio) * 1000 / c.rate
            visemes = check_visemes(turn, duration)
            # alignment-less: fitted visemes follow each sentence's audio
            first_vis = turn.index(lambda i: isinstance(i, dict)
                                   and i["type"] == "response.visemes")
            first_audio = turn.index(lambda i: not isinstance(i, dict))
            assert first_audio < first_vis
            assert visemes[-1]["t_ms"] + visemes[-1]["duration_ms"] <= duration + 0.5
            sent = [r["json"] for r in stand_in.state.requests if r["path"] == "/tts"]
            assert sent and sent[0]["ref_audio_path"] == ref
            assert sent[0]["text_lang"] == "en" and sent[0]["prompt_text"] == "안녕하세요"
            assert sent[0]["media_type"] == "wav" and sent[0]["streaming_mode"] == 1
            await c.close()


async def test_gpt_sovits_character_voices_are_checked_private_and_released(live, tmp_path):
    """A character's GPT-SoVITS voice: checked with the server when saved (a 2 s clip is
    refused), listed to its owner only, used by the owner's session, released after it."""
    import httpx

    from realtime.auth import mint

    secret = "a-test-secret-that-is-long-enough-0123456789"
    good = write_ref_clip(tmp_path / "juno.wav", 5.0)
    short = write_ref_clip(tmp_path / "short.wav", 2.0)
    default = write_ref_clip(tmp_path / "default.wav", 4.0)
    stand_in = create_stand_in(sample_rate=32000)
    with run_stand_in(app=stand_in) as sovits_url:
        settings = embedded_settings(
            tmp_path, llm_base_url=live.services.llama.base_url, tts_engine="gpt_sovits",
            tts_sovits_url=sovits_url, tts_sovits_ref_audio_path=default,
            tts_sovits_prompt_text="안녕하세요", voice_enabled=False, auth_mode="token",
            auth_secret=secret)
        app = create_app(settings)
        alice, bob = mint(secret, "alice", 600), mint(secret, "bob", 600)
        with serve(app) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                def voice(ref):
                    return {"name": "Juno", "language": "en", "voice": {
                        "engine": "gpt_sovits", "ref_audio_path": ref, "prompt_text": "Hello.",
                        "prompt_lang": "en"}}

                auth = {"authorization": f"Bearer {alice}"}
                r = await http.post("/api/characters", json=voice(short), headers=auth)
                assert r.status_code == 400 and "2.0 s" in r.json()["error"]["message"]
                r = await http.post("/api/characters", json=voice("/gpu-host/none.wav"),
                                    headers=auth)
                assert r.status_code == 400 and "not exists" in r.json()["error"]["message"]
                r = await http.post("/api/characters", json=voice(good), headers=auth)
                assert r.status_code == 201, r.text
                cid = r.json()["data"]["id"]
                mine = {v["id"] for v in (await http.get(
                    "/api/tts/voices", headers=auth)).json()["data"]["voices"]}
                theirs = {v["id"] for v in (await http.get("/api/tts/voices", headers={
                    "authorization": f"Bearer {bob}"})).json()["data"]["voices"]}
                assert f"gpt_sovits:char-{cid}" in mine and "gpt_sovits:default" in mine
                assert theirs == mine - {f"gpt_sovits:char-{cid}"}
            engine, _ = app.state.services.tts.pick("en")
            c = await Client.connect(ws_url(url) + f"?token={alice}", character_id=cid,
                                     max_tokens=20)
            assert engine.bound == 1
            turn = await c.turn("Hello!")
            assert turn.done["status"] == "completed"
            sent = [r["json"] for r in stand_in.state.requests if r["path"] == "/tts"]
            assert sent[-1]["ref_audio_path"] == good
            await c.close()
            for _ in range(100):
                if engine.bound == 0:
                    break
                await asyncio.sleep(0.05)
            assert engine.bound == 0
            c = await Client.connect(ws_url(url) + f"?token={bob}")
            await c.send({"type": "session.update", "voice": f"gpt_sovits:char-{cid}"})
            assert (await c.expect("error"))["code"] == "NOT_FOUND"
            await c.close()


class ScriptedLLM(LLM):
    """Streams a fixed reply token by token (test double of the LLM seam)."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens

    async def stream(self, request: ChatRequest, stats: StreamStats) -> AsyncIterator[str]:
        for token in self.tokens:
            stats.completion_tokens += 1
            yield token
        stats.finish_reason = "stop"

    async def health(self) -> bool:
        return True


async def scripted_turn(live, tokens: list[str]) -> tuple[TurnEngine, Response, CollectSink]:
    """One turn of the real turn engine and Piper, the LLM replaced by a fixed token script."""
    piper = live.services.tts.engines[0]
    engine = TurnEngine(live.services.settings, ScriptedLLM(tokens), TTSRouter([piper]))
    spec = TurnSpec(response_id=1, messages=[], model="m", temperature=0, max_tokens=50,
                    language="en", voice=None, tts_enabled=True)
    sink = CollectSink()
    resp = Response(spec)
    await engine.run(resp, sink)
    assert resp.status == "completed"
    return engine, resp, sink


async def test_emotion_tags_become_animation_on_the_timeline(live):
    tokens = ["[hap", "py] Hello", " there", ", my friend", ", how are you today? ", "*wa", "ves* ",
              "It is", " a lovely", " day today", "! [sad] But", " rain is", " coming."]
    engine, resp, sink = await scripted_turn(live, tokens)
    text = "".join(e.delta for e in sink.of_type("response.text.delta"))
    assert "[" not in text and "*" not in text
    assert text.startswith("Hello there, my friend, how are you today? It is") and "It is a lovely day today!" in text
    anims = [(a.action, a.name, a.t_ms) for a in sink.of_type("avatar.animation")]
    names = [(a, n) for a, n, _ in anims]
    assert names[0] == ("talk_start", None) and names[-1] == ("talk_end", None)
    assert ("emotion", "happy") in names and ("gesture", "wave") in names
    assert ("emotion", "sad") in names
    starts = {s.index: s.start_sample * 1000 / engine.rate for s in resp.sentences}
    t = {n: ms for a, n, ms in anims if n}
    assert t["happy"] == 0.0
    # each tag sits at the start of the sentence it precedes, on the audio timeline
    wave_sentence = next(s.index for s in resp.sentences if s.text.startswith("It is"))
    sad_sentence = next(s.index for s in resp.sentences if s.text.startswith("But"))
    assert t["wave"] == pytest.approx(starts[wave_sentence], abs=0.1)
    assert t["sad"] == pytest.approx(starts[sad_sentence], abs=0.1)
    assert 0 < t["wave"] < t["sad"] < len(sink.audio_array()) * 1000 / engine.rate


async def test_output_rate_follows_settings(live, tmp_path):
    """The same engines at 48 kHz: announced in session.ready, audio resampled to it."""
    settings = embedded_settings(tmp_path, llm_base_url=live.services.llama.base_url,
                                 output_sample_rate=48000, audio_chunk_ms=200)
    services = Services.build(settings, tts_engines=[live.services.tts.engines[0]])
    services.tts.start = _noop  # already started by the live app
    services.tts.aclose = _noop
    app = create_app(settings, services=services)
    with serve(app) as url:
        c = await Client.connect(ws_url(url), max_tokens=20)
        assert c.rate == 48000
        turn = await c.turn("Hi!")
        audio = check_audio_stream(turn, 48000, max_chunk_ms=200)
        spectrum = np.abs(np.fft.rfft(audio.astype(np.float32)))
        freqs = np.fft.rfftfreq(len(audio), 1 / 48000)
        # Piper's voice is 22.05 kHz: nothing real above its Nyquist after resampling
        assert spectrum[freqs > 12000].sum() < 0.01 * spectrum.sum()
        await c.close()


async def _noop() -> None:
    return None


async def test_tags_after_the_last_words_play_at_the_end(live):
    tokens = ["Good night", ", my dear friend", ". See you tomorrow", ". [wave]"]
    engine, _, sink = await scripted_turn(live, tokens)
    end_ms = round(len(sink.audio_array()) * 1000 / engine.rate, 1)
    anims = [(a.action, a.name, a.t_ms) for a in sink.of_type("avatar.animation")]
    assert ("gesture", "wave", end_ms) in anims
    assert anims[-1] == ("talk_end", None, end_ms)
