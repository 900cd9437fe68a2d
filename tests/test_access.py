"""Limits and access on real servers: concurrent sessions across two apps sharing a real Redis,
dead slots expiring, per-user rate limits, signed session tokens and per-user ownership (these
apps use the embedded default long-term store, SQLite)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import websockets

from realtime.auth import mint
from tests.wsclient import Client

REPO = Path(__file__).resolve().parent.parent
SECRET = "test-secret-0123456789abcdef-0123456789"


def _ws(url: str) -> str:
    return url.replace("http://", "ws://") + "/ws"


async def _refused(url: str) -> tuple[dict, int]:
    ws = await websockets.connect(url)
    first = await asyncio.wait_for(ws.recv(), 10)
    with pytest.raises(websockets.ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), 10)
    import orjson

    return orjson.loads(first), info.value.rcvd.code


async def test_session_limit_is_shared_across_processes(second_app, redis_server, tmp_path):
    shared = dict(redis_url=redis_server.url, redis_prefix="limit-test:",
                  max_concurrent_sessions=2, session_heartbeat_s=0.5)
    with second_app(tmp_path / "a", **shared) as (url_a, _), \
            second_app(tmp_path / "b", **shared) as (url_b, _):
        a = await Client.connect(_ws(url_a))
        b = await Client.connect(_ws(url_b))
        err, code = await _refused(_ws(url_b))
        assert err["type"] == "error" and err["code"] == "SERVICE_UNAVAILABLE"
        assert err["retry_after"] >= 1 and code == 1013
        async with httpx.AsyncClient(base_url=url_a, timeout=60) as http:
            r = await http.post("/api/chat", json={"messages": [{"role": "user",
                                                                 "content": "hi"}]})
            assert r.status_code == 503 and r.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
            assert r.json()["error"]["retry_after"] >= 1 and int(r.headers["retry-after"]) >= 1
            await asyncio.sleep(2.0)  # heartbeats keep live sessions' slots past their TTL
            assert (await _refused(_ws(url_a)))[0]["code"] == "SERVICE_UNAVAILABLE"
            await a.close()
            await asyncio.sleep(0.3)
            c = await Client.connect(_ws(url_a))  # a's slot was released
            assert (await c.turn("Hello", timeout=60)).done["status"] in ("completed",)
            await c.close()
            await b.close()
            await asyncio.sleep(0.3)
            r = await http.post("/api/chat", json={"messages": [{"role": "user", "content": "hi"}],
                                                   "tts_enabled": False, "max_tokens": 4})
            assert r.status_code == 200, r.text


async def test_slots_of_a_dead_process_expire(second_app, redis_server, tmp_path):
    from realtime.store.short_redis import RedisShortTermStore

    with second_app(tmp_path, redis_url=redis_server.url, redis_prefix="dead-test:",
                    max_concurrent_sessions=1, session_heartbeat_s=0.5) as (url, _):
        dead = RedisShortTermStore(redis_server.url, prefix="dead-test:")
        # another process took the only slot and died without releasing it (no heartbeats)
        assert await dead.acquire_slot("sessions", "ws:ghost", 1, 3.0) is None
        await dead.close()
        err, _ = await _refused(_ws(url))
        assert err["code"] == "SERVICE_UNAVAILABLE" and 1 <= err["retry_after"] <= 3
        await asyncio.sleep(err["retry_after"] + 0.3)
        c = await Client.connect(_ws(url))
        await c.close()


async def test_rate_limit_rest_and_ws(second_app, tmp_path):
    with second_app(tmp_path, rate_limit_per_minute=3) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            codes = [(await http.get("/api/characters")).status_code for _ in range(3)]
            r = await http.get("/api/characters")
        assert codes == [200, 200, 200] and r.status_code == 429
        assert r.json()["error"]["code"] == "RATE_LIMITED" and r.json()["error"]["retry_after"]
        assert 15 <= int(r.headers["retry-after"]) <= 20  # one request per 20 s after the burst
        c = await Client.connect(_ws(url), tts_enabled=False)
        await c.send({"type": "input.text", "text": "Hello"})
        err = await c.expect("error")
        assert err["code"] == "RATE_LIMITED" and err["retry_after"] >= 1
        await c.send({"type": "ping", "id": 1})
        assert (await c.expect("pong"))["id"] == 1  # the session survives
        await c.close()


async def test_token_auth_and_ownership(second_app, tmp_path):
    with second_app(tmp_path, auth_mode="token", auth_secret=SECRET) as (url, _):
        alice, bob = mint(SECRET, "alice", 600), mint(SECRET, "bob", 600)
        expired = mint(SECRET, "alice", -10)
        forged = mint("another-secret-0123456789-0123456789", "alice", 600)
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for headers in ({}, {"Authorization": f"Bearer {expired}"},
                            {"Authorization": f"Bearer {forged}"},
                            {"Authorization": "Basic abc"}):
                r = await http.get("/api/sessions", headers=headers)
                assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
            assert "expired" in (await http.get("/api/sessions", headers={
                "Authorization": f"Bearer {expired}"})).json()["error"]["message"]
            assert (await http.get("/api/health")).status_code == 200  # open
            err, code = await _refused(_ws(url))
            assert err["code"] == "UNAUTHORIZED" and code == 1008
            ca = await Client.connect(_ws(url) + f"?token={alice}", tts_enabled=False,
                                      max_tokens=6)
            done = (await ca.turn("Hi, I am Alice.")).done
            sid = ca.ready["session_id"]
            await ca.close()
            ha = {"Authorization": f"Bearer {alice}"}
            hb = {"Authorization": f"Bearer {bob}"}
            r = await http.post("/api/characters", headers=ha, json={"name": "Alice's pal"})
            char = r.json()["data"]["id"]
            assert [s["id"] for s in (await http.get("/api/sessions", headers=ha)).json()[
                "data"]["items"]] == [sid]
            assert (await http.get("/api/sessions", headers=hb)).json()["data"]["items"] == []
            for path in (f"/api/sessions/{sid}/messages", f"/api/characters/{char}"):
                assert (await http.get(path, headers=ha)).status_code == 200
                r = await http.get(path, headers=hb)
                assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
            assert char not in [c["id"] for c in (await http.get(
                "/api/characters", headers=hb)).json()["data"]["items"]]
            r = await http.post("/api/feedback", headers=hb,
                                json={"message_id": done["message_id"], "rating": 5})
            assert r.status_code == 404
            r = await http.post("/api/chat", headers=hb, json={
                "messages": [{"role": "user", "content": "hi"}], "session_id": sid})
            assert r.status_code == 404
            err, code = await _refused(_ws(url) + f"?token={bob}&session_id={sid}")
            assert err["code"] == "NOT_FOUND" and code == 1008
            again = await Client.connect(_ws(url) + f"?token={alice}&session_id={sid}")
            assert again.ready["resumed"] == "short_term"
            await again.close()


def test_mint_cli(tmp_path):
    env = {**os.environ, "AVATAR_AUTH_SECRET": SECRET}
    out = subprocess.run([sys.executable, "-m", "realtime.auth", "mint", "--user", "carol",
                          "--ttl", "60"], cwd=REPO, env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    who = subprocess.run([sys.executable, "-m", "realtime.auth", "verify", out], cwd=REPO,
                         env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert who == "carol"
    bad = subprocess.run([sys.executable, "-m", "realtime.auth", "verify", out + "x"], cwd=REPO,
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "invalid" in bad.stderr
