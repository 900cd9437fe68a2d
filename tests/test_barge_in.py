"""Barge-in with real speech, VAD, Whisper, LLM and TTS: the avatar stops, and the history (and so
the next turn's LLM context, captured on its way to the real model) keeps only what was heard."""

from __future__ import annotations

import asyncio
import contextlib
import time

import numpy as np
import pytest

from tests.speech import piper_16k, words
from tests.wsclient import Client, Frame

pytestmark = pytest.mark.slow

SR = 16000


class RecordingLLM:
    """Passes every request to the real LLM and keeps a copy of it."""

    def __init__(self, inner, requests: list | None = None) -> None:
        self.inner = inner
        self.requests = [] if requests is None else requests

    def stream(self, request, stats):
        self.requests.append(request)
        return self.inner.stream(request, stats)

    def background(self):
        """A background job of the scheduler whose requests are kept too (summaries)."""
        return RecordingLLM(self.inner.background(), self.requests)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@contextlib.contextmanager
def recording(live):
    engine = live.services.engine
    rec = RecordingLLM(engine.llm)
    engine.llm = rec
    try:
        yield rec
    finally:
        engine.llm = rec.inner


def speech(piper_voice, text: str, lead: float = 0.1, tail: float = 1.0) -> np.ndarray:
    return np.concatenate([np.zeros(int(lead * SR), np.float32), piper_16k(piper_voice, text),
                           np.zeros(int(tail * SR), np.float32)])


def check_heard(heard: str, resp, played_ms: float) -> None:
    """``heard`` = sentences fully played by ``played_ms`` + the played share of the current one."""
    played = played_ms * resp.rate / 1000.0
    spoken = [s for s in resp.sentences if s.start_sample >= 0 and s.text.strip()]
    full = [s for s in spoken if s.start_sample + s.n_samples <= played]
    current = next((s for s in spoken if s.start_sample < played < s.start_sample + s.n_samples),
                   None)
    expected = [w for s in full for w in words(s.text)]
    got = words(heard)
    assert got[:len(expected)] == expected, (heard, [s.text for s in full])
    extra = got[len(expected):]
    if current is None:
        assert not extra, heard
    else:
        cw = words(current.text)
        share = (played - current.start_sample) / current.n_samples
        assert extra == cw[:len(extra)], (extra, current.text)
        assert abs(len(extra) - share * len(cw)) <= 1.0, (extra, share, current.text)
    later = [s for s in spoken if s.start_sample >= played]
    for s in later:  # nothing not yet played is kept
        assert s.text.strip() not in heard


async def test_barge_in_cuts_a_running_response_and_history_keeps_what_was_heard(live, piper_voice):
    c = await Client.connect(live.ws, max_tokens=200, temperature=0.0)
    session = live.session(c)
    with recording(live) as rec:
        # (measured with the default character: ~850 characters, ~50 s of speech)
        await c.send({"type": "input.text",
                      "text": "Tell me a long story about a dragon and a baker, with many details."})
        items: list = []
        samples = 0
        while samples < 2.5 * c.rate:  # the client has 2.5 s of answer buffered
            item = await c.recv(60)
            items.append(item)
            if isinstance(item, Frame):
                samples += len(item.pcm)
            else:
                assert item["type"] != "response.done", "answer too short for the test"
        rid = next(i["response_id"] for i in items
                   if isinstance(i, dict) and i["type"] == "response.started")
        mark_ms = 1500.0
        await c.send({"type": "playback.mark", "response_id": rid, "played_ms": mark_ms})
        t_mark = time.perf_counter()
        sender = asyncio.create_task(
            c.stream_audio(speech(piper_voice, "Wait, stop. What is your name?"), speed=1.0))

        while True:  # the answer keeps streaming until the user's speech cuts it
            item = await c.recv(30)
            if isinstance(item, dict) and item["type"] == "response.interrupted":
                interrupted = item
                break
            assert not (isinstance(item, dict) and item["type"] == "response.done"), item
        elapsed_ms = (time.perf_counter() - t_mark) * 1000.0
        assert interrupted["response_id"] == rid and interrupted["reason"] == "barge_in"
        assert mark_ms <= interrupted["played_ms"] <= mark_ms + min(elapsed_ms, 1000.0) + 1

        after: list = []
        while True:
            item = await c.recv(30)
            after.append(item)
            if isinstance(item, dict) and item["type"] == "response.done":
                break
        done = after[-1]
        assert done["response_id"] == rid and done["status"] == "interrupted"
        talk_end = [e for e in after if isinstance(e, dict) and e["type"] == "avatar.animation"
                    and e["action"] == "talk_end"]
        assert talk_end and talk_end[0]["t_ms"] == interrupted["played_ms"]

        heard = interrupted["heard_text"]
        resp = session.responses[rid]
        check_heard(heard, resp, interrupted["played_ms"])
        assert heard and len(words(heard)) < len(words(done["text"]))  # cut short
        assert {"role": "assistant", "content": heard} in [
            {"role": m["role"], "content": m["content"]} for m in session.history]

        # the user's words become the next turn; its context holds the heard text only
        final = await c.expect("transcript.final", timeout=30)
        nxt = await c.expect("response.started", timeout=30)
        assert nxt["source"] == "voice" and nxt["utterance_id"] == final["utterance_id"]
        # no audio of the cut response after its response.done
        late = [i for i in c.backlog if isinstance(i, Frame) and i.response_id == rid]
        assert not late
        await c.expect("response.done", timeout=60)
        await sender
    # the request for the user's first words after the cut (the end-of-turn model may end a
    # turn at "Wait, stop." and take "What is your name?" as the next one)
    messages = next(r.messages for r in rec.requests
                    if r.messages[-1] == {"role": "user", "content": final["text"]})
    assert messages[-2] == {"role": "assistant", "content": heard}
    assert not any(m["content"] == done["text"] for m in messages)
    await c.close()


