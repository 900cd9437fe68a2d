"""SQLite long-term store: the embedded default (a file under the storage directory).

One connection, used from one worker thread (SQLite objects are thread-bound), WAL journal.
Each document is stored whole as JSON next to the columns its queries filter and sort on.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from realtime.store.base import Doc, LongTermStore, StoreUnavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL, updated_at REAL NOT NULL, doc BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, updated_at);
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL, doc BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS messages_session ON messages (session_id, seq);
CREATE TABLE IF NOT EXISTS characters (
  id TEXT PRIMARY KEY, owner TEXT, name TEXT NOT NULL, doc BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS characters_owner ON characters (owner, name);
CREATE TABLE IF NOT EXISTS feedback (
  message_id TEXT NOT NULL, user_id TEXT NOT NULL, rating INTEGER NOT NULL,
  created_at REAL NOT NULL, doc BLOB NOT NULL, PRIMARY KEY (message_id, user_id));
CREATE INDEX IF NOT EXISTS feedback_rating ON feedback (rating, created_at);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
  created_at REAL NOT NULL, doc BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_user ON jobs (user_id, kind, created_at);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at);
CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, data BLOB NOT NULL);
"""


def _dumps(doc: Doc) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)


class SqliteLongTermStore(LongTermStore):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._db: sqlite3.Connection | None = None

    async def _call(self, fn, *args) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn, *args)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"sqlite: {exc}") from exc

    async def start(self) -> None:
        def open_db() -> None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            self._db = db

        await self._call(open_db)

    async def close(self) -> None:
        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await self._call(shut)
        self._pool.shutdown(wait=True)

    async def ping(self) -> bool:
        try:
            return bool(await self._call(lambda: self._db.execute("SELECT 1").fetchone()))
        except Exception:  # noqa: BLE001
            return False

    def _rows(self, sql: str, args: tuple = ()) -> list[Doc]:
        return [orjson.loads(r[0]) for r in self._db.execute(sql, args).fetchall()]

    # --- history --------------------------------------------------------------------------------
    async def apply(self, ops: list[Doc]) -> None:
        def run() -> None:
            db = self._db
            db.execute("BEGIN")
            try:
                for op in ops:
                    kind = op["op"]
                    if kind == "message":
                        d = op["doc"]
                        db.execute("INSERT OR IGNORE INTO messages VALUES (?, ?, ?, ?)",
                                   (d["_id"], d["session_id"], d["seq"], _dumps(d)))
                    elif kind == "patch":
                        row = db.execute("SELECT doc FROM messages WHERE id = ?",
                                         (op["id"],)).fetchone()
                        if row is not None:
                            d = {**orjson.loads(row[0]), **op["set"]}
                            db.execute("UPDATE messages SET doc = ? WHERE id = ?",
                                       (_dumps(d), op["id"]))
                    elif kind == "session":
                        self._upsert_session(db, op["doc"])
                    else:
                        raise ValueError(f"unknown outbox op {kind!r}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._call(run)

    @staticmethod
    def _upsert_session(db: sqlite3.Connection, new: Doc) -> None:
        row = db.execute("SELECT doc FROM sessions WHERE id = ?", (new["_id"],)).fetchone()
        if row is None:
            doc = dict(new)
        else:
            doc = orjson.loads(row[0])
            doc["updated_at"] = max(doc.get("updated_at", 0), new.get("updated_at", 0))
            for key in ("character_id", "system_prompt"):
                if new.get(key) is not None:
                    doc[key] = new[key]
            if not doc.get("title") and new.get("title"):
                doc["title"] = new["title"]
        db.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?)",
                   (doc["_id"], doc["user_id"], doc["updated_at"], _dumps(doc)))

    async def get_session(self, session_id: str) -> Doc | None:
        rows = await self._call(self._rows, "SELECT doc FROM sessions WHERE id = ?", (session_id,))
        return rows[0] if rows else None

    async def list_sessions(self, user_id: str, limit: int, before: float | None) -> list[Doc]:
        sql, args = "SELECT doc FROM sessions WHERE user_id = ?", [user_id]
        if before is not None:
            sql += " AND updated_at < ?"
            args.append(before)
        sql += " ORDER BY updated_at DESC LIMIT ?"
        return await self._call(self._rows, sql, (*args, limit))

    async def count_messages(self, session_id: str) -> int:
        return await self._call(lambda: self._db.execute(
            "SELECT COUNT(*) FROM messages WHERE session_id = ?", (session_id,)).fetchone()[0])

    async def list_messages(self, session_id: str, limit: int, after: int | None = None,
                            before: int | None = None) -> list[Doc]:
        sql, args = "SELECT doc FROM messages WHERE session_id = ?", [session_id]
        if after is not None:
            sql += " AND seq > ?"
            args.append(after)
        if before is not None:
            sql += " AND seq < ?"
            args.append(before)
        newest = before is not None and after is None
        sql += f" ORDER BY seq {'DESC' if newest else 'ASC'} LIMIT ?"
        rows = await self._call(self._rows, sql, (*args, limit))
        return rows[::-1] if newest else rows

    async def get_message(self, message_id: str) -> Doc | None:
        rows = await self._call(self._rows, "SELECT doc FROM messages WHERE id = ?", (message_id,))
        return rows[0] if rows else None

    # --- characters -----------------------------------------------------------------------------
    async def list_characters(self, user_id: str | None) -> list[Doc]:
        return await self._call(
            self._rows, "SELECT doc FROM characters WHERE owner IS NULL OR owner = ? "
                        "ORDER BY owner IS NOT NULL, name", (user_id,))

    async def get_character(self, character_id: str) -> Doc | None:
        rows = await self._call(self._rows, "SELECT doc FROM characters WHERE id = ?",
                                (character_id,))
        return rows[0] if rows else None

    async def put_character(self, doc: Doc) -> None:
        await self._call(lambda: self._db.execute(
            "INSERT OR REPLACE INTO characters VALUES (?, ?, ?, ?)",
            (doc["_id"], doc.get("owner"), doc["name"], _dumps(doc))))

    async def delete_character(self, character_id: str) -> bool:
        return await self._call(lambda: self._db.execute(
            "DELETE FROM characters WHERE id = ?", (character_id,)).rowcount > 0)

    # --- feedback -------------------------------------------------------------------------------
    async def put_feedback(self, doc: Doc) -> None:
        await self._call(lambda: self._db.execute(
            "INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?)",
            (doc["message_id"], doc["user_id"], doc["rating"], doc["created_at"], _dumps(doc))))

    async def list_feedback(self, min_rating: int | None = None, max_rating: int | None = None,
                            since: float | None = None, until: float | None = None) -> list[Doc]:
        sql, args = "SELECT doc FROM feedback WHERE 1=1", []
        for cond, value in (("rating >= ?", min_rating), ("rating <= ?", max_rating),
                            ("created_at >= ?", since), ("created_at < ?", until)):
            if value is not None:
                sql += f" AND {cond}"
                args.append(value)
        return await self._call(self._rows, sql + " ORDER BY created_at", tuple(args))

    # --- avatar jobs ----------------------------------------------------------------------------
    @staticmethod
    def _job_row(doc: Doc) -> tuple:
        return (doc["_id"], doc["user_id"], doc["kind"], doc["status"], doc["created_at"],
                _dumps(doc))

    async def put_job(self, doc: Doc) -> None:
        await self._call(lambda: self._db.execute(
            "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?)", self._job_row(doc)))

    async def get_job(self, job_id: str) -> Doc | None:
        rows = await self._call(self._rows, "SELECT doc FROM jobs WHERE id = ?", (job_id,))
        return rows[0] if rows else None

    async def update_job(self, job_id: str, fields: Doc,
                         statuses: list[str] | None = None) -> bool:
        def run() -> bool:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT doc FROM jobs WHERE id = ?", (job_id,)).fetchone()
                doc = orjson.loads(row[0]) if row else None
                if doc is None or (statuses is not None and doc["status"] not in statuses):
                    db.execute("ROLLBACK")
                    return False
                doc.update(fields)
                db.execute("INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?)",
                           self._job_row(doc))
                db.execute("COMMIT")
                return True
            except BaseException:
                db.execute("ROLLBACK")
                raise

        return await self._call(run)

    async def list_jobs(self, user_id: str, kind: str, limit: int,
                        before: float | None = None) -> list[Doc]:
        sql, args = "SELECT doc FROM jobs WHERE user_id = ? AND kind = ?", [user_id, kind]
        if before is not None:
            sql += " AND created_at < ?"
            args.append(before)
        return await self._call(self._rows, sql + " ORDER BY created_at DESC LIMIT ?",
                                (*args, limit))

    async def unfinished_jobs(self) -> list[Doc]:
        return await self._call(self._rows, "SELECT doc FROM jobs WHERE status IN "
                                            "('queued', 'processing') ORDER BY created_at")

    async def put_blob(self, key: str, data: bytes) -> None:
        await self._call(lambda: self._db.execute("INSERT OR REPLACE INTO blobs VALUES (?, ?)",
                                                  (key, data)))

    async def get_blob(self, key: str) -> bytes | None:
        row = await self._call(lambda: self._db.execute("SELECT data FROM blobs WHERE key = ?",
                                                        (key,)).fetchone())
        return bytes(row[0]) if row else None

    async def delete_blobs(self, keys: list[str]) -> int:
        if not keys:
            return 0
        marks = ",".join("?" * len(keys))
        return await self._call(lambda: self._db.execute(
            f"DELETE FROM blobs WHERE key IN ({marks})", tuple(keys)).rowcount)
