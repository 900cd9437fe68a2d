"""``/v1/realtime`` driven by the official OpenAI clients, unmodified — the ``openai`` Python SDK
(GA and beta), ``openai-agents`` and (through client-web's toolchain) ``@openai/agents-realtime``
— against the real server on the embedded engines (llama.cpp SmolLM2, Piper, Silero VAD, Whisper
tiny.en) and the production stores. Every server event is validated with the ``openai`` SDK's
own server-event union (``tests/oai_events.py``), as ``openai-agents`` validates each event; the
last test checks that every event type the issue lists was sent and passed (run the module
whole)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time

import numpy as np
import orjson
import pytest
import soxr
import websockets
from openai import AsyncOpenAI

from realtime.auth import mint
from tests.oai_events import SEEN, Recorder
from tests.speech import words, wer
from tests.test_barge_in import check_heard
from tests.test_memory_e2e import _flushed, _messages
from tests.web_e2e import ensure_web_built, run_node

pytestmark = pytest.mark.slow

RATE = 24000
STORY = "Tell me a long story about a dragon and a baker, with many details."


def server_session(live, session_id: str):
    return next(s for s in list(live.services.sessions) if s.id == session_id)


async def until(recv, rec: Recorder, type_: str, timeout: float = 90.0) -> dict:
    """Server events (each validated) up to the first of ``type_``."""
    deadline = time.monotonic() + timeout
    while True:
        ev = rec.check(await asyncio.wait_for(recv(), max(0.1, deadline - time.monotonic())))
        if ev["type"] == type_:
            return ev


@contextlib.asynccontextmanager
async def sdk(live, **recorder):
    client = AsyncOpenAI(base_url=live.url + "/v1", api_key="any-key")
    async with client.realtime.connect(model="gpt-realtime") as conn:
        rec = Recorder(**recorder)
        created = await until(conn.recv_bytes, rec, "session.created")
        yield conn, rec, created["session"]


def user_text(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def audio_of(rec: Recorder) -> bytes:
    return b"".join(base64.b64decode(e["delta"]) for e in rec.of("response.output_audio.delta"))


def index(rec: Recorder, type_: str, last: bool = False) -> int:
    found = [i for i, t in enumerate(rec.types()) if t == type_]
    assert found, f"no {type_}"
    return found[-1] if last else found[0]


# ------------------------------------------------------------------------------ openai SDK (GA)
async def test_sdk_typed_turn_streams_audio_and_transcript(live):
    instructions = "You are Captain Lin, a cheerful ship's captain. Answer in one short sentence."
    async with sdk(live) as (conn, rec, created):
        assert created["type"] == "realtime"
        assert created["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": RATE}
        # the server's default: our end-of-turn model
        assert created["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
        await conn.session.update(session={"type": "realtime", "instructions": instructions,
                                           "audio": {"output": {"voice": "alloy"}}})
        updated = (await until(conn.recv_bytes, rec, "session.updated"))["session"]
        assert updated["instructions"] == instructions
        assert updated["audio"]["output"]["voice"] == "alloy"
        session = server_session(live, updated["id"])
        assert session.character.description == instructions  # the instructions are the persona
        assert session.rate == RATE

        await conn.conversation.item.create(item=user_text("Hello! Who are you?"))
        await conn.response.create(response={"metadata": {"turn": "one"}})
        done = (await until(conn.recv_bytes, rec, "response.done"))["response"]
        answer = done["output"][0]
        await conn.conversation.item.retrieve(item_id=answer["id"])
        retrieved = (await until(conn.recv_bytes, rec, "conversation.item.retrieved"))["item"]

    created_resp = rec.of("response.created")[0]["response"]
    assert created_resp["metadata"] == {"turn": "one"} and done["metadata"] == {"turn": "one"}
    assert done["status"] == "completed" and done["usage"]["output_tokens"] > 0
    order = ["response.created", "response.output_item.added", "response.content_part.added",
             "response.output_audio.delta"]
    assert [index(rec, t) for t in order] == sorted(index(rec, t) for t in order)
    closing = ["response.output_audio.done", "response.output_audio_transcript.done",
               "response.content_part.done", "response.output_item.done",
               "conversation.item.done", "response.done"]
    assert index(rec, "response.output_audio.delta", last=True) < index(rec, closing[0])
    assert [index(rec, t, last=True) for t in closing] == sorted(
        index(rec, t, last=True) for t in closing)
    deltas = "".join(e["delta"] for e in rec.of("response.output_audio_transcript.delta"))
    transcript = rec.of("response.output_audio_transcript.done")[0]["transcript"]
    assert transcript == deltas and transcript.strip()
    assert answer["content"][0] == {"type": "output_audio", "transcript": transcript}
    assert retrieved["content"][0]["transcript"] == transcript
    pcm = audio_of(rec)
    assert len(pcm) % 2 == 0 and len(pcm) / 2 > RATE * 0.5  # over half a second, PCM16 24 kHz
    assert np.abs(np.frombuffer(pcm, "<i2")).max() > 1000  # and not silence
    # the history the next turn is built from: the question and the answer
    assert [m["content"] for m in session.history[-2:]] == ["Hello! Who are you?", transcript]


def speech_24k(voice, text: str, lead_s: float = 0.5, tail_s: float = 1.5) -> np.ndarray:
    chunks = list(voice.synthesize(text))
    audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
    audio = soxr.resample(audio, chunks[0].sample_rate, RATE)
    pad = [np.zeros(int(s * RATE), np.float32) for s in (lead_s, tail_s)]
    return (np.clip(np.concatenate([pad[0], audio, pad[1]]), -1, 1) * 32767).astype("<i2")


async def stream(conn, pcm: np.ndarray, speed: float = 2.0, chunk_ms: int = 100) -> None:
    """``input_audio_buffer.append`` of base64 PCM16 24 kHz, ``speed`` x real time."""
    step = RATE * chunk_ms // 1000
    t0 = time.perf_counter()
    for i, a in enumerate(range(0, len(pcm), step)):
        delay = t0 + i * chunk_ms / 1000 / speed - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await conn.input_audio_buffer.append(
            audio=base64.b64encode(pcm[a:a + step].tobytes()).decode())


async def test_sdk_voice_turn_with_semantic_vad(live, piper_voice):
    question = "What is the capital of France?"
    pcm = speech_24k(piper_voice, question)
    voiced = np.flatnonzero(np.abs(pcm) > 0.02 * 32767)
    onset_ms = voiced[0] * 1000 / RATE
    async with sdk(live) as (conn, rec, _):
        await conn.session.update(session={"type": "realtime", "audio": {"input": {
            "format": {"type": "audio/pcm", "rate": RATE}, "transcription": {"model": "whisper-1"},
            "turn_detection": {"type": "semantic_vad", "create_response": True,
                               "interrupt_response": True}}}})
        s = (await until(conn.recv_bytes, rec, "session.updated"))["session"]
        assert s["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"  # Smart Turn
        sender = asyncio.create_task(stream(conn, pcm))
        done = (await until(conn.recv_bytes, rec, "response.done"))["response"]
        await sender

    item_id = rec.of("input_audio_buffer.speech_started")[0]["item_id"]
    started = rec.of("input_audio_buffer.speech_started")[0]
    assert abs(started["audio_start_ms"] - onset_ms) <= 150, (started, onset_ms)
    for t in ("input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
              "conversation.item.input_audio_transcription.completed"):
        assert rec.of(t)[0]["item_id"] == item_id, t
    user_item = rec.of("conversation.item.added")[0]["item"]
    assert user_item["id"] == item_id and user_item["content"][0]["type"] == "input_audio"
    completed = rec.of("conversation.item.input_audio_transcription.completed")[0]
    assert wer(question, completed["transcript"]) <= 0.25, completed
    assert completed["usage"]["type"] == "duration" and completed["usage"]["seconds"] > 1.0
    order = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
             "input_audio_buffer.committed",
             "conversation.item.input_audio_transcription.completed", "response.created",
             "response.output_audio.delta", "response.done"]
    assert [index(rec, t) for t in order] == sorted(index(rec, t) for t in order)
    assert done["status"] == "completed" and len(audio_of(rec)) / 2 > RATE * 0.5


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # audioop: the reference G.711 coder
async def test_g711_pcmu_in_and_pcma_out(live, piper_voice):
    """G.711 at 8 kHz both ways, coded on the client side by CPython's reference coder."""
    import audioop

    question = "What is the capital of France?"
    pcm8 = soxr.resample(speech_24k(piper_voice, question), RATE, 8000)
    ulaw = audioop.lin2ulaw(pcm8.astype("<i2").tobytes(), 2)
    async with sdk(live) as (conn, rec, created):
        await conn.session.update(session={"type": "realtime", "audio": {
            "input": {"format": {"type": "audio/pcmu"}},
            "output": {"format": {"type": "audio/pcma"}}}})
        s = (await until(conn.recv_bytes, rec, "session.updated"))["session"]
        assert s["audio"]["input"]["format"] == {"type": "audio/pcmu"}
        assert s["audio"]["output"]["format"] == {"type": "audio/pcma"}
        t0 = time.perf_counter()
        for i, a in enumerate(range(0, len(ulaw), 800)):  # 100 ms appends at 2x real time
            await asyncio.sleep(max(0.0, t0 + i * 0.05 - time.perf_counter()))
            await conn.input_audio_buffer.append(audio=base64.b64encode(ulaw[a:a + 800]).decode())
        done = (await until(conn.recv_bytes, rec, "response.done"))["response"]
        resp = server_session(live, created["id"]).floor.latest()
    completed = rec.of("conversation.item.input_audio_transcription.completed")[0]
    assert wer(question, completed["transcript"]) <= 0.25, completed
    assert done["status"] == "completed"
    assert rec.of("response.created")[0]["response"]["audio"]["output"]["format"] == {
        "type": "audio/pcma"}
    out = np.frombuffer(audioop.alaw2lin(audio_of(rec), 2), "<i2")  # one byte a sample
    assert abs(len(out) - resp.samples_sent / 3) <= 2, (len(out), resp.samples_sent)
    assert np.sqrt(np.mean(out.astype(np.float64) ** 2)) > 300  # speech, not silence


