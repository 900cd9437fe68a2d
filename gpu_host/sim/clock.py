"""An asyncio event loop on a virtual clock: when every task waits on a timer, time jumps to
the next timer instead of sleeping. A simulated day runs in seconds; the code under test uses
``loop.time()``, ``asyncio.sleep`` and ``asyncio.wait_for`` as usual. No real I/O may be awaited
(a loop with nothing scheduled and nothing ready raises instead of hanging)."""

from __future__ import annotations

import asyncio


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        super().__init__()
        self._virtual = 0.0
        real_select = self._selector.select

        def select(timeout: float | None = None):
            events = real_select(0)
            if events:
                return events
            if timeout is None:
                raise RuntimeError("virtual clock: every task waits and no timer is set")
            self._virtual += timeout
            return events

        self._selector.select = select  # type: ignore[method-assign]

    def time(self) -> float:
        return self._virtual


def run(coro):
    """Run ``coro`` to its end on a fresh virtual-clock loop."""
    loop = VirtualClockLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
