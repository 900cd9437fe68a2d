"""Redis short-term store (``redis.asyncio``): shared by every server process.

Keys (prefix ``avatar:`` by default):
``ctx:{sid}`` (string: the summary as JSON, or ``null``; marks that the context exists),
``ctx:{sid}:m`` (list of JSON messages), ``sum:{key}`` (a cached summary),
``slots:{pool}`` (sorted set holder -> expiry, server time), ``rl:{key}`` (rate: GCRA's
theoretical arrival time).
Multi-key updates are Lua scripts, so concurrent processes never see half a change.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ConstantBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from realtime.store.base import Doc, ShortTermStore, StoreUnavailable

_APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 2, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
"""
_SAVE = """
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[1])
for i = 3, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
if #ARGV >= 3 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return 1
"""
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 60)
  return '-1'
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(first[2]) - now)
"""
_REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local had = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 60)
if had then return 1 end
return 0
"""
_COUNT = """
local t = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(t[1]) + tonumber(t[2]) / 1e6)
return redis.call('ZCARD', KEYS[1])
"""
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local window = tonumber(ARGV[2])
local interval = window / tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > window then return tostring(new_tat - window - now) end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return '-1'
"""


class RedisShortTermStore(ShortTermStore):
    name = "redis"

    def __init__(self, url: str, prefix: str = "avatar:", timeout_s: float = 1.0) -> None:
        self.url = url
        self.prefix = prefix
        # one retry on a fresh connection: pooled connections die when Redis restarts
        self._r = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
            retry=Retry(ConstantBackoff(0.05), 1), retry_on_error=[RedisConnectionError],
            health_check_interval=10)
        self._scripts = {name: self._r.register_script(src) for name, src in (
            ("append", _APPEND), ("save", _SAVE), ("acquire", _ACQUIRE),
            ("refresh", _REFRESH), ("count", _COUNT), ("hit", _HIT))}

    async def close(self) -> None:
        await self._r.aclose()

    async def _run(self, coro) -> Any:
        try:
            return await coro
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    async def ping(self) -> bool:
        try:
            return bool(await self._r.ping())
        except (RedisError, OSError):
            return False

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # --- context --------------------------------------------------------------------------------
    async def load_context(self, session_id: str) -> Doc | None:
        async def read():
            async with self._r.pipeline(transaction=True) as p:
                p.get(self._k("ctx", session_id))
                p.lrange(self._k("ctx", session_id, "m"), 0, -1)
                return await p.execute()

        head, items = await self._run(read())
        if head is None:
            return None
        return {"messages": [orjson.loads(x) for x in items], "summary": orjson.loads(head)}

    async def append_context(self, session_id: str, messages: list[Doc], ttl_s: int) -> bool:
        keys = [self._k("ctx", session_id), self._k("ctx", session_id, "m")]
        args = [int(ttl_s), *(orjson.dumps(m) for m in messages)]
        return bool(await self._run(self._scripts["append"](keys=keys, args=args)))

    async def save_context(self, session_id: str, messages: list[Doc], summary: Doc | None,
                           ttl_s: int) -> None:
        keys = [self._k("ctx", session_id), self._k("ctx", session_id, "m")]
        args = [int(ttl_s), orjson.dumps(summary), *(orjson.dumps(m) for m in messages)]
        await self._run(self._scripts["save"](keys=keys, args=args))

    async def drop_context(self, session_id: str) -> None:
        await self._run(self._r.delete(self._k("ctx", session_id), self._k("ctx", session_id, "m")))

    # --- summaries ------------------------------------------------------------------------------
    async def get_summary(self, key: str) -> Doc | None:
        raw = await self._run(self._r.get(self._k("sum", key)))
        return orjson.loads(raw) if raw is not None else None

    async def put_summary(self, key: str, summary: Doc, ttl_s: int) -> None:
        await self._run(self._r.set(self._k("sum", key), orjson.dumps(summary), ex=int(ttl_s)))

    # --- limits ---------------------------------------------------------------------------------
    async def acquire_slot(self, pool: str, holder: str, limit: int, ttl_s: float) -> float | None:
        raw = await self._run(self._scripts["acquire"](
            keys=[self._k("slots", pool)], args=[holder, limit, ttl_s]))
        wait = float(raw)
        return None if wait < 0 else max(1.0, math.ceil(wait))

    async def refresh_slot(self, pool: str, holder: str, ttl_s: float) -> bool:
        return bool(await self._run(self._scripts["refresh"](
            keys=[self._k("slots", pool)], args=[holder, ttl_s])))

    async def release_slot(self, pool: str, holder: str) -> None:
        await self._run(self._r.zrem(self._k("slots", pool), holder))

    async def count_slots(self, pool: str) -> int:
        return int(await self._run(self._scripts["count"](keys=[self._k("slots", pool)], args=[])))

    async def hit(self, key: str, limit: int, window_s: float) -> float | None:
        raw = await self._run(self._scripts["hit"](keys=[self._k("rl", key)],
                                                    args=[limit, window_s]))
        wait = float(raw)
        return None if wait < 0 else max(1.0, math.ceil(wait))
