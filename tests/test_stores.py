"""The store contract, run against both implementations of each store: in-process and a real
redis-server (short-term); SQLite and a real MongoDB wire server, nx-27017 (long-term)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

import pytest

from realtime.store.long_mongo import MongoLongTermStore
from realtime.store.long_sqlite import SqliteLongTermStore
from realtime.store.short_memory import MemoryShortTermStore
from realtime.store.short_redis import RedisShortTermStore

_n = itertools.count()


@pytest.fixture(params=["memory", "redis"])
async def short(request, redis_server):
    if request.param == "memory":
        store = MemoryShortTermStore()
    else:
        store = RedisShortTermStore(redis_server.url, prefix=f"t{next(_n)}:")
    await store.start()
    yield store
    await store.close()


@pytest.fixture(params=["sqlite", "mongo"])
async def long(request, mongo_server, tmp_path):
    if request.param == "sqlite":
        store = SqliteLongTermStore(tmp_path / "h.sqlite3")
    else:
        store = MongoLongTermStore(mongo_server.url, database=f"t{uuid.uuid4().hex[:8]}")
    await store.start()
    yield store
    await store.close()


# ---------------------------------------------------------------- short-term
async def test_context_roundtrip_append_and_loss(short):
    assert await short.load_context("s1") is None
    assert await short.append_context("s1", [{"role": "user", "content": "x"}], 60) is False
    await short.save_context("s1", [], None, 60)
    assert await short.load_context("s1") == {"messages": [], "summary": None}
    msgs = [{"id": "a", "role": "user", "content": "안녕", "tokens": 7},
            {"id": "b", "role": "assistant", "content": "Hi!", "tokens": 5}]
    assert await short.append_context("s1", msgs, 60) is True
    summary = {"text": "they met", "tokens": 3, "upto": 4, "key": "k"}
    await short.save_context("s2", msgs[1:], summary, 60)
    assert (await short.load_context("s1"))["messages"] == msgs
    assert await short.load_context("s2") == {"messages": msgs[1:], "summary": summary}
    await short.drop_context("s1")
    assert await short.load_context("s1") is None


async def test_context_expires(short):
    await short.save_context("ttl", [{"role": "user", "content": "x"}], None, 1)
    await short.put_summary("ttl-sum", {"text": "t"}, 1)
    assert await short.load_context("ttl") is not None
    if isinstance(short, MemoryShortTermStore):
        short._clock = lambda: time.monotonic() + 2
    else:
        await asyncio.sleep(2.1)
    assert await short.load_context("ttl") is None
    assert await short.get_summary("ttl-sum") is None


async def test_slots_limit_refresh_release(short):
    assert await short.acquire_slot("p", "a", 2, 30) is None
    assert await short.acquire_slot("p", "b", 2, 30) is None
    assert await short.acquire_slot("p", "a", 2, 30) is None  # re-taking your own slot is fine
    wait = await short.acquire_slot("p", "c", 2, 30)
    assert wait is not None and 1 <= wait <= 30
    assert await short.count_slots("p") == 2
    assert await short.refresh_slot("p", "a", 30) is True
    await short.release_slot("p", "b")
    assert await short.acquire_slot("p", "c", 2, 30) is None
    assert await short.count_slots("p") == 2


async def test_dead_slots_expire(short):
    assert await short.acquire_slot("q", "dead", 1, 1) is None
    assert await short.acquire_slot("q", "new", 1, 1) is not None
    if isinstance(short, MemoryShortTermStore):
        base = time.monotonic()
        short._clock = lambda: base + 1.5
    else:
        await asyncio.sleep(1.3)
    assert await short.acquire_slot("q", "new", 1, 30) is None
    assert await short.refresh_slot("q", "dead", 30) is False  # it had expired: retaken


async def test_rate_limit_burst_then_steady(short):
    results = [await short.hit("u1", 3, 60.0) for _ in range(5)]
    assert results[:3] == [None, None, None]
    assert all(r is not None and 19 <= r <= 20 for r in results[3:])  # one per 20 s
    assert await short.hit("u2", 3, 60.0) is None  # per key
    assert [await short.hit("fast", 2, 1.0) for _ in range(3)][2] is not None
    if isinstance(short, MemoryShortTermStore):
        base = time.monotonic()
        short._clock = lambda: base + 0.6
    else:
        await asyncio.sleep(0.6)
    assert await short.hit("fast", 2, 1.0) is None  # half a second frees one of two


async def test_slots_are_shared_between_clients(redis_server):
    """Two server processes = two clients of one Redis: one limit."""
    a = RedisShortTermStore(redis_server.url, prefix="shared:")
    b = RedisShortTermStore(redis_server.url, prefix="shared:")
    try:
        assert await a.acquire_slot("s", "a1", 2, 30) is None
        assert await b.acquire_slot("s", "b1", 2, 30) is None
        assert await b.acquire_slot("s", "b2", 2, 30) is not None
        assert await a.acquire_slot("s", "a2", 2, 30) is not None
        results = await asyncio.gather(*(a.acquire_slot("race", f"h{i}", 5, 30)
                                         for i in range(20)))
        assert sum(r is None for r in results) == 5  # atomic: never more than the limit
    finally:
        await a.close()
        await b.close()


# ---------------------------------------------------------------- long-term
def _msg(i: int, session: str = "s1", user: str = "u1", **kw) -> dict:
    return {"op": "message", "doc": {"_id": f"{session}-m{i}", "session_id": session,
                                     "user_id": user, "seq": 1000 + i,
                                     "role": "user" if i % 2 == 0 else "assistant",
                                     "content": f"message {i}", "created_at": 1.0 + i,
                                     "timings": {"stt_ms": 12.5}, **kw}}


def _session(sid: str = "s1", user: str = "u1", t: float = 1.0, **kw) -> dict:
    return {"op": "session", "doc": {"_id": sid, "user_id": user, "created_at": t,
                                     "updated_at": t, **kw}}


async def test_history_is_idempotent_and_ordered(long):
    await long.apply([_session(title="first words"), *(_msg(i) for i in range(6))])
    await long.apply([_session(t=5.0, title="later"), *(_msg(i) for i in range(3, 8))])  # retry
    assert await long.count_messages("s1") == 8
    rows = await long.list_messages("s1", 100)
    assert [r["_id"] for r in rows] == [f"s1-m{i}" for i in range(8)]
    assert rows[0]["timings"] == {"stt_ms": 12.5}
    page1 = await long.list_messages("s1", 3)
    page2 = await long.list_messages("s1", 3, after=page1[-1]["seq"])
    assert [r["_id"] for r in page1 + page2] == [f"s1-m{i}" for i in range(6)]
    newest = await long.list_messages("s1", 2, before=2**62)
    assert [r["_id"] for r in newest] == ["s1-m6", "s1-m7"]
    s = await long.get_session("s1")
    assert s["title"] == "first words" and s["updated_at"] == 5.0 and s["created_at"] == 1.0
    await long.apply([_session(t=3.0, character_id="leo")])  # an older touch: no step back
    s = await long.get_session("s1")
    assert s["updated_at"] == 5.0 and s["character_id"] == "leo"


async def test_patch_and_sessions_by_user(long):
    await long.apply([_session("a", "u1", 1.0), _msg(1, "a"), _session("b", "u1", 2.0),
                      _session("c", "u2", 3.0)])
    await long.apply([{"op": "patch", "id": "a-m1",
                       "set": {"content": "cut", "interrupted": True}}])
    m = await long.get_message("a-m1")
    assert m["content"] == "cut" and m["interrupted"] is True and m["session_id"] == "a"
    assert [d["_id"] for d in await long.list_sessions("u1", 10, None)] == ["b", "a"]
    assert [d["_id"] for d in await long.list_sessions("u1", 10, 2.0)] == ["a"]
    assert [d["_id"] for d in await long.list_sessions("u2", 10, None)] == ["c"]
    assert await long.get_message("nope") is None and await long.get_session("nope") is None


async def test_characters_crud(long):
    await long.put_character({"_id": "p1", "owner": None, "name": "Preset"})
    await long.put_character({"_id": "c1", "owner": "u1", "name": "Mine", "likes": ["tea"]})
    await long.put_character({"_id": "c2", "owner": "u2", "name": "Theirs"})
    names = [d["name"] for d in await long.list_characters("u1")]
    assert names == ["Preset", "Mine"]
    await long.put_character({"_id": "c1", "owner": "u1", "name": "Renamed", "likes": []})
    assert (await long.get_character("c1"))["name"] == "Renamed"
    assert await long.delete_character("c1") is True
    assert await long.delete_character("c1") is False
    assert await long.get_character("c1") is None


async def test_feedback_one_per_user_and_message(long):
    await long.put_feedback({"message_id": "m1", "user_id": "u1", "rating": 2, "comment": "",
                             "created_at": 10.0})
    await long.put_feedback({"message_id": "m1", "user_id": "u1", "rating": 5, "comment": "ok",
                             "created_at": 11.0})
    await long.put_feedback({"message_id": "m2", "user_id": "u1", "rating": 1, "comment": "",
                             "created_at": 20.0})
    rows = await long.list_feedback()
    assert [(r["message_id"], r["rating"]) for r in rows] == [("m1", 5), ("m2", 1)]
    assert [r["message_id"] for r in await long.list_feedback(min_rating=4)] == ["m1"]
    assert [r["message_id"] for r in await long.list_feedback(since=15.0)] == ["m2"]
    assert [r["message_id"] for r in await long.list_feedback(until=15.0)] == ["m1"]


async def test_jobs_by_user_status_guard_and_unfinished(long):
    def job(i, user, kind="generate", status="queued"):
        return {"_id": f"j{i}", "user_id": user, "kind": kind, "status": status,
                "created_at": float(i), "progress": 0, "options": {"style": "anime"}}

    for i, user in enumerate(["u1", "u1", "u2", "u1"]):
        await long.put_job(job(i, user))
    await long.put_job(job(9, "u1", kind="style"))
    assert [d["_id"] for d in await long.list_jobs("u1", "generate", 10)] == ["j3", "j1", "j0"]
    assert [d["_id"] for d in await long.list_jobs("u1", "generate", 1, before=3.0)] == ["j1"]
    assert [d["_id"] for d in await long.list_jobs("u1", "style", 10)] == ["j9"]
    # the status guard: a cancelled job is not overwritten by a late "processing"
    assert await long.update_job("j0", {"status": "cancelled"}, ["queued", "processing"])
    assert not await long.update_job("j0", {"status": "processing"}, ["queued"])
    assert not await long.update_job("nope", {"status": "processing"})
    assert await long.update_job("j1", {"status": "processing", "progress": 40,
                                        "current_step": "build"})
    got = await long.get_job("j1")
    assert (got["status"], got["progress"], got["options"]) == ("processing", 40,
                                                                 {"style": "anime"})
    assert [d["_id"] for d in await long.unfinished_jobs()] == ["j1", "j2", "j3", "j9"]


async def test_blobs_roundtrip_large_and_delete(long):
    big = bytes(range(256)) * (3 * 2**20 // 256 + 7)  # over three 1 MiB chunks
    await long.put_blob("j1/model.glb", big)
    await long.put_blob("j1/photo", b"\xff\xd8\xff small")
    assert await long.get_blob("j1/model.glb") == big
    await long.put_blob("j1/model.glb", b"shorter now")  # replaced, old chunks gone
    assert await long.get_blob("j1/model.glb") == b"shorter now"
    assert await long.delete_blobs(["j1/photo", "j1/nope"]) == 1
    assert await long.get_blob("j1/photo") is None
    assert await long.get_blob("j1/model.glb") == b"shorter now"
