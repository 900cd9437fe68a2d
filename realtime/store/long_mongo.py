"""MongoDB long-term store through PyMongo's ``AsyncMongoClient`` (Motor is end-of-life).

Collections: ``sessions``, ``messages``, ``characters``, ``feedback``, ``jobs`` and ``blobs``
(a file in chunks of 1 MiB: documents stay far below MongoDB's 16 MiB); indexes are created at
start. Every outbox operation is idempotent (insert-once upserts by ``_id``, ``$set`` patches,
``$max`` on ``updated_at``), so a batch retried after a failure lands exactly once.
"""

from __future__ import annotations

import time
from typing import Any

from bson import Binary
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, UpdateOne
from pymongo.errors import PyMongoError

from realtime.store.base import Doc, LongTermStore, StoreUnavailable

_BOOLS = ("interrupted", "context_summarized", "preset")
CHUNK = 2**20
PUBLIC = "*"  # owner_key of presets (matching ``owner: null`` is not portable across servers)


def _fix(doc: Doc | None) -> Doc | None:
    """Some wire-compatible servers (nx-27017 on SQLite) hand back ``$set`` booleans as 0/1."""
    if doc is None:
        return None
    for key in _BOOLS:
        if isinstance(doc.get(key), int) and not isinstance(doc.get(key), bool):
            doc[key] = bool(doc[key])
    doc.pop("owner_key", None)
    return doc


