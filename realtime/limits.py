"""Concurrent-session slots and per-user rate limits, kept in the short-term store so every
server process sharing it (Redis) enforces one limit (seed Phase 5.3: MAX_CONCURRENT_USERS).

A slot lives ``3 x session_heartbeat_s`` and each live session refreshes it every
``session_heartbeat_s``: a process that dies without releasing frees its slots within that
time. If the short-term store is unreachable, limits fail open (logged): talking beats refusing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from realtime.errors import ApiError
from realtime.store.base import ShortTermStore

log = logging.getLogger(__name__)
POOL = "sessions"


class Limits:
    def __init__(self, store: ShortTermStore, *, max_sessions: int, heartbeat_s: float,
                 rate_per_minute: int, metrics=None) -> None:
        self.store = store
        self.max_sessions = max_sessions
        self.heartbeat_s = heartbeat_s
        self.rate_per_minute = rate_per_minute
        self.metrics = metrics

    @property
    def slot_ttl_s(self) -> float:
        return 3 * self.heartbeat_s

    async def _check(self, limit: str, call, code: str, message: str) -> None:
        """Ask the store; refuse with ``code`` + ``retry_after`` when it says wait; fail open."""
        try:
            wait = await call
        except Exception as exc:  # noqa: BLE001 - fail open
            log.warning("%s limit not enforced (short-term store unavailable): %s", limit, exc)
            return
        if wait is not None:
            if self.metrics is not None:
                self.metrics.refused.labels(limit).inc()
            raise ApiError(code, message, retry_after=wait)

    async def acquire(self, holder: str) -> None:
        """Take a session slot or raise ``SERVICE_UNAVAILABLE`` with ``retry_after``."""
        if self.max_sessions > 0:
            await self._check(
                "sessions", self.store.acquire_slot(POOL, holder, self.max_sessions,
                                                    self.slot_ttl_s),
                "SERVICE_UNAVAILABLE", f"the server is at its limit of {self.max_sessions} "
                                       f"concurrent sessions; try again later")

    async def release(self, holder: str) -> None:
        if self.max_sessions <= 0:
            return
        try:
            await self.store.release_slot(POOL, holder)
        except Exception as exc:  # noqa: BLE001 - it expires on its own
            log.info("slot release failed (expires by itself): %s", exc)

    async def heartbeat(self, holder: str) -> None:
        """Run for the session's lifetime (cancelled when it ends)."""
        while self.max_sessions > 0:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await self.store.refresh_slot(POOL, holder, self.slot_ttl_s)
            except Exception as exc:  # noqa: BLE001 - try again next beat
                log.info("slot heartbeat failed: %s", exc)

    @contextlib.asynccontextmanager
    async def slot(self, holder: str) -> AsyncIterator[None]:
        await self.acquire(holder)
        try:
            yield
        finally:
            await self.release(holder)

    async def check_rate(self, user_id: str) -> None:
        """Count one request or turn; ``RATE_LIMITED`` with ``retry_after`` past the limit."""
        if self.rate_per_minute > 0:
            await self._check("rate", self.store.hit(f"user:{user_id}", self.rate_per_minute, 60.0),
                              "RATE_LIMITED", f"more than {self.rate_per_minute} requests a minute")
