"""A bounded, durable outbox between the turn and the long-term store.

Every history write (session, message, patch) is first committed to a local SQLite file
(``<storage>/outbox.sqlite3``, one ``INSERT`` in a worker thread, about a millisecond), then a
single flusher task sends it to the long-term store in order and deletes it once written. While
the store is down the operations wait here; a restarted server drains what a previous run left.
The store applies every operation idempotently, so a batch retried after a failure (or after a
crash between "written" and "deleted") lands exactly once.

Bounded: past ``max_ops`` waiting operations, new ones are refused (logged, counted in
``avatar_outbox_dropped_total``) rather than filling the disk. An operation the store rejects
for a reason other than being unreachable goes to the ``dead`` table, not back in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from realtime.store.base import Doc, LongTermStore, StoreUnavailable

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, path: Path, store: LongTermStore, *, max_ops: int = 100_000,
                 batch: int = 200, metrics=None) -> None:
        self.path = Path(path)
        self.store = store
        self.max_ops = max_ops
        self.batch = batch
        self.metrics = metrics
        self.store_ok = True
        self.last_error: str | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._db: sqlite3.Connection | None = None
        self._count = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def pending(self) -> int:
        return self._count

    async def _call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def start(self) -> None:
        def open_db() -> int:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS ops (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                       "op BLOB NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS dead (id INTEGER PRIMARY KEY, op BLOB NOT NULL,"
                       " error TEXT, at REAL)")
            self._db = db
            return db.execute("SELECT COUNT(*) FROM ops").fetchone()[0]

        self._count = await self._call(open_db)
        if self._count:
            log.info("outbox: %d operations left by a previous run will be written", self._count)
        self._set_gauge()
        self._task = asyncio.create_task(self._flusher(), name="outbox-flusher")
        self._wake.set()

    async def close(self, drain_s: float = 3.0) -> None:
        with contextlib.suppress(TimeoutError):
            await self.flush(drain_s)  # what is still here stays on disk for the next start
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._call(lambda: self._db and self._db.close())
        self._pool.shutdown(wait=True)

    async def put(self, ops: list[Doc]) -> bool:
        """Durably queue ``ops`` (all or none). False when the outbox is full (dropped)."""
        if self._count + len(ops) > self.max_ops:
            log.error("outbox full (%d operations waiting): %d history writes dropped",
                      self._count, len(ops))
            if self.metrics is not None:
                self.metrics.outbox_dropped.inc(len(ops))
            return False
        rows = [(orjson.dumps(op),) for op in ops]

        def insert() -> None:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT INTO ops (op) VALUES (?)", rows)

        self._count += len(ops)  # before the insert: the flusher may write them at once
        try:
            await self._call(insert)
        except BaseException:
            self._count -= len(ops)
            raise
        self._set_gauge()
        self._idle.clear()
        self._wake.set()
        return True

    async def flush(self, timeout_s: float) -> None:
        """Wait until everything queued so far is written (TimeoutError if not in time)."""
        async with asyncio.timeout(timeout_s):
            while self._count:
                self._wake.set()
                self._idle.clear()
                await self._idle.wait()

    def _set_gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.outbox_pending.set(self._count)

    def _read(self) -> list[tuple[int, Doc]]:
        rows = self._db.execute("SELECT id, op FROM ops ORDER BY id LIMIT ?",
                                (self.batch,)).fetchall()
        return [(i, orjson.loads(op)) for i, op in rows]

    def _delete(self, ids: list[int]) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(f"DELETE FROM ops WHERE id IN ({','.join('?' * len(ids))})", ids)

    def _bury(self, row_id: int, op: Doc, error: str) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("INSERT OR REPLACE INTO dead VALUES (?, ?, ?, ?)",
                             (row_id, orjson.dumps(op), error[:2000], time.time()))
            self._db.execute("DELETE FROM ops WHERE id = ?", (row_id,))

    async def _flusher(self) -> None:
        backoff = 0.2
        while True:
            self._wake.clear()  # before reading: a put() after this read wakes us again
            rows = await self._call(self._read)
            if not rows:
                self._set_gauge()
                self._idle.set()
                await self._wake.wait()
                continue
            try:
                await self.store.apply([op for _, op in rows])
            except StoreUnavailable as exc:
                if self.store_ok:
                    log.warning("long-term store unavailable, %d writes wait in the outbox: %s",
                                self._count, exc)
                self.store_ok, self.last_error = False, str(exc)
                self._idle.set()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception as exc:  # noqa: BLE001 - a rejected op must not block the queue
                if len(rows) > 1:  # find the bad one: apply one by one
                    self.batch, saved = 1, self.batch
                    try:
                        rows = await self._call(self._read)
                        await self.store.apply([rows[0][1]])
                    except StoreUnavailable:
                        continue
                    except Exception as one:  # noqa: BLE001
                        log.error("outbox: operation rejected by the store, moved to 'dead': %s",
                                  one)
                        await self._call(self._bury, rows[0][0], rows[0][1], repr(one))
                    else:
                        await self._call(self._delete, [rows[0][0]])
                    finally:
                        self.batch = saved
                    self._count -= 1
                    continue
                log.error("outbox: operation rejected by the store, moved to 'dead': %s", exc)
                await self._call(self._bury, rows[0][0], rows[0][1], repr(exc))
                self._count -= 1
                continue
            if not self.store_ok:
                log.info("long-term store is back; writing the outbox")
            self.store_ok, self.last_error, backoff = True, None, 0.2
            await self._call(self._delete, [i for i, _ in rows])
            self._count -= len(rows)
            self._set_gauge()
