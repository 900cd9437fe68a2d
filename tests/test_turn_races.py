"""Races on purpose: who holds the speaking turn, the finish path, and the history.

Each test runs the real ``Session`` / ``TurnEngine`` / ``Conversation`` on real stores with
seeded, jittered doubles at the model seams (``tests/races.py``), many times, and checks the
invariants written down in ``docs/architecture.md`` ("Turn ownership"):

* never two live responses; every response ends with exactly one ``response.done``;
* a cut is announced once, before the cut response's ``response.done``, and no audio follows it;
* history (the context and the long-term store) keeps exactly what was heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from realtime.config import Settings
from realtime.errors import ProtocolError
from realtime.pipeline.turn import TurnEngine
from realtime.session import Session
from realtime.listen.mic import SpeechTurn
from tests.races import Jitter, LogSink, PacedLLM, build_memory, check_invariants, tone_router

SEEDS = range(30)


def settings(tmp_path) -> Settings:
    return Settings(_env_file=None, storage_dir=tmp_path, llm_max_tokens=60, voice_enabled=False,
                    rate_limit_per_minute=0)


@contextlib.asynccontextmanager
async def session_with(tmp_path, seed: int, *, summarize_every_turn: bool = False):
    jitter = Jitter(seed)
    llm = PacedLLM(jitter)
    memory = build_memory(tmp_path, llm, jitter, summarize_every_turn=summarize_every_turn)
    await memory.long.start()
    await memory.outbox.start()
    s = settings(tmp_path)
    sink = LogSink(jitter)
    try:
        async with asyncio.timeout(20), asyncio.TaskGroup() as tg:
            session = Session(s, TurnEngine(s, llm, tone_router(jitter)), sink, tg, {"tone:a"},
                              memory=memory)
            try:
                yield session, sink, jitter, llm
            finally:
                await session.close()
    finally:
        await memory.outbox.close()
        await memory.long.close()


def spoken(uid: int) -> SpeechTurn:
    now = time.perf_counter()
    return SpeechTurn(utterance_id=uid, t0=now, stt_done=now, stt_ms=1.0, endpoint_ms=500.0)


async def settle(session: Session) -> None:
    """Wait until every response has ended (bounded by the caller's timeout)."""
    while True:
        tasks = [r.task for r in session.responses.values() if r.task and not r.task.done()]
        if not tasks:
            return
        await asyncio.wait(tasks)


def context_entry(session: Session, message_id: str) -> dict | None:
    return next((m for m in session.history if m["id"] == message_id), None)


async def stored_content(session: Session, message_id: str) -> str | None:
    memory = session.conv.memory
    await memory.outbox.flush(5.0)
    rows = await memory.long.list_messages(session.id, 100, before=2**62)
    row = next((r for r in rows if r["_id"] == message_id), None)
    return None if row is None else row["content"]


async def check_history(session: Session) -> None:
    """Every answer in history is what was heard: the whole text, or the heard part if cut (in
    the context, unless folded into the summary, and in the long-term store)."""
    answered = [r for r in session.responses.values() if r.spec.source != "speak" and r.text]
    summary = session.conv.state.summary
    for resp in answered:
        want = resp.heard_text() if resp.status == "interrupted" else resp.text
        entry = context_entry(session, resp.message_id)
        if entry is not None or (want and (summary is None or resp is answered[-1])):
            assert entry is not None and entry["content"] == want, (resp.id, entry, want)
        assert entry is None or want, (resp.id, entry)
        assert await stored_content(session, resp.message_id) == want, resp.id


# --------------------------------------------------------------------------- race A
@pytest.mark.parametrize("seed", SEEDS)
async def test_concurrent_inputs_never_make_two_live_responses(tmp_path, seed):
    """A transcript, a second transcript and a typed line arrive while prompts are prepared
    (token counts and summaries suspend): exactly one answer plays at a time."""
    async with session_with(tmp_path, seed) as (session, sink, jitter, _):
        async def typed() -> None:
            await jitter(12)
            await session.input_text("typed question")

        async def voice(uid: int) -> None:
            await jitter(12)
            await session.input_text(f"spoken question {uid}", speech=spoken(uid))

        await asyncio.gather(typed(), voice(1), voice(2))
        await settle(session)
        info = check_invariants(sink.log)
        assert len(info) == 3
        last = max(info)  # the newest input is the one answered in full
        assert info[last]["status"] == "completed"
        assert all(info[r]["status"] == "interrupted" for r in info if r != last)
        await check_history(session)


def fire_when_kept(session: Session, fire, jitter: Jitter) -> None:
    """Call ``fire()`` while a turn is being kept (its messages go to the outbox)."""
    outbox = session.conv.memory.outbox
    put = outbox.put

    async def put_and_fire(ops):
        if any(op.get("op") == "message" for op in ops):
            fire()
            await jitter(4)
        return await put(ops)

    outbox.put = put_and_fire


# --------------------------------------------------------------------------- race B
FINISH_POINTS = ["record", "response.audio.done", "talk_end", "response.done", "after_done"]
CUTS = ["cancel", "barge_in", "new_input"]


@pytest.mark.parametrize("point", FINISH_POINTS)
@pytest.mark.parametrize("cut", CUTS)
@pytest.mark.parametrize("seed", range(6))
async def test_a_cut_anywhere_in_the_finish_path_keeps_done_and_history(tmp_path, point, cut,
                                                                          seed):
    """After the last frame the response is kept and closed; a cut (cancel, barge-in, a new
    input) landing at each await of that path still gets exactly one ``response.done``, and the
    history keeps what was heard."""
    async with session_with(tmp_path, seed) as (session, sink, jitter, _):
        fired: list[asyncio.Task] = []

        def fire() -> None:
            if fired:
                return
            if cut == "cancel":
                coro = session.cancel(1)
            elif cut == "barge_in":
                coro = session.barge_in(time.perf_counter())
            else:
                coro = session.input_text("a new question")
            fired.append(asyncio.get_running_loop().create_task(_quiet(coro)))

        if point == "record":
            fire_when_kept(session, fire, jitter)
        else:
            def on_json(ev: dict) -> None:
                name = ev["type"] if ev["type"] != "avatar.animation" else ev["action"]
                target = "response.done" if point == "after_done" else point
                if ev.get("response_id") == 1 and name == target:
                    if point == "after_done":
                        asyncio.get_running_loop().call_soon(fire)
                    else:
                        fire()

            sink.on_json = on_json
        await session.input_text("first question")
        while not fired:
            await asyncio.sleep(0.001)
        await asyncio.gather(*fired)
        await settle(session)
        info = check_invariants(sink.log)
        first = session.responses[1]
        assert first.finished.is_set()
        assert info[1]["done"] is not None
        if point == "record":  # before its last events were decided: it ends interrupted
            assert info[1]["status"] == "interrupted"
            assert info[1]["interrupted"] < info[1]["done"]
        else:  # sealed: done says completed; a cut of what still plays is announced after it
            assert info[1]["status"] == "completed"
            if cut == "new_input":
                assert info[1]["interrupted"] is None
            else:
                assert (info[1]["interrupted"] or -1) > info[1]["done"], "no late cut announced"
                assert first.status == "interrupted"
        await check_history(session)
        if cut != "new_input":  # replay works on a finished response (not NOT_FOUND)
            await session.speak(1)
            await settle(session)
            check_invariants(sink.log)


async def _quiet(coro) -> None:
    with contextlib.suppress(ProtocolError):
        await coro


# --------------------------------------------------------------------------- race C
@pytest.mark.parametrize("seed", range(10))
async def test_a_barge_in_during_a_summary_is_not_undone(tmp_path, seed):
    """The summary of older turns runs while the answer plays; a barge-in then removes the
    unheard answer from history. The summary must not bring it back."""
    async with session_with(tmp_path, seed, summarize_every_turn=True) as (session, sink,
                                                                           jitter, llm):
        session.floor.client_marks = True  # this client reports playback, and has not played a thing
        await session.input_text("first question")
        await settle(session)
        llm.summary_gate = asyncio.Event()
        await session.input_text("second question")
        await settle(session)
        await asyncio.wait_for(llm.summary_started.wait(), 5)
        second = session.responses[2]
        assert await session.barge_in(time.perf_counter())
        assert second.status == "interrupted" and second.heard_text() == ""
        await jitter(6)
        llm.summary_gate.set()
        await asyncio.wait_for(session.conv.background(), 5)
        check_invariants(sink.log)
        assert context_entry(session, second.message_id) is None, session.history
        await check_history(session)


@pytest.mark.parametrize("seed", range(10))
async def test_a_summary_merges_into_the_live_history(tmp_path, seed):
    """While a summary is being made, the history changes: an answer is cut to what was heard,
    another removed, a new turn appended. The summary replaces only what it folded."""
    jitter = Jitter(seed)
    llm = PacedLLM(jitter)
    memory = build_memory(tmp_path, llm, jitter, summarize_every_turn=True)
    await memory.long.start()
    await memory.outbox.start()
    from realtime.memory.conversation import Conversation

    conv = Conversation(memory, "s1", "u1")
    msgs = [{"id": f"m{i}", "role": "user" if i % 2 == 0 else "assistant",
             "content": f"message number {i} with some words"} for i in range(6)]
    for i in range(0, 6, 2):
        await conv.record(msgs[i], msgs[i + 1], meta={}, session_doc={})
    llm.summary_gate = asyncio.Event()
    conv.after_turn("system prompt", 60, "en")
    await asyncio.wait_for(llm.summary_started.wait(), 5)
    await jitter(4)
    await conv.edit(msgs[5], "")  # the latest answer was not heard at all
    await jitter(4)
    new = [{"id": "m6", "role": "user", "content": "a new question"},
           {"id": "m7", "role": "assistant", "content": "a new answer"}]
    await conv.record(new[0], new[1], meta={}, session_doc={})
    llm.summary_gate.set()
    await asyncio.wait_for(conv.background(), 5)
    ids = [m["id"] for m in conv.messages]
    assert "m5" not in ids and ids[-2:] == ["m6", "m7"], ids
    assert conv.state.summary is not None and conv.state.summary["text"].startswith("SUMMARY")
    assert ids == ["m4", "m6", "m7"], ids  # m0-m3 folded into the summary
    await memory.outbox.close()
    await memory.long.close()


# --------------------------------------------------------------------------- race D
TRUNCATE_POINTS = ["streaming", "after_cancel", "record", "response.done", "long_after"]


@pytest.mark.parametrize("point", TRUNCATE_POINTS)
@pytest.mark.parametrize("seed", range(6))
async def test_truncate_anywhere_keeps_exactly_the_played_position(tmp_path, point, seed):
    """``Floor.truncate`` (OpenAI's ``conversation.item.truncate``: the client says how much it
    played) landing while the answer streams, after a ``response.cancel`` cut it at an assumed
    position, while the turn is being kept, right after its ``response.done``, or when by the
    clock it finished playing long ago: the history keeps exactly what the client played."""
    from tests.test_barge_in import check_heard

    async with session_with(tmp_path, seed) as (session, sink, jitter, _):
        fired: list[asyncio.Task] = []
        share = 0.3 + 0.6 * jitter.rng.random()  # where the client says it stopped
        position: list[float] = []

        async def truncate() -> None:
            resp = session.responses[1]
            if point == "after_cancel":
                await session.cancel(1)
                assumed = resp.stop_ms
            position.append(round(resp.audio_ms * share, 1))
            await session.floor.truncate(resp, position[0])
            if point == "after_cancel":
                assert resp.stop_ms != assumed  # the client's word replaced the assumption

        def fire() -> None:
            if not fired:
                fired.append(asyncio.get_running_loop().create_task(truncate()))

        if point == "record":
            fire_when_kept(session, fire, jitter)
        elif point in ("streaming", "after_cancel", "response.done"):
            def on_json(ev: dict) -> None:
                streaming = ev["type"] == "response.visemes" and ev["sentence_index"] == 1
                if ev.get("response_id") == 1 and (
                        streaming if point != "response.done" else ev["type"] == point):
                    fire()

            sink.on_json = on_json
        await session.input_text("first question")
        if point == "long_after":
            await settle(session)
            first = session.responses[1]
            first.t0 -= 3600.0  # sent an hour ago: by the clock it finished playing long since
            assert not first.still_playing(time.perf_counter())
            fire()
        while not fired:
            await asyncio.sleep(0.001)
        await asyncio.gather(*fired)
        await settle(session)
        check_invariants(sink.log)
        first = session.responses[1]
        assert first.status == "interrupted" and first.stop_ms == position[0]
        check_heard(first.heard_text(), first, position[0])
        await check_history(session)