async def test_truncate_keeps_what_was_heard_and_avatar_events_are_opt_in(live):
    async with sdk(live, avatar=True) as (conn, rec, created):
        assert created["avatar_events"] is False
        await conn.session.update(session={"type": "realtime", "avatar_events": True})
        await until(conn.recv_bytes, rec, "session.updated")
        await conn.conversation.item.create(item=user_text(STORY))
        await conn.response.create()
        done = (await until(conn.recv_bytes, rec, "response.done"))["response"]
        item_id = done["output"][0]["id"]
        full = rec.of("response.output_audio_transcript.done")[0]["transcript"]
        total_ms = len(audio_of(rec)) / 2 * 1000 / RATE
        cut_ms = int(total_ms / 2)
        await conn.conversation.item.truncate(item_id=item_id, content_index=0,
                                              audio_end_ms=cut_ms, event_id="evt_cut")
        truncated = await until(conn.recv_bytes, rec, "conversation.item.truncated")
        await conn.conversation.item.retrieve(item_id=item_id)
        item = (await until(conn.recv_bytes, rec, "conversation.item.retrieved"))["item"]
        session = server_session(live, created["id"])

    assert truncated["item_id"] == item_id and truncated["audio_end_ms"] == cut_ms
    heard = item["content"][0]["transcript"]
    resp = session.floor.latest()
    check_heard(heard, resp, cut_ms)
    assert heard and len(words(heard)) < len(words(full))
    # the history keeps the heard text: the context the next turn reads, and the long-term store
    assert session.history[-1]["content"] == heard
    await _flushed(live.services)
    stored = await _messages(live.url, session.id)
    assert stored[-1]["role"] == "assistant" and stored[-1]["content"] == heard

    # visemes and animation, opted in, on the 24 kHz audio timeline of the answer
    anim = rec.of("avatar.animation")
    assert anim[0]["action"] == "talk_start" and anim[0]["t_ms"] == 0.0
    ends = [a["t_ms"] for a in anim if a["action"] == "talk_end"]
    assert ends == [pytest.approx(total_ms, abs=0.1), cut_ms]  # at its end; again where cut
    visemes = [v for e in rec.of("avatar.visemes") for v in e["visemes"]]
    assert len(visemes) > 10 and all(0 <= v["t_ms"] < total_ms for v in visemes)
    assert {e["item_id"] for e in rec.of("avatar.visemes")} == {item_id}


