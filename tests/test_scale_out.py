"""Scale-out without a home-made cluster: two realtime server processes (`python -m realtime`,
each its own OS process) share a real redis-server and the MongoDB wire server. A conversation
started on one resumes on the other with its context: the second process's first LLM request
(recorded on its way to the real llama.cpp server) carries the turns the first one served, and
both processes list the same history. (The session limit across processes: test_access.py.)"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.serving import free_port, serve
from tests.wsclient import Client

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def recording_proxy(upstream: str, bodies: list[dict]) -> Starlette:
    """Forwards every request to the real LLM server, keeping the chat requests' bodies."""
    client = httpx.AsyncClient(base_url=upstream, timeout=120)

    async def forward(request: Request) -> Response:
        body = await request.body()
        if request.url.path.endswith("/chat/completions"):
            bodies.append(orjson.loads(body))
        req = client.build_request(request.method, request.url.path, content=body,
                                   params=request.query_params,
                                   headers={"content-type": request.headers.get(
                                       "content-type", "application/json")})
        resp = await client.send(req, stream=True)
        return StreamingResponse(resp.aiter_raw(), status_code=resp.status_code,
                                 headers={"content-type": resp.headers.get("content-type", "")},
                                 background=None)

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])


def start_process(tmp: Path, llm_url: str, redis_url: str, mongo_url: str) -> tuple:
    port = free_port()
    env = {**os.environ, "AVATAR_STORAGE_DIR": str(tmp), "AVATAR_LLM_BASE_URL": llm_url,
           "AVATAR_LLM_MAX_TOKENS": "24", "AVATAR_REDIS_URL": redis_url,
           "AVATAR_REDIS_PREFIX": "scale-out:", "AVATAR_MONGO_URL": mongo_url,
           "AVATAR_MONGO_DATABASE": "scale_out", "AVATAR_VOICE_ENABLED": "false",
           "AVATAR_RATE_LIMIT_PER_MINUTE": "0"}
    voice = ROOT / "var" / "models" / "en_US-joe-medium.aligned.onnx"
    if voice.exists():
        env["AVATAR_TTS_PIPER_VOICE_PATH"] = str(voice)
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen([sys.executable, "-m", "realtime", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(proc, url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, "a realtime process exited"
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "a realtime process did not start"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def two_processes(live, redis_server, mongo_server, tmp_path_factory):
    bodies: list[dict] = []
    with serve(recording_proxy(live.services.llama.base_url.removesuffix("/v1"), bodies)) as proxy:
        procs = [start_process(tmp_path_factory.mktemp(f"rt{i}"), proxy + "/v1",
                               redis_server.url, mongo_server.url) for i in range(2)]
        try:
            for proc, url in procs:
                wait_ready(proc, url)
            yield [url for _, url in procs], bodies
        finally:
            for proc, _ in procs:
                proc.terminate()
            for proc, _ in procs:
                proc.wait(20)


def ws(url: str) -> str:
    return url.replace("http://", "ws://") + "/ws"


async def test_a_session_started_on_one_process_resumes_on_another(two_processes):
    (url_a, url_b), bodies = two_processes
    facts = ["My name is Zorblax and I keep seven turtles.", "The oldest turtle is called Mo."]
    a = await Client.connect(ws(url_a))
    sid = a.ready["session_id"]
    for text in facts:
        assert (await a.turn(text)).done["status"] == "completed"
    answers = [m["content"] for m in await messages(url_a, sid, 4) if m["role"] == "assistant"]
    await a.close()

    b = await Client.connect(ws(url_b) + f"?session_id={sid}")
    assert b.ready["session_id"] == sid
    assert b.ready["resumed"] == "short_term" and b.ready["context_messages"] == 4
    bodies.clear()
    assert (await b.turn("What is the oldest turtle called?")).done["status"] == "completed"
    await b.close()

    prompt = [m for m in bodies[0]["messages"] if m["role"] in ("user", "assistant")]
    assert [m["content"] for m in prompt if m["role"] == "user"][-3:] == [
        *facts, "What is the oldest turtle called?"]
    assert [m["content"] for m in prompt if m["role"] == "assistant"][-2:] == answers

    # one history, whichever process is asked
    on_a, on_b = await messages(url_a, sid, 6), await messages(url_b, sid, 6)
    assert [m["id"] for m in on_a] == [m["id"] for m in on_b] and len(on_b) == 6


async def messages(url: str, sid: str, count: int) -> list[dict]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        deadline = time.monotonic() + 10
        while True:  # the turns reach MongoDB through each process's outbox
            r = await http.get(f"/api/sessions/{sid}/messages", params={"limit": 50})
            if r.status_code == 200 and len(r.json()["data"]["items"]) >= count:
                return r.json()["data"]["items"]
            assert time.monotonic() < deadline, r.text
            await asyncio.sleep(0.1)
