"""Memory end to end on the live app (real Redis, real MongoDB wire server, real embedded LLM):
history kept and listed, stores failing and coming back mid-conversation, restarts, resume,
and a 40-turn conversation that stays within the model's context."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.wsclient import Client


async def _flushed(services, timeout: float = 20.0) -> None:
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
        services.memory.outbox.flush(timeout), services_loop(services)))


def services_loop(services):
    return services.memory.outbox._task.get_loop()


async def _wait(pred, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await pred():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def _messages(url: str, session_id: str, **params) -> list[dict]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        items, after = [], None
        while True:
            q = {"limit": 3, **params}
            if after is not None:
                q["after"] = after
            r = await http.get(f"/api/sessions/{session_id}/messages", params=q)
            assert r.status_code == 200, r.text
            data = r.json()["data"]
            items += data["items"]
            after = data["next_after"]
            if after is None:
                return items


async def test_every_message_is_kept_and_listed(live):
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=12)
    sid = c.ready["session_id"]
    dones = [(await c.turn(text)).done for text in ("Hello, I am Ana.", "What is bread?")]
    await c.close()
    await _flushed(live.services)
    msgs = await _messages(live.url, sid)  # pages of 3: the cursor is exercised
    assert [m["role"] for m in msgs] == ["user", "assistant"] * 2
    assert [m["id"] for m in msgs] == [x for d in dones
                                       for x in (d["user_message_id"], d["message_id"])]
    assert msgs[0]["content"] == "Hello, I am Ana." and msgs[2]["content"] == "What is bread?"
    assert msgs[1]["content"] == dones[0]["text"] and msgs[1]["model"]
    assert msgs[1]["timings"]["llm_first_token"] > 0 and msgs[1]["interrupted"] is False
    assert msgs[0]["source"] == "text" and msgs[1]["character_id"] == "mina"
    async with httpx.AsyncClient(base_url=live.url) as http:
        sessions = (await http.get("/api/sessions", params={"limit": 100})).json()["data"]
    mine = next(s for s in sessions["items"] if s["id"] == sid)
    assert mine["title"] == "Hello, I am Ana." and mine["message_count"] == 4


async def test_mongodb_down_mid_conversation_then_back_exactly_once(live, mongo_server):
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=8)
    sid = c.ready["session_id"]
    assert (await c.turn("First turn.")).done["status"] == "completed"
    mongo_server.stop()
    try:
        for text in ("Second turn.", "Third turn."):
            t0 = time.perf_counter()
            turn = await c.turn(text, timeout=30)
            assert turn.done["status"] == "completed", turn.done
            assert not turn.events("error")
            assert time.perf_counter() - t0 < 10  # no waiting on the dead store
        await _wait(lambda: _pending(live), what="writes waiting in the outbox")
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            health = (await http.get("/api/health")).json()["data"]
        assert "unhealthy" in health["long_term_store"] and health["outbox_pending"] >= 4
    finally:
        mongo_server.start()
    await c.close()
    await _flushed(live.services, 30)
    msgs = await _messages(live.url, sid)
    assert [m["content"] for m in msgs if m["role"] == "user"] == [
        "First turn.", "Second turn.", "Third turn."]
    assert len(msgs) == 6 and len({m["id"] for m in msgs}) == 6


async def _pending(live) -> bool:
    return live.services.memory.outbox.pending > 0


async def test_server_restart_with_store_down_loses_nothing(second_app, mongo_server, tmp_path):
    storage = tmp_path / "restart"
    settings = dict(mongo_url=mongo_server.url, mongo_database="restart")
    mongo_server.stop()
    try:
        with second_app(storage, **settings) as (url, app):
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                ids = []
                for text in ("One.", "Two."):
                    r = await http.post("/api/chat", json={
                        "messages": [{"role": "user", "content": text}], "session_id": "restart1",
                        "tts_enabled": False, "max_tokens": 8})
                    assert r.status_code == 200, r.text
                    ids.append(r.json()["data"]["message_id"])
            assert app.state.services.memory.outbox.pending == 6  # 2 x (session, user, answer)
        # the app is gone; its outbox file is not
    finally:
        mongo_server.start()
    with second_app(storage, **settings) as (url, app):
        await _wait(lambda: _empty(app), what="the outbox to drain after the restart")
        msgs = await _messages(url, "restart1")
    assert [m["content"] for m in msgs if m["role"] == "user"] == ["One.", "Two."]
    assert [m["id"] for m in msgs if m["role"] == "assistant"] == ids


async def _empty(app) -> bool:
    return app.state.services.memory.outbox.pending == 0


async def test_redis_restart_mid_session_keeps_the_context(live, redis_server):
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=8)
    sid = c.ready["session_id"]
    said = []
    for text in ("My name is Ana.", "I like tea."):
        said += [text, (await c.turn(text)).done["text"]]
    short = live.services.memory.short
    assert len((await _on_loop(live, short.load_context(sid)))["messages"]) == 4
    redis_server.restart()  # no persistence: it comes back empty
    t0 = time.perf_counter()
    turn = await c.turn("What do I like?", timeout=30)
    assert turn.done["status"] == "completed" and time.perf_counter() - t0 < 10
    ctx = await _on_loop(live, short.load_context(sid))
    assert ctx is not None, "the session wrote its context back once Redis answered"
    assert [m["content"] for m in ctx["messages"]][:4] == said
    assert len(ctx["messages"]) == 6
    await c.close()


async def _on_loop(live, coro):
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
        coro, services_loop(live.services)))


async def test_resume_from_short_term_then_from_long_term(live):
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=8)
    sid = c.ready["session_id"]
    first = await c.turn("Remember the word apple.")
    await c.close()
    await _flushed(live.services)
    r = await Client.connect(f"{live.ws}?session_id={sid}")
    assert r.ready["session_id"] == sid and r.ready["resumed"] == "short_term"
    assert r.ready["context_messages"] == 2
    turn = await r.turn("Which word?")
    await r.close()
    await _on_loop(live, live.services.memory.short.drop_context(sid))  # expired / lost
    await _flushed(live.services)
    again = await Client.connect(f"{live.ws}?session_id={sid}")
    assert again.ready["resumed"] == "long_term" and again.ready["context_messages"] == 4
    session = live.session(again)
    assert [m["content"] for m in session.history][:3] == [
        "Remember the word apple.", first.done["text"], "Which word?"]
    assert session.history[3]["content"] == turn.done["text"]
    await again.close()


async def test_resume_unknown_session_is_refused(live):
    c = await Client.connect(live.ws, tts_enabled=False)  # noqa: F841 - a live neighbour
    import websockets

    ws = await websockets.connect(f"{live.ws}?session_id=no-such-session")
    msg = await asyncio.wait_for(ws.recv(), 10)
    assert '"NOT_FOUND"' in msg
    with pytest.raises(websockets.ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd.code == 1008
    await c.close()


async def _exact_prompt_tokens(live, messages: list[dict]) -> int:
    """The prompt as the model sees it (SmolLM2's ChatML template), counted by llama.cpp."""
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    text += "<|im_start|>assistant\n"
    root = live.services.llama.base_url.removesuffix("/v1")
    async with httpx.AsyncClient(timeout=120) as http:  # queues behind generations
        r = await http.post(f"{root}/extras/tokenize/count", json={"input": text})
    return int(r.json()["count"])


async def test_forty_turns_stay_within_the_context_budget(live, monkeypatch):
    """A small context (640 tokens) makes the embedded model summarise every few turns: no
    prompt may exceed the budget by the model's own tokenizer, and summaries carry the past."""
    from tests.test_barge_in import recording

    ctx = live.services.memory.context
    monkeypatch.setattr(ctx, "context_tokens", {k: 640 for k in ctx.context_tokens})
    monkeypatch.setattr(ctx, "summary_max_tokens", 48)  # (CPU time: the bound is the point)
    max_tokens = 16
    budget = ctx.budget(max_tokens)
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=max_tokens, temperature=0.0)
    session = live.session(c)
    summarized, sizes = 0, []
    with recording(live) as rec:
        monkeypatch.setattr(ctx, "llm", rec)  # summaries too
        for i in range(40):
            done = (await c.turn(f"Turn {i}: my lucky number is {i}. Say one word.")).done
            assert done["status"] == "completed", done
            prompt = [r for r in rec.requests if r.max_tokens == max_tokens][-1].messages
            exact = await _exact_prompt_tokens(live, prompt)
            sizes.append(exact)
            assert exact <= budget, (i, exact, budget, done["context_tokens"])
            summarized += done["context_summarized"]
    assert summarized >= 2, "the history was never summarised"
    summaries = [r for r in rec.requests if r.max_tokens == ctx.summary_max_tokens]
    assert len(summaries) >= 2 and "Turn 0" in summaries[0].messages[1]["content"]
    assert summaries[0].messages[0]["content"].startswith("You are Mina.")  # shared prefix
    state = session.conv.state
    assert state.summary and state.summary["upto"] >= 20
    assert max(sizes) > 0.6 * budget  # it did fill up: the bound above was really tested
    await c.close()