async def test_response_cancel_ends_it_cancelled(live):
    async with sdk(live) as (conn, rec, _):
        await conn.conversation.item.create(item=user_text(STORY))
        await conn.response.create()
        await until(conn.recv_bytes, rec, "response.output_audio.delta")
        await conn.response.cancel()
        done = (await until(conn.recv_bytes, rec, "response.done"))["response"]
        n_done = len(rec.events)
        await conn.conversation.item.retrieve(item_id=done["output"][0]["id"])
        await until(conn.recv_bytes, rec, "conversation.item.retrieved")
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["output"][0]["status"] == "incomplete"
    assert not [e for e in rec.events[n_done:] if e["type"].startswith("response.")]


# ------------------------------------------------------------------------------ wire rules
async def test_bad_input_gets_error_events_and_the_session_goes_on(live):
    url = live.url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
    rec = Recorder()
    async with websockets.connect(url, additional_headers={"Authorization": "Bearer k"}) as ws:
        async def recv():
            raw = await ws.recv()
            assert isinstance(raw, str), "a binary frame"  # JSON text frames only
            return raw

        async def send(ev: dict | str | bytes) -> None:
            await ws.send(ev if isinstance(ev, (str, bytes)) else orjson.dumps(ev).decode())

        created = (await until(recv, rec, "session.created"))["session"]
        await send({"type": "session.update", "session": {
            "type": "realtime", "audio": {"input": {"turn_detection": None}}}})
        assert (await until(recv, rec, "session.updated"))["session"]["audio"]["input"][
            "turn_detection"] is None
        b64 = base64.b64encode
        cases = [
            (b"\x01\x02", None, "INVALID_FRAME"),
            ("{not json", None, "INVALID_JSON"),
            ({"type": "no.such.event", "event_id": "e1"}, "e1", "UNKNOWN_TYPE"),
            ({"type": "input_audio_buffer.append", "audio": "%%%", "event_id": "e2"}, "e2",
             "INVALID_AUDIO"),
            ({"type": "input_audio_buffer.append", "audio": b64(b"\0" * 3).decode(),
              "event_id": "e3"}, "e3", "INVALID_AUDIO"),
            ({"type": "input_audio_buffer.commit", "event_id": "e4"}, "e4",
             "AUDIO_BUFFER_EMPTY"),
            ({"type": "session.update", "event_id": "e5", "session": {
                "type": "realtime", "instructions": "Changed?",
                "audio": {"output": {"voice": "nobody"}}}}, "e5", "VALIDATION_ERROR"),
            ({"type": "session.update", "event_id": "e6", "session": {
                "type": "realtime", "audio": {"output": {"format": {
                    "type": "audio/pcm", "rate": 16000}}}}}, "e6", "VALIDATION_ERROR"),
            ({"type": "conversation.item.create", "event_id": "e7", "item": {
                "type": "function_call_output", "call_id": "c", "output": "x"}}, "e7",
             "UNSUPPORTED"),
            ({"type": "conversation.item.truncate", "item_id": "item_none", "content_index": 0,
              "audio_end_ms": 10, "event_id": "e8"}, "e8", "NOT_FOUND"),
            ({"type": "response.create", "event_id": "e9"}, "e9", "NO_INPUT"),
            ({"type": "response.create", "event_id": "e9b", "response": {
                "conversation": "none", "input": []}}, "e9b", "UNSUPPORTED"),
            ({"type": "response.cancel", "response_id": "resp_none", "event_id": "e10"},
             "e10", "NOT_FOUND"),
        ]
        for frame, event_id, code in cases:
            await send(frame)
            err = rec.check(await recv())
            assert err["type"] == "error", (frame, err)
            assert err["error"]["code"] == code and err["error"]["event_id"] == event_id, err
            assert err["error"]["type"] == "invalid_request_error" and err["error"]["message"]
        assert "voice" in rec.of("error")[6]["error"]["message"]

        # a refused update changed nothing; the session goes on
        await send({"type": "session.update", "session": {"type": "realtime"}})
        again = (await until(recv, rec, "session.updated"))["session"]
        assert again["instructions"] == created["instructions"]
        await send({"type": "input_audio_buffer.append",
                    "audio": b64(np.zeros(4800, "<i2").tobytes()).decode()})
        await send({"type": "input_audio_buffer.clear"})
        await until(recv, rec, "input_audio_buffer.cleared")
        await send({"type": "conversation.item.create", "item": {**user_text("never mind"),
                                                                 "id": "item_gone"}})
        await send({"type": "conversation.item.delete", "item_id": "item_gone"})
        assert (await until(recv, rec, "conversation.item.deleted"))["item_id"] == "item_gone"
        # a text-only response
        await send({"type": "conversation.item.create", "item": user_text("Say hello.")})
        await send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        done = (await until(recv, rec, "response.done"))["response"]
    assert done["status"] == "completed" and done["output_modalities"] == ["text"]
    text = "".join(e["delta"] for e in rec.of("response.output_text.delta"))
    assert text.strip() and rec.of("response.output_text.done")[0]["text"] == text
    assert done["output"][0]["content"][0] == {"type": "output_text", "text": text}
    assert not rec.of("response.output_audio.delta")


