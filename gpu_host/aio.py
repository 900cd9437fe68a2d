"""Small asyncio helpers. ``asyncio.timeout`` rather than ``wait_for``: on Python 3.11
``wait_for`` swallows a cancellation that arrives as the awaited thing completes, and a
scheduler loop that cannot be cancelled never shuts down."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """True if ``event`` is set within ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
        return True
    except TimeoutError:
        return event.is_set()


async def poll_until(check, timeout_s: float, interval_s: float) -> bool:
    """Call ``await check()`` every ``interval_s`` until it is true or ``timeout_s`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        if await check():
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(interval_s)
