"""Job events between worker processes and the servers holding the users' WebSockets:
``job.progress``, ``job.done`` (pushed to the owner's ``/ws`` sessions) and ``job.cancel``
(a worker running that job stops it at once).

In one process (no Redis) they are plain callbacks; with Redis, a pub/sub channel every
server and worker subscribes to (a worker may run on another host than the user's server).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
Handler = Callable[[dict], Awaitable[None] | None]


class Events:
    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler) if handler in self._handlers else None

    async def _dispatch(self, event: dict) -> None:
        for handler in list(self._handlers):
            try:
                result = handler(event)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001 - one bad listener must not stop the others
                log.exception("job event handler failed")

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def publish(self, event: dict) -> None:
        await self._dispatch(event)


class RedisEvents(Events):
    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        import redis.asyncio as redis

        self.channel = channel
        self._redis = redis.from_url(url)
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="avatar-job-events")
        async with asyncio.timeout(10):
            await self._ready.wait()

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as ps:
                    await ps.subscribe(self.channel)
                    self._ready.set()
                    async for msg in ps.listen():
                        if msg.get("type") == "message":
                            await self._dispatch(json.loads(msg["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis restarted: subscribe again
                log.warning("job events: %s; resubscribing", exc)
                await asyncio.sleep(1.0)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._redis.aclose()

    async def publish(self, event: dict) -> None:
        try:
            await self._redis.publish(self.channel, json.dumps(event))
        except Exception as exc:  # noqa: BLE001 - progress is best effort; the record is kept
            log.warning("job event not published: %s", exc)