async def test_auth_bearer_query_token_and_subprotocol(second_app):
    secret = "s" * 32
    with second_app(auth_mode="token", auth_secret=secret) as (url, _app):
        token = mint(secret, "alice", 300)
        ws_url = url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
        async with websockets.connect(ws_url) as ws:  # no token: refused
            err = Recorder().check(await ws.recv())
            assert err["type"] == "error" and err["error"]["code"] == "UNAUTHORIZED"
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1008
        client = AsyncOpenAI(base_url=url + "/v1", api_key=token)  # Authorization: Bearer
        async with client.realtime.connect(model="gpt-realtime") as conn:
            created = await until(conn.recv_bytes, Recorder(), "session.created")
            assert created["session"]["audio"]["input"]["turn_detection"] is None  # no voice
        async with websockets.connect(f"{ws_url}&token={token}") as ws:
            assert (await until(ws.recv, Recorder(), "session.created"))
        protocols = ["realtime", f"openai-insecure-api-key.{token}"]  # how browsers do it
        rec = Recorder()
        async with websockets.connect(ws_url, subprotocols=protocols) as ws:
            assert ws.subprotocol == "realtime"
            await until(ws.recv, rec, "session.created")
            await ws.send(orjson.dumps({"type": "conversation.item.create",
                                        "item": user_text("Hi!")}).decode())
            await ws.send(orjson.dumps({"type": "response.create"}).decode())
            await until(ws.recv, rec, "rate_limits.updated")  # sent after response.done
        limits = rec.of("rate_limits.updated")[0]["rate_limits"]
        assert limits == [{"name": "requests", "limit": 120, "reset_seconds": 60.0}]


