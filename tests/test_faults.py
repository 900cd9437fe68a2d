"""Faults: cancel/disconnect close the upstream LLM stream; LLM down, cut or stalled; restarts.

The app under test talks to the real embedded llama.cpp server through a loopback TCP proxy
(tests/tcp_proxy.py) that counts live connections and can cut a response short.
"""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest
import pytest_asyncio

from realtime.app import create_app
from realtime.services import Services
from tests.conftest import embedded_settings, free_port, serve, ws_url
from tests.tcp_proxy import TcpProxy
from tests.wsclient import Client, Frame

pytestmark = pytest.mark.slow
LONG = "Tell me a long story about a dragon and a baker, with many details."


def llama_port(live) -> int:
    return live.services.llama.port


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def proxied(live, tmp_path_factory):
    proxy = await TcpProxy("127.0.0.1", llama_port(live)).start()
    settings = embedded_settings(tmp_path_factory.mktemp("proxied"), llm_base_url=proxy.url,
                                 llm_first_token_timeout_s=5, llm_idle_timeout_s=5)
    app = create_app(settings, services=Services.build(
        settings, tts_engines=None))
    with serve(app) as url:
        yield url, proxy, app
    await proxy.stop()


async def wait_first_audio(c: Client) -> None:
    while not isinstance(await c.recv(), Frame):
        pass


async def test_cancel_closes_upstream_stream(proxied):
    url, proxy, _ = proxied
    c = await Client.connect(ws_url(url), max_tokens=400)
    await c.send({"type": "input.text", "text": LONG})
    await wait_first_audio(c)
    assert proxy.open >= 1, "the LLM stream should still be open while audio plays"
    await c.send({"type": "response.cancel"})
    done = await c.expect("response.done")
    assert done["status"] == "interrupted"
    assert await proxy.wait_closed_all(3.0), "upstream HTTP stream not closed after cancel"
    # llama.cpp serves one request at a time: a quick next turn proves it stopped generating.
    await c.send({"type": "session.update", "tts_enabled": False, "max_tokens": 5})
    await c.expect("session.updated")
    turn = await c.turn("Hi")
    assert turn.done["status"] == "completed"
    assert turn.done["timings"]["llm_first_token"] < 2000, turn.done["timings"]
    await c.close()


async def test_client_disconnect_stops_generation(proxied):
    url, proxy, app = proxied
    c = await Client.connect(ws_url(url), max_tokens=400)
    await c.send({"type": "input.text", "text": LONG})
    await c.expect("response.text.delta")
    await c.ws.close()
    assert await proxy.wait_closed_all(3.0), "upstream stream left running after disconnect"
    for _ in range(50):
        if not app.state.services.sessions:
            break
        await asyncio.sleep(0.05)
    assert not app.state.services.sessions


async def test_sse_client_leaving_cuts_the_turn(proxied):
    """``/api/chat/stream``: the client goes away mid-answer. The turn is cut through the same
    Floor as a WebSocket turn (reason ``closed``): the upstream LLM stream closes, and the turn
    is kept as heard (status interrupted), once."""
    url, proxy, app = proxied
    services = app.state.services
    cuts = services.metrics.interruptions.labels("closed")
    before = cuts._value.get()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        async with http.stream("POST", "/api/chat/stream", json={
                "messages": [{"role": "user", "content": LONG}], "max_tokens": 400}) as r:
            assert r.status_code == 200
            session_id = r.headers["x-session-id"]
            async for line in r.aiter_lines():
                if line.startswith("event: response.audio"):
                    break  # audio is flowing: leave now
    assert await proxy.wait_closed_all(3.0), "upstream LLM stream left running after the client left"
    for _ in range(100):
        if cuts._value.get() > before:
            break
        await asyncio.sleep(0.05)
    assert cuts._value.get() == before + 1
    memory = services.memory
    rows = []
    for _ in range(100):
        await memory.outbox.flush(2.0)
        rows = await memory.long.list_messages(session_id, 10, before=2**62)
        if any(r["role"] == "assistant" for r in rows):
            break
        await asyncio.sleep(0.05)
    answer = next(r for r in rows if r["role"] == "assistant")
    assert answer["status"] == "interrupted" and answer["interrupted"]
    assert answer["content"] == answer["heard_text"]
    assert len(answer["content"]) < len(answer["generated_text"])


