"""REST in the seeds' envelope: /api/chat (+SSE), /api/tts, voices, models, health, docs."""

from __future__ import annotations

import asyncio
import base64
import io
import re

import httpx
import numpy as np
import orjson
import pytest
import soundfile as sf

pytestmark = pytest.mark.slow


@pytest.fixture
async def http(live):
    async with httpx.AsyncClient(base_url=live.url, timeout=120) as client:
        yield client


def assert_error(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["success"] is False and body["error"]["code"] == code and body["error"]["message"]


async def test_chat_returns_content_audio_and_usage(http):
    r = await http.post("/api/chat", json={
        "messages": [{"role": "user", "content": "Hello! Who are you?"}],
        "character_id": "mina", "scenario": {"situation": "at the harbour"},
        "temperature": 0.5, "max_tokens": 40, "tts_enabled": True, "tts_mode": "realtime"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    data = body["data"]
    assert data["content"] and data["session_id"] and data["context_summarized"] is False
    assert data["usage"]["completion_tokens"] > 0
    assert data["model"] == "smollm2-135m-instruct"
    wav = await http.get(data["audio_url"])
    assert wav.status_code == 200 and wav.headers["content-type"].startswith("audio/")
    pcm, rate = sf.read(io.BytesIO(wav.content), dtype="int16")
    assert rate == data["sample_rate"]
    assert abs(len(pcm) * 1000 / rate - data["audio_duration_ms"]) < 1
    assert data["visemes"] and data["visemes"][-1]["t_ms"] <= data["audio_duration_ms"]
    assert {a["action"] for a in data["animations"]} >= {"talk_start", "talk_end"}


async def test_chat_without_tts_has_no_audio(http):
    r = await http.post("/api/chat", json={
        "messages": [{"role": "user", "content": "Hi"}], "tts_enabled": False, "max_tokens": 10,
        "session_id": "abc"})
    data = r.json()["data"]
    assert data["audio_url"] is None and data["session_id"] == "abc" and data["content"]


async def test_chat_stream_carries_ws_events(http):
    events = []
    async with http.stream("POST", "/api/chat/stream", json={
            "messages": [{"role": "user", "content": "Hi there!"}], "max_tokens": 30}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        name = None
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                msg = orjson.loads(line[6:])
                assert msg["type"] == name
                events.append(msg)
    types = [e["type"] for e in events]
    assert types[0] == "response.started" and types[-1] == "response.done"
    assert "response.text.delta" in types and "response.sentence" in types
    audio = [e for e in events if e["type"] == "response.audio"]
    assert audio and audio[0]["sample_offset"] == 0
    total = sum(len(base64.b64decode(a["pcm"])) // 2 for a in audio)
    done_audio = next(e for e in events if e["type"] == "response.audio.done")
    assert total == done_audio["total_samples"]
    assert events[-1]["status"] == "completed"


async def test_tts_endpoint_and_voices(http):
    voices = (await http.get("/api/tts/voices")).json()["data"]["voices"]
    ids = {v["id"] for v in voices}
    assert "piper:en_US-joe-medium" in ids and any(v["language"] == "ko" for v in voices)
    r = await http.post("/api/tts", json={"text": "Good morning. How are you today?",
                                          "language": "en", "speed": 1.0})
    data = r.json()["data"]
    assert data["duration"] > 0.8 and data["file_id"] and data["visemes"]
    wav = await http.get(data["audio_url"])
    pcm, rate = sf.read(io.BytesIO(wav.content), dtype="int16")
    assert abs(len(pcm) / rate - data["duration"]) < 0.01 and np.abs(pcm).max() > 1000
    ko = await http.post("/api/tts", json={"text": "안녕하세요. 반갑습니다.", "language": "ko"})
    assert ko.status_code == 200 and ko.json()["data"]["duration"] > 0.5


async def test_models_health_docs(http):
    models = (await http.get("/api/chat/models")).json()["data"]
    assert models["default"] == "smollm2-135m-instruct"
    assert {"id", "name", "context_length"} <= set(models["models"][0])
    health = (await http.get("/api/health")).json()["data"]
    assert health["llm"] == "healthy" and health["backend"] == "healthy"
    assert health["tts"] == "healthy" and health["tts_engines"]["piper"] == "healthy"
    assert health["status"] == "healthy"
    assert health["llm_embedded"]["running"] is True
    for path in ("/docs", "/redoc", "/api/openapi.json"):
        assert (await http.get(path)).status_code == 200
    spec = (await http.get("/api/openapi.json")).json()
    assert "/api/chat" in spec["paths"] and "/api/tts" in spec["paths"]
    metrics = await http.get("/metrics")
    assert "avatar_turn_stage_seconds" in metrics.text
    trims = re.search(r"^avatar_heap_trim_seconds_count (\S+)$", metrics.text, re.M)
    assert trims and float(trims.group(1)) >= 1  # after the warm-up (realtime/heap.py)


@pytest.mark.parametrize("body,status,code", [
    ({}, 400, "VALIDATION_ERROR"),
    ({"messages": []}, 400, "VALIDATION_ERROR"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, 400, "VALIDATION_ERROR"),
    ({"messages": [{"role": "user", "content": "x"}], "temperature": 9}, 400, "VALIDATION_ERROR"),
    ({"messages": [{"role": "user", "content": "x"}], "character_id": "ghost"}, 404, "NOT_FOUND"),
    ({"messages": [{"role": "system", "content": "x"}]}, 400, "VALIDATION_ERROR"),
    ({"messages": [{"role": "user", "content": "x"}], "tts_streaming_mode": 4}, 400,
     "VALIDATION_ERROR"),
    ({"messages": [{"role": "user", "content": "x" * 5000}]}, 400, "TEXT_TOO_LONG"),
])
async def test_chat_errors(http, body, status, code):
    assert_error(await http.post("/api/chat", json=body), status, code)


async def test_other_errors(http):
    assert_error(await http.post("/api/chat", content=b"{bad json",
                                 headers={"content-type": "application/json"}),
                 400, "VALIDATION_ERROR")
    assert_error(await http.get("/api/nothing-here"), 404, "NOT_FOUND")
    assert_error(await http.post("/api/tts", json={"text": ""}), 400, "VALIDATION_ERROR")
    assert_error(await http.post("/api/tts", json={"text": "hi", "voice_id": "piper:x"}),
                 404, "NOT_FOUND")
    assert_error(await http.post("/api/tts", json={"text": "hi", "language": "xx"}),
                 400, "VALIDATION_ERROR")
    assert_error(await http.get("/media/audio/../../etc/passwd"), 404, "NOT_FOUND")


async def test_concurrent_turns_each_get_a_full_answer(http):
    """The embedded llama.cpp server queues requests; by default it would let each new request
    end the running one, and all but the last concurrent turn would come back empty."""
    replies = await asyncio.gather(*(http.post("/api/chat", json={
        "messages": [{"role": "user", "content": f"Hi, I am visitor {i}."}], "max_tokens": 6,
        "tts_enabled": False}) for i in range(4)))
    for r in replies:
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["content"] and data["usage"]["completion_tokens"] > 0