async def test_barge_in_on_an_answer_still_playing_at_the_client(live, piper_voice):
    """The server has sent everything (response.done completed); the client is still playing."""
    c = await Client.connect(live.ws, max_tokens=60, temperature=0.0)
    session = live.session(c)
    with recording(live) as rec:
        turn = await c.turn("Tell me three facts about the sea.")
        assert turn.done["status"] == "completed"
        rid = turn.response_id
        duration = turn.events("response.audio.done")[0]["duration_ms"]
        assert duration > 2500, "answer too short for the test"
        mark_ms = round(duration * 0.4, 1)
        await c.send({"type": "playback.mark", "response_id": rid, "played_ms": mark_ms})
        sender = asyncio.create_task(
            c.stream_audio(speech(piper_voice, "Sorry, can you repeat that?"), speed=2.0))
        interrupted = await c.expect("response.interrupted", timeout=20)
        assert interrupted["response_id"] == rid and interrupted["reason"] == "barge_in"
        assert mark_ms <= interrupted["played_ms"] <= mark_ms + 1001
        talk_end = await c.expect("avatar.animation", timeout=5)
        assert talk_end["action"] == "talk_end" and talk_end["response_id"] == rid
        assert talk_end["t_ms"] == interrupted["played_ms"]
        heard = interrupted["heard_text"]
        check_heard(heard, session.responses[rid], interrupted["played_ms"])
        assert len(words(heard)) < len(words(turn.done["text"]))
        final = await c.expect("transcript.final", timeout=30)
        await c.expect("response.done", timeout=60)
        await sender
    messages = next(r.messages for r in rec.requests
                    if r.messages[-1] == {"role": "user", "content": final["text"]})
    if heard:
        assert messages[-2] == {"role": "assistant", "content": heard}
    else:  # nothing was heard: the assistant message is gone
        assert messages[-2]["role"] == "user"
    await c.close()


async def test_no_barge_in_when_switched_off_or_after_playback(live, piper_voice):
    c = await Client.connect(live.ws, max_tokens=30, temperature=0.0, barge_in=False)
    turn = await c.turn("Say hello.")
    rid = turn.response_id
    await c.stream_audio(speech(piper_voice, "Thank you, that was nice to hear."), speed=2.0)
    await c.expect("transcript.final", timeout=30)
    await c.expect("response.done", timeout=60)
    kinds = [(e["type"], e.get("reason")) for e in c.backlog if isinstance(e, dict)]
    assert ("response.interrupted", "barge_in") not in kinds
    # barge-in on, but the client reports the answer fully played: nothing to cut
    await c.send({"type": "session.update", "barge_in": True})
    await c.expect("session.updated")
    turn = await c.turn("Say goodbye.")
    rid = turn.response_id
    duration = turn.events("response.audio.done")[0]["duration_ms"]
    await c.send({"type": "playback.mark", "response_id": rid, "played_ms": duration})
    c.backlog.clear()
    await c.stream_audio(speech(piper_voice, "Okay, see you later then."), speed=2.0)
    await c.expect("transcript.final", timeout=30)
    kinds = [e["type"] for e in c.backlog if isinstance(e, dict)]
    assert "response.interrupted" not in kinds
    await c.expect("response.done", timeout=60)
    await c.close()
