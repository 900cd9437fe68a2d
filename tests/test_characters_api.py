"""Characters, feedback and the fine-tuning export over REST and /ws (live app: real Redis and
MongoDB wire server; the export also against SQLite through a second app)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from tests.wsclient import Client

REPO = Path(__file__).resolve().parent.parent
SEED_FIELDS = ("name", "category", "source_work", "personality", "appearance", "likes",
               "dislikes", "speech_style", "thoughts", "features", "habits", "guidelines",
               "gender", "species", "age", "height", "job", "description", "worldview",
               "sample_dialogue")


@pytest.fixture
async def http(live):
    async with httpx.AsyncClient(base_url=live.url, timeout=120) as client:
        yield client


async def test_presets_are_listed_with_every_seed_field(http):
    r = await http.get("/api/characters")
    assert r.status_code == 200
    items = {c["id"]: c for c in r.json()["data"]["items"]}
    assert {"mina", "haneul", "leo", "doyun"} <= set(items)
    assert {items[i]["language"] for i in ("mina", "haneul", "leo", "doyun")} == {"en", "ko"}
    for c in items.values():
        if c["preset"]:
            assert all(f in c for f in SEED_FIELDS) and c["owner"] is None
            assert c["voice"]["voice_id"] and c["avatar_url"].endswith(".glb")


async def test_character_crud_and_validation(http):
    body = {"name": "Juno", "language": "en", "category": "original", "personality": "Bold.",
            "likes": "kites, maps", "age": 30, "speech_style": "Short and sharp.",
            "sample_dialogue": "User: hi\nJuno: Hey.", "worldview": "A floating city.",
            "voice": {"engine": "piper", "voice_id": "piper:en_US-joe-medium"},
            "avatar_url": "https://example.com/juno.vrm"}
    r = await http.post("/api/characters", json=body)
    assert r.status_code == 201, r.text
    c = r.json()["data"]
    assert c["likes"] == ["kites", "maps"] and c["age"] == "30" and c["owner"] == "local"
    cid = c["id"]
    assert (await http.get(f"/api/characters/{cid}")).json()["data"]["name"] == "Juno"
    r = await http.put(f"/api/characters/{cid}", json={**body, "name": "Juno II"})
    assert r.status_code == 200 and r.json()["data"]["created_at"] == c["created_at"]
    assert (await http.get(f"/api/characters/{cid}")).json()["data"]["name"] == "Juno II"
    bad = [({**body, "name": ""}, "VALIDATION_ERROR"),
           ({**body, "avatar_url": "javascript:alert(1)"}, "VALIDATION_ERROR"),
           ({**body, "voice": {"engine": "gpt_sovits"}}, "VALIDATION_ERROR"),
           ({**body, "voice": {"voice_id": "piper:nobody"}}, "VALIDATION_ERROR"),
           ({**body, "language": "xx"}, "VALIDATION_ERROR"),
           ({**body, "personality": "x" * 5000}, "VALIDATION_ERROR")]
    for payload, code in bad:
        r = await http.post("/api/characters", json=payload)
        assert r.status_code == 400 and r.json()["error"]["code"] == code, payload
    r = await http.put("/api/characters/mina", json=body)
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    assert (await http.delete("/api/characters/mina")).status_code == 403
    assert (await http.delete(f"/api/characters/{cid}")).status_code == 204
    for call in (http.get(f"/api/characters/{cid}"), http.delete(f"/api/characters/{cid}"),
                 http.put(f"/api/characters/{cid}", json=body)):
        r = await call
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


async def test_character_selects_the_persona_everywhere(live, http):
    """session.update and /api/chat take character_id; the persona reaches the model."""
    from tests.test_barge_in import recording

    r = await http.post("/api/characters", json={
        "name": "Captain Orla", "personality": "Gruff but kind.", "job": "Ferry captain",
        "voice": {"voice_id": "espeak:en-us"}})
    cid = r.json()["data"]["id"]
    with recording(live) as rec:
        c = await Client.connect(live.ws, character_id=cid, tts_enabled=False, max_tokens=8)
        assert c.ready["session"]["character_id"] == "mina"
        session = live.session(c)
        assert session.character.id == cid and session.voice == "espeak:en-us"
        await c.turn("Hello")
        await c.send({"type": "session.update", "character_id": "no-such-one"})
        err = await c.expect("error")
        assert err["code"] == "NOT_FOUND" and session.character.id == cid  # unchanged
        await c.close()
        r = await http.post("/api/chat", json={"messages": [{"role": "user", "content": "Hi"}],
                                               "character_id": "leo", "tts_enabled": False,
                                               "max_tokens": 8})
        assert r.status_code == 200, r.text
        r = await http.post("/api/chat", json={"messages": [{"role": "user", "content": "Hi"}],
                                               "character_id": "nobody"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    systems = [req.messages[0]["content"] for req in rec.requests if req.max_tokens == 8]
    assert systems[0].startswith("You are Captain Orla.") and "Ferry captain" in systems[0]
    assert systems[1].startswith("You are Leo.") and "lighthouse" in systems[1].lower()


async def test_feedback_and_finetune_export(live, http, tmp_path):
    c = await Client.connect(live.ws, tts_enabled=False, max_tokens=10)
    sid = c.ready["session_id"]
    d1 = (await c.turn("Good morning!")).done
    d2 = (await c.turn("Tell me about the ferry.")).done
    await c.close()
    assert d1["message_id"] and d2["message_id"]
    r = await http.post("/api/feedback", json={"message_id": d2["message_id"], "rating": 5,
                                               "comment": "nice"})
    assert r.status_code == 201, r.text
    r = await http.post("/api/feedback", json={"message_id": d1["message_id"], "rating": 1})
    assert r.status_code == 201
    for payload, status, code in (
            ({"message_id": d1["user_message_id"], "rating": 3}, 400, "VALIDATION_ERROR"),
            ({"message_id": "nope", "rating": 3}, 404, "NOT_FOUND"),
            ({"message_id": d1["message_id"], "rating": 9}, 400, "VALIDATION_ERROR")):
        r = await http.post("/api/feedback", json=payload)
        assert r.status_code == status and r.json()["error"]["code"] == code, payload
    out = tmp_path / "train.jsonl"
    env = {**os.environ, "AVATAR_MONGO_URL": live.services.settings.mongo_url,
           "AVATAR_MONGO_DATABASE": "live"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "realtime.export_finetune", "--out", str(out), "--min-rating", "4",
        cwd=REPO, env=env, stderr=subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode == 0, err
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    mine = [r for r in rows if r["messages"][-1]["content"] == d2["text"]]
    assert len(mine) == 1, rows
    msgs = mine[0]["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant"]
    assert msgs[0]["content"].startswith("You are Mina.")
    assert msgs[1]["content"] == "Good morning!" and msgs[2]["content"] == d1["text"]
    assert not [r for r in rows if r["messages"][-1]["content"] == d1["text"]]  # rated 1
    assert sid


async def test_export_filters_by_date(live, tmp_path):
    from realtime.export_finetune import examples

    store = live.services.memory.long
    loop = live.services.memory.outbox._task.get_loop()
    run = lambda coro: asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))  # noqa: E731
    everything = await run(examples(store))
    none_yet = await run(examples(store, until=1.0))
    future = await run(examples(store, since=4102444800.0))  # 2100-01-01
    assert everything and none_yet == [] and future == []
