"""The design documents' REST examples, run verbatim against a default install (embedded
engines), each answered in the shape the documents give (000 §5, 001 §5-6).

The seeds' ``hermione`` is imported first with ``python -m realtime.characters import`` from
``characters/`` (a sheet of our own under that id: the seeds' characters are not ours to ship).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import httpx
import pytest
import pytest_asyncio
import soundfile as sf

from realtime.app import create_app
from tests.conftest import embedded_settings
from tests.seed_examples.examples import BY_NAME, EXAMPLES
from tests.seed_examples.seeds import REPO, parse, seed_lines
from tests.serving import serve
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow
HERE = REPO / "tests" / "seed_examples"
STATES = {"healthy", "unhealthy", "unknown"}


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def seed_server(live, tmp_path_factory):
    """A default install with a configured LLM: the live fixture's embedded llama.cpp server,
    reached by URL (so max_tokens defaults to the seeds' 512); stories go to the same server
    through their own endpoint setting (AVATAR_STORY_LLM_*), by way of a counting proxy. One
    setting differs, to keep CI short: AVATAR_LLM_MAX_TOKENS_LIMIT caps what a reply may cost."""
    tmp = tmp_path_factory.mktemp("seeds")
    env = {**os.environ, "AVATAR_STORAGE_DIR": str(tmp), "AVATAR_MONGO_URL": ""}
    proc = subprocess.run([sys.executable, "-m", "realtime.characters", "import",
                           str(HERE / "characters")], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "imported hermione" in proc.stdout, proc.stderr
    story_proxy = await TcpProxy("127.0.0.1", live.services.llama.port).start()
    settings = embedded_settings(tmp, llm_base_url=live.services.llama.base_url,
                                 voice_enabled=False, llm_max_tokens=0, llm_max_tokens_limit=24,
                                 story_llm_base_url=story_proxy.url,
                                 story_llm_model=live.services.settings.llm_default_model,
                                 story_max_tokens=96, rate_limit_per_minute=0)
    assert settings.llm_max_tokens == 512
    app = create_app(settings)
    with serve(app) as url:
        yield url, app, story_proxy
    await story_proxy.stop()


@pytest.fixture
async def http(seed_server):
    async with httpx.AsyncClient(base_url=seed_server[0], timeout=120) as client:
        yield client


async def send(http: httpx.AsyncClient, name: str) -> httpx.Response:
    req = parse(BY_NAME[name])
    return await http.request(req.method, req.path, headers=req.headers, json=req.body)


def data(r: httpx.Response) -> dict:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    return body["data"]


async def check_chat(http, d: dict, *, language: str) -> None:
    """000:1880-1891: content, usage (numbers), session_id, audio_url, context_summarized."""
    assert isinstance(d["content"], str) and d["content"]
    assert isinstance(d["usage"]["prompt_tokens"], int) and d["usage"]["prompt_tokens"] > 0
    assert isinstance(d["usage"]["completion_tokens"], int) and d["usage"]["completion_tokens"] > 0
    assert d["context_summarized"] is False and d["session_id"]
    assert d["language"] == language
    wav = await http.get(d["audio_url"])
    assert wav.status_code == 200 and wav.headers["content-type"].startswith("audio/")


async def test_health_000_1781(http):
    d = data(await send(http, "health"))
    assert {"backend", "llm", "tts", "gen3d", "style", "timestamp"} <= set(d)
    assert all(d[k] in STATES for k in ("backend", "llm", "tts", "gen3d", "style"))
    assert d["backend"] == d["llm"] == d["tts"] == "healthy"
    assert d["timestamp"].endswith("Z")


@pytest.mark.parametrize("name", ["docs", "redoc", "openapi"])
async def test_docs_000_1809_1817(http, name):
    r = await send(http, name)
    assert r.status_code == 200
    if name == "openapi":
        assert r.json()["paths"]["/api/chat"]
    else:
        assert r.headers["content-type"].startswith("text/html")


async def test_chat_example_000_1840(http, seed_server):
    """hermione, a persona, a scenario, a conversation that ends with the assistant, and a
    model this server does not have: the default model goes on in Korean."""
    d = data(await send(http, "chat_full"))
    await check_chat(http, d, language="ko")
    assert d["session_id"] == "uuid-string"
    assert d["model"] == seed_server[1].state.services.settings.llm_default_model
    assert d["requested_model"] == "gemma-3-27b-it"


@pytest.mark.parametrize("name", ["chat_curl", "chat_persona_curl"])
async def test_chat_curl_000_1204_001_1782(http, name):
    d = data(await send(http, name))
    await check_chat(http, d, language="ko")
    assert d["requested_model"] == "gemma-3-27b-it"


async def test_models_000_1906(http):
    d = data(await send(http, "models"))
    for m in d["models"]:
        assert {"id", "name", "context_length", "censored", "multimodal"} <= set(m)


@pytest.mark.parametrize("name", ["tts", "tts_curl"])
async def test_tts_000_1919_001_1797(http, name):
    d = data(await send(http, name))
    assert d["audio_url"] and d["file_id"] and d["duration"] > 0.5 and d["language"] == "ko"
    wav = await http.get(d["audio_url"])
    pcm, rate = sf.read(io.BytesIO(wav.content), dtype="int16")
    assert abs(len(pcm) / rate - d["duration"]) < 0.01


async def test_tts_sovits_style_body_000_1214(http):
    """The GPT-SoVITS-style body, ``--output tts_output.wav``: the answer is the WAV itself."""
    assert parse(BY_NAME["tts_sovits_body"]).output == "tts_output.wav"
    r = await send(http, "tts_sovits_body")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    assert r.content[:4] == b"RIFF" and r.headers["x-language"] == "ko"
    pcm, rate = sf.read(io.BytesIO(r.content), dtype="int16")
    assert abs(len(pcm) / rate - float(r.headers["x-audio-duration"])) < 0.01 and len(pcm) > rate / 2


async def test_voices_000_1946(http):
    for v in data(await send(http, "voices"))["voices"]:
        assert {"id", "name", "language", "gender"} <= set(v)


async def test_story_000_2144(http, seed_server):
    before = seed_server[2].total
    d = data(await send(http, "story"))
    assert seed_server[2].total > before  # written through AVATAR_STORY_LLM_BASE_URL
    assert d["story"] and d["word_count"] == len(d["story"].split()) and d["chapters"] >= 1
    assert d["language"] == "ko"


@pytest.mark.parametrize("name", ["upload_unbuilt"])
async def test_unbuilt_endpoints_are_not_found(http, name):
    """Model upload belongs to the seeds' two-server layout (docs/seeds-differences.md): 404."""
    r = await send(http, name)
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


async def test_system_mode_and_vram_000_2089_2131(http):
    """§5.8: a mode switch answers {previous_mode, current_mode, switch_time_ms}; VRAM answers
    {used_mb, total_mb, usage_percent, active_services} (gpu_host: docs/gpu.md)."""
    d = data(await send(http, "system_mode"))
    assert d["current_mode"] == "chat" and isinstance(d["previous_mode"], str)
    assert isinstance(d["switch_time_ms"], (int, float)) and d["switch_time_ms"] >= 0
    v = data(await send(http, "system_vram"))
    assert {"used_mb", "total_mb", "usage_percent", "active_services"} <= set(v)
    assert 0 <= v["used_mb"] <= v["total_mb"] and isinstance(v["active_services"], list)
    data(await http.post("/api/system/mode", json={"mode": "auto"}))  # hand control back


async def test_greeting_request_001_1668(http):
    """'initial message via API' (001:1668): a character and no message gives its greeting."""
    d = data(await http.post("/api/chat", json={"character_id": "haneul", "messages": []}))
    assert d["greeting"] is True and d["content"] and d["language"] == "ko"
    assert d["audio_url"] and d["model"] is None  # the character's own words: no model ran
    d = data(await http.post("/api/chat", json={"character_id": "hermione", "max_tokens": 30,
                                                "tts_enabled": False}))
    assert d["greeting"] is True and d["content"] and d["model"]  # no greeting: the model's


async def test_chat_room_keys_001_1595(http):
    """The keys ChatRoom sends (001:1595-1608); the values are ours (the seed has variables)."""
    d = data(await http.post("/api/chat", json={
        "messages": [{"role": "user", "content": "오늘 뭐 했어?"}],
        "persona": "차분한 사서", "character_id": "hermione",
        "scenario": {"opponent": "손님", "situation": "도서관", "background": "현대"},
        "session_id": "room-1", "tts_enabled": True, "tts_mode": "on_click",
        "tts_delay_ms": 0, "tts_streaming_mode": 2, "max_tokens": 30}))
    assert d["session_id"] == "room-1" and d["audio_url"] is None  # on_click: audio later


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_copies_match_the_seeds(example):
    seed = seed_lines(example)
    if seed is None:
        pytest.skip("shared/seeds is not beside this checkout")
    assert example.text == seed, f"{example.seed} changed"


async def test_story_streams_as_it_is_written(http):
    """``/api/story/generate/stream``: story.delta events while the model writes, then
    story.done with the same result shape; errors in the envelope."""
    events = []
    async with http.stream("POST", "/api/story/generate/stream", json={
            "prompt": "A knight and a wizard defeat a dragon", "length": "short"}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        name = None
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    names = [n for n, _ in events]
    assert names[-1] == "story.done" and names.count("story.delta") >= 3, names
    done = events[-1][1]["data"]
    assert done["story"] == "".join(e["delta"] for n, e in events[:-1]).strip()
    assert done["language"] == "en" and done["word_count"] == len(done["story"].split())
    for body, code in (({"prompt": " "}, "VALIDATION_ERROR"), ({"prompt": "x" * 5000},
                                                             "TEXT_TOO_LONG"),
                       ({"prompt": "x", "length": "epic"}, "VALIDATION_ERROR")):
        r = await http.post("/api/story/generate", json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == code