class MongoLongTermStore(LongTermStore):
    name = "mongo"

    def __init__(self, url: str, database: str = "avatar", timeout_s: float = 2.0) -> None:
        ms = int(timeout_s * 1000)
        self._client: AsyncMongoClient = AsyncMongoClient(
            url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms * 2,
            tz_aware=False)
        self._db = self._client[database]

    async def _run(self, coro) -> Any:
        try:
            return await coro
        except PyMongoError as exc:
            raise StoreUnavailable(f"mongodb: {exc}") from exc

    async def start(self) -> None:
        db = self._db
        await self._run(db.sessions.create_index([("user_id", ASCENDING),
                                                  ("updated_at", DESCENDING)]))
        await self._run(db.messages.create_index([("session_id", ASCENDING), ("seq", ASCENDING)]))
        await self._run(db.characters.create_index([("owner_key", ASCENDING),
                                                    ("name", ASCENDING)]))
        await self._run(db.feedback.create_index([("message_id", ASCENDING),
                                                  ("user_id", ASCENDING)], unique=True))
        await self._run(db.feedback.create_index([("rating", ASCENDING),
                                                  ("created_at", ASCENDING)]))
        await self._run(db.jobs.create_index([("user_id", ASCENDING), ("kind", ASCENDING),
                                              ("created_at", DESCENDING)]))
        await self._run(db.jobs.create_index([("status", ASCENDING), ("created_at", ASCENDING)]))
        await self._run(db.blobs.create_index([("key", ASCENDING), ("gen", ASCENDING)]))

    async def close(self) -> None:
        await self._client.close()

    async def ping(self) -> bool:
        try:
            await self._db.command("ping")
            return True
        except PyMongoError:
            return False

    # --- history --------------------------------------------------------------------------------
    async def apply(self, ops: list[Doc]) -> None:
        sessions, messages = [], []
        for op in ops:  # per collection in order; the operations commute across collections
            kind = op["op"]
            if kind == "message":
                messages.append(UpdateOne({"_id": op["doc"]["_id"]},
                                          {"$setOnInsert": op["doc"]}, upsert=True))
            elif kind == "patch":
                messages.append(UpdateOne({"_id": op["id"]}, {"$set": op["set"]}))
            elif kind == "session":
                d = op["doc"]
                update: Doc = {
                    "$setOnInsert": {k: d[k] for k in ("user_id", "created_at", "title")
                                     if k in d},
                    "$max": {"updated_at": d["updated_at"]},
                }
                fields = {k: d[k] for k in ("character_id", "system_prompt")
                          if d.get(k) is not None}
                if fields:
                    update["$set"] = fields
                sessions.append(UpdateOne({"_id": d["_id"]}, update, upsert=True))
            else:
                raise ValueError(f"unknown outbox op {kind!r}")
        if sessions:
            await self._run(self._db.sessions.bulk_write(sessions, ordered=True))
        if messages:
            await self._run(self._db.messages.bulk_write(messages, ordered=True))

    async def get_session(self, session_id: str) -> Doc | None:
        return await self._run(self._db.sessions.find_one({"_id": session_id}))

    async def list_sessions(self, user_id: str, limit: int, before: float | None) -> list[Doc]:
        query: Doc = {"user_id": user_id}
        if before is not None:
            query["updated_at"] = {"$lt": before}
        cursor = self._db.sessions.find(query).sort("updated_at", DESCENDING).limit(limit)
        return await self._run(cursor.to_list())

    async def count_messages(self, session_id: str) -> int:
        return await self._run(self._db.messages.count_documents({"session_id": session_id}))

    async def list_messages(self, session_id: str, limit: int, after: int | None = None,
                            before: int | None = None) -> list[Doc]:
        query: Doc = {"session_id": session_id}
        seq: Doc = {}
        if after is not None:
            seq["$gt"] = after
        if before is not None:
            seq["$lt"] = before
        if seq:
            query["seq"] = seq
        newest = before is not None and after is None
        cursor = self._db.messages.find(query).sort(
            "seq", DESCENDING if newest else ASCENDING).limit(limit)
        rows = [_fix(r) for r in await self._run(cursor.to_list())]
        return rows[::-1] if newest else rows

    async def get_message(self, message_id: str) -> Doc | None:
        return _fix(await self._run(self._db.messages.find_one({"_id": message_id})))

    # --- characters -----------------------------------------------------------------------------
    async def list_characters(self, user_id: str | None) -> list[Doc]:
        keys = [PUBLIC] if user_id is None else [PUBLIC, user_id]
        cursor = self._db.characters.find({"owner_key": {"$in": keys}})
        rows = [_fix(r) for r in await self._run(cursor.to_list())]
        return sorted(rows, key=lambda d: (d.get("owner") is not None, d.get("name", "")))

    async def get_character(self, character_id: str) -> Doc | None:
        return _fix(await self._run(self._db.characters.find_one({"_id": character_id})))

    async def put_character(self, doc: Doc) -> None:
        doc = {**doc, "owner_key": doc.get("owner") or PUBLIC}
        await self._run(self._db.characters.replace_one({"_id": doc["_id"]}, doc, upsert=True))

    async def delete_character(self, character_id: str) -> bool:
        res = await self._run(self._db.characters.delete_one({"_id": character_id}))
        return res.deleted_count > 0

    # --- feedback -------------------------------------------------------------------------------
    async def put_feedback(self, doc: Doc) -> None:
        key = {"message_id": doc["message_id"], "user_id": doc["user_id"]}
        await self._run(self._db.feedback.replace_one(key, doc, upsert=True))

    async def list_feedback(self, min_rating: int | None = None, max_rating: int | None = None,
                            since: float | None = None, until: float | None = None) -> list[Doc]:
        query: Doc = {}
        rating = {k: v for k, v in (("$gte", min_rating), ("$lte", max_rating)) if v is not None}
        created = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
        if rating:
            query["rating"] = rating
        if created:
            query["created_at"] = created
        cursor = self._db.feedback.find(query, {"_id": 0}).sort("created_at", ASCENDING)
        return await self._run(cursor.to_list())

    # --- avatar jobs ----------------------------------------------------------------------------
    async def put_job(self, doc: Doc) -> None:
        await self._run(self._db.jobs.replace_one({"_id": doc["_id"]}, doc, upsert=True))

    async def get_job(self, job_id: str) -> Doc | None:
        return await self._run(self._db.jobs.find_one({"_id": job_id}))

    async def update_job(self, job_id: str, fields: Doc,
                         statuses: list[str] | None = None) -> bool:
        query: Doc = {"_id": job_id}
        if statuses is not None:
            query["status"] = {"$in": list(statuses)}
        res = await self._run(self._db.jobs.update_one(query, {"$set": fields}))
        return res.matched_count > 0

    async def list_jobs(self, user_id: str, kind: str, limit: int,
                        before: float | None = None) -> list[Doc]:
        query: Doc = {"user_id": user_id, "kind": kind}
        if before is not None:
            query["created_at"] = {"$lt": before}
        cursor = self._db.jobs.find(query).sort("created_at", DESCENDING).limit(limit)
        return await self._run(cursor.to_list())

    async def unfinished_jobs(self) -> list[Doc]:
        cursor = self._db.jobs.find({"status": {"$in": ["queued", "processing"]}}).sort(
            "created_at", ASCENDING)
        return await self._run(cursor.to_list())

    async def put_blob(self, key: str, data: bytes) -> None:
        chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
        gen = time.time_ns()  # a new generation, then the old ones go: readers see whole files
        await self._run(self._db.blobs.insert_many([
            {"_id": f"{key}#{gen}#{n}", "key": key, "gen": gen, "n": n, "of": len(chunks),
             "data": Binary(piece)} for n, piece in enumerate(chunks)]))
        await self._run(self._db.blobs.delete_many({"key": key, "gen": {"$lt": gen}}))

    async def get_blob(self, key: str) -> bytes | None:
        rows = await self._run(self._db.blobs.find({"key": key}).to_list())
        gens: dict[int, list] = {}
        for r in rows:
            gens.setdefault(r["gen"], []).append(r)
        for gen in sorted(gens, reverse=True):  # the newest complete generation
            parts = sorted(gens[gen], key=lambda r: r["n"])
            if len(parts) == parts[0]["of"]:
                return b"".join(bytes(r["data"]) for r in parts)
        return None

    async def delete_blobs(self, keys: list[str]) -> int:
        if not keys:
            return 0
        existing = {r["key"] for r in await self._run(self._db.blobs.find(
            {"key": {"$in": keys}}, {"key": 1, "_id": 0}).to_list())}
        await self._run(self._db.blobs.delete_many({"key": {"$in": keys}}))
        return len(existing)