# ------------------------------------------------------------------------------ beta dialect
async def test_sdk_beta_dialect_gets_beta_events(live):
    client = AsyncOpenAI(api_key="k", websocket_base_url=live.url.replace("http", "ws") + "/v1")
    rec = Recorder(beta=True)
    async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
        s = (await until(conn.recv_bytes, rec, "session.created"))["session"]
        assert s["input_audio_format"] == "pcm16" and s["modalities"] == ["audio", "text"]
        await conn.session.update(session={"modalities": ["audio", "text"], "voice": "alloy",
                                           "input_audio_format": "pcm16",
                                           "turn_detection": {"type": "server_vad"}})
        await until(conn.recv_bytes, rec, "session.updated")
        await conn.conversation.item.create(item=user_text("Hello!"))
        await conn.response.create()
        done = (await until(conn.recv_bytes, rec, "response.done"))["response"]
    types = set(rec.types())
    assert {"conversation.item.created", "response.audio.delta", "response.audio.done",
            "response.audio_transcript.delta", "response.audio_transcript.done"} <= types
    assert not types & {"conversation.item.added", "conversation.item.done",
                        "response.output_audio.delta"}
    assert done["status"] == "completed" and done["output"][0]["content"][0]["type"] == "audio"


# ------------------------------------------------------------------------------ openai-agents
async def test_openai_agents_session_runs_end_to_end_without_errors(live):
    from agents.realtime import RealtimeAgent, RealtimeRunner

    agent = RealtimeAgent(name="Guide", instructions="You are a friendly guide. Be brief.")
    url = live.url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
    session = await RealtimeRunner(agent).run(model_config={"url": url, "api_key": "any-key"})
    rec, seen, errors, audio = Recorder(), [], [], 0

    async def turn(text: str, interrupt: bool = False) -> None:
        nonlocal audio
        await session.send_message(text)
        interrupted = False
        async with asyncio.timeout(90):
            async for event in session:
                seen.append(event.type)
                if event.type == "raw_model_event" and event.data.type == "raw_server_event":
                    rec.check(event.data.data)
                elif event.type == "error":
                    errors.append(event.error)
                elif event.type == "audio":
                    audio += len(event.audio.data)
                    if interrupt and not interrupted:
                        interrupted = True
                        await session.interrupt()
                elif event.type == "agent_end":
                    return

    async with session:
        await turn("Hello! What can you do?")
        await turn(STORY, interrupt=True)
        # the interrupt's truncate is answered, and the agent asks for the item back
        async with asyncio.timeout(30):
            async for event in session:
                if event.type == "raw_model_event" and event.data.type == "raw_server_event":
                    rec.check(event.data.data)
                    if event.data.data["type"] == "conversation.item.retrieved":
                        break
    assert errors == []
    assert seen.count("agent_end") == 2 and audio > RATE  # half a second of 16-bit audio
    assert "audio_interrupted" in seen
    dones = [e["response"] for e in rec.of("response.done")]
    assert [d["status"] for d in dones] == ["completed", "cancelled"]
    assert rec.of("conversation.item.truncated")