async def test_stream_cut_mid_turn_is_an_error(proxied):
    url, proxy, _ = proxied
    c = await Client.connect(ws_url(url), max_tokens=200, tts_enabled=False)
    proxy.cut_after = 1200  # headers + a few SSE events, then the connection drops
    try:
        await c.send({"type": "input.text", "text": LONG})
        err = await c.expect("error")
        done = await c.expect("response.done")
    finally:
        proxy.cut_after = None
    assert err["code"] == "GENERATION_FAILED"  # the answer had begun (protocol.md, the seeds)
    assert done["status"] == "failed" and done["error"]["code"] == err["code"]
    turn = await c.turn("Hello")
    assert turn.done["status"] == "completed"
    await c.close()


async def test_rest_stream_cut_is_generation_failed_500(proxied):
    """The seeds (000:2205) and protocol.md: a generation that fails mid-way is 500
    GENERATION_FAILED; 503 stays for an LLM that cannot be reached."""
    url, proxy, _ = proxied
    proxy.cut_after = 1200
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            r = await http.post("/api/chat", json={
                "messages": [{"role": "user", "content": LONG}], "max_tokens": 200,
                "tts_enabled": False})
    finally:
        proxy.cut_after = None
    assert r.status_code == 500, r.text
    assert r.json()["error"]["code"] == "GENERATION_FAILED"


async def test_llm_down_then_back(live, tmp_path_factory):
    port = free_port()
    settings = embedded_settings(tmp_path_factory.mktemp("down"),
                                 llm_base_url=f"http://127.0.0.1:{port}/v1")
    app = create_app(settings, services=Services.build(settings, tts_engines=[]))
    with serve(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            health = (await http.get("/api/health")).json()["data"]
            assert health["llm"] == "unhealthy" and health["status"] == "degraded"
            r = await http.post("/api/chat", json={
                "messages": [{"role": "user", "content": "hi"}], "tts_enabled": False})
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "SERVICE_UNAVAILABLE"

            c = await Client.connect(ws_url(url), tts_enabled=False, max_tokens=8)
            await c.send({"type": "input.text", "text": "Hello?"})
            assert (await c.expect("error"))["code"] == "SERVICE_UNAVAILABLE"
            assert (await c.expect("response.done"))["status"] == "failed"

            proxy = await TcpProxy("127.0.0.1", llama_port(live), port=port).start()
            try:
                turn = await c.turn("Hello again?")
                assert turn.done["status"] == "completed" and turn.done["text"]
                assert (await http.get("/api/health")).json()["data"]["llm"] == "healthy"
            finally:
                await c.close()
                await proxy.stop()


async def test_stalled_llm_times_out(tmp_path_factory):
    async def silent(reader, writer):
        await asyncio.sleep(30)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = embedded_settings(tmp_path_factory.mktemp("stall"),
                                 llm_base_url=f"http://127.0.0.1:{port}/v1",
                                 llm_first_token_timeout_s=1.0)
    app = create_app(settings, services=Services.build(settings, tts_engines=[]))
    try:
        with serve(app) as url:
            c = await Client.connect(ws_url(url), tts_enabled=False)
            await c.send({"type": "input.text", "text": "Hello?"})
            err = await c.expect("error", timeout=10)
            assert err["code"] == "SERVICE_UNAVAILABLE"
            assert (await c.expect("response.done"))["status"] == "failed"
            await c.close()
    finally:
        server.close()


async def test_embedded_llm_restarts_after_crash(live):
    llama = live.services.llama
    pid = llama.pid
    os.kill(pid, signal.SIGKILL)
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        for _ in range(600):
            data = (await http.get("/api/health")).json()["data"]
            if data["llm"] == "healthy" and data["llm_embedded"]["pid"] != pid:
                break
            await asyncio.sleep(0.1)
        assert data["llm_embedded"]["restarts"] >= 1 and data["llm_embedded"]["pid"] != pid
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=8)
    done = (await c.turn("Are you back?")).done
    assert done["status"] == "completed", done
    await c.close()
