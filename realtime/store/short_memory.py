"""In-process short-term store: the single-machine default (one server process)."""

from __future__ import annotations

import copy
import math
import time

from realtime.store.base import Doc, ShortTermStore


class MemoryShortTermStore(ShortTermStore):
    name = "memory"

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._ctx: dict[str, tuple[float, Doc]] = {}
        self._summaries: dict[str, tuple[float, Doc]] = {}
        self._slots: dict[str, dict[str, float]] = {}
        self._windows: dict[str, tuple[float, int]] = {}

    async def ping(self) -> bool:
        return True

    def _live(self, table: dict[str, tuple[float, Doc]], key: str) -> Doc | None:
        item = table.get(key)
        if item is None:
            return None
        if item[0] <= self._clock():
            del table[key]
            return None
        return item[1]

    def _sweep(self) -> None:
        now = self._clock()
        for table in (self._ctx, self._summaries):
            if len(table) > 1024:
                for k in [k for k, (exp, _) in table.items() if exp <= now]:
                    del table[k]

    # --- context --------------------------------------------------------------------------------
    async def load_context(self, session_id: str) -> Doc | None:
        ctx = self._live(self._ctx, session_id)
        return copy.deepcopy(ctx) if ctx is not None else None

    async def append_context(self, session_id: str, messages: list[Doc], ttl_s: int) -> bool:
        ctx = self._live(self._ctx, session_id)
        if ctx is None:
            return False
        ctx["messages"].extend(copy.deepcopy(messages))
        self._ctx[session_id] = (self._clock() + ttl_s, ctx)
        return True

    async def save_context(self, session_id: str, messages: list[Doc], summary: Doc | None,
                           ttl_s: int) -> None:
        self._sweep()
        self._ctx[session_id] = (self._clock() + ttl_s, copy.deepcopy(
            {"messages": messages, "summary": summary}))

    async def drop_context(self, session_id: str) -> None:
        self._ctx.pop(session_id, None)

    # --- summaries ------------------------------------------------------------------------------
    async def get_summary(self, key: str) -> Doc | None:
        doc = self._live(self._summaries, key)
        return dict(doc) if doc is not None else None

    async def put_summary(self, key: str, summary: Doc, ttl_s: int) -> None:
        self._summaries[key] = (self._clock() + ttl_s, dict(summary))

    # --- limits ---------------------------------------------------------------------------------
    def _pool(self, pool: str) -> dict[str, float]:
        now = self._clock()
        slots = self._slots.setdefault(pool, {})
        for holder in [h for h, exp in slots.items() if exp <= now]:
            del slots[holder]
        return slots

    async def acquire_slot(self, pool: str, holder: str, limit: int, ttl_s: float) -> float | None:
        slots = self._pool(pool)
        now = self._clock()
        if holder in slots or len(slots) < limit:
            slots[holder] = now + ttl_s
            return None
        return max(1.0, math.ceil(min(slots.values()) - now))

    async def refresh_slot(self, pool: str, holder: str, ttl_s: float) -> bool:
        slots = self._pool(pool)
        had = holder in slots
        slots[holder] = self._clock() + ttl_s
        return had

    async def release_slot(self, pool: str, holder: str) -> None:
        self._pool(pool).pop(holder, None)

    async def count_slots(self, pool: str) -> int:
        return len(self._pool(pool))

    async def hit(self, key: str, limit: int, window_s: float) -> float | None:
        now = self._clock()
        interval = window_s / limit
        tat = max(self._windows.get(key, (now, 0))[0], now)
        if len(self._windows) > 10000:
            self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
        new_tat = tat + interval
        if new_tat - now > window_s:
            return max(1.0, math.ceil(new_tat - window_s - now))
        self._windows[key] = (new_tat, 0)
        return None