# ------------------------------------------------------------------------------ npm client
def test_npm_agents_realtime_completes_a_turn(live):
    ensure_web_built()
    r = run_node("openai-agents.mjs", live.url, timeout=240)
    assert r["errors"] == [] and r["generic"] == [], r
    assert r["answer"].strip() and r["audioBytes"] > RATE  # half a second of 16-bit audio
    assert r["interrupted"] and r["statuses"] == ["completed", "cancelled"], r
    assert r["truncated"] >= 1


# ------------------------------------------------------------------------------ conformance
ISSUE_EVENTS = {
    "session.created", "session.updated", "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
    "input_audio_buffer.cleared", "conversation.item.added", "conversation.item.done",
    "conversation.item.truncated", "conversation.item.retrieved", "conversation.item.deleted",
    "conversation.item.input_audio_transcription.completed", "response.created",
    "response.done", "response.output_item.added", "response.output_item.done",
    "response.content_part.added", "response.content_part.done", "response.output_audio.delta",
    "response.output_audio.done", "response.output_audio_transcript.delta",
    "response.output_audio_transcript.done", "response.output_text.delta",
    "response.output_text.done", "error", "rate_limits.updated",
}


def test_every_event_type_the_issue_lists_was_sent_and_valid():
    missing = ISSUE_EVENTS - set(SEEN)
    assert not missing, f"never sent (or never validated) in this module: {sorted(missing)}"
