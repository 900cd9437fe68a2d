"""Is a live conversation being served right now?

Turns hold :class:`LiveWork` while they run (``TurnEngine.run``: the prompt, the LLM, TTS,
sending), and live signals (speech began, a typed message) hold it for a window that covers the
rest of the utterance and its transcription, until the turn takes over. Background CPU work
subscribes: avatar jobs pause while it is held, so on a small machine a live turn never shares
the cores with a job (nice 19 does not help when the two cores are one core's hyperthreads).

Background work must not starve: after ``max_hold_s`` of continuous live work the subscribers
are told "idle" for ``slice_s``, then "busy" again if it still is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)


class LiveWork:
    def __init__(self, *, window_s: float = 8.0, max_hold_s: float = 30.0,
                 slice_s: float = 3.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self.max_hold_s, self.slice_s = window_s, max_hold_s, slice_s
        self.clock = clock
        self._holds = 0
        self._until = 0.0  # live signals hold until then
        self._busy = False  # what the subscribers were last told
        self._busy_since = 0.0
        self._slice_until = 0.0  # background work's turn (anti-starvation) ends then
        self._listeners: list[Callable[[bool], None]] = []
        self._turn_ends: list[Callable[[], None]] = []
        self._timer: asyncio.TimerHandle | None = None
        self.pauses = 0  # busy episodes, for tests and logs

    # ------------------------------------------------------------------ API
    def subscribe(self, on_change: Callable[[bool], None]) -> Callable[[], None]:
        """``on_change(busy)`` on every change (never raises into the caller); -> unsubscribe."""
        return _add(self._listeners, on_change)

    def subscribe_turn_ends(self, on_end: Callable[[], None]) -> Callable[[], None]:
        """``on_end()`` each time the last turn in progress ends (live signals may still hold
        the window: the user is listening to the answer); -> unsubscribe."""
        return _add(self._turn_ends, on_end)

    @property
    def busy(self) -> bool:
        return self._busy

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Live work in progress (a turn)."""
        self._holds += 1
        self._update()
        try:
            yield
        finally:
            self._holds -= 1
            self._update()
            if not self._holds:
                _notify(self._turn_ends, "turn-end")

    def poke(self, reason: str = "", window_s: float | None = None) -> None:
        """A live signal: live work is coming (speech began, a typed message)."""
        self._until = max(self._until, self.clock() + (window_s or self.window_s))
        self._update()

    # ------------------------------------------------------------------ internals
    def _wanted(self, now: float) -> bool:
        return self._holds > 0 or now < self._until

    def _update(self) -> None:
        now = self.clock()
        wanted = self._wanted(now)
        busy = wanted and now >= self._slice_until
        if busy and self._busy and now - self._busy_since >= self.max_hold_s:
            self._slice_until = now + self.slice_s  # background work's turn
            busy = False
        if busy != self._busy:
            self._busy = busy
            if busy:
                self._busy_since = now
                self.pauses += 1
            _notify(self._listeners, "live-work", busy)
        self._schedule(now, wanted)

    def _schedule(self, now: float, wanted: bool) -> None:
        """Wake up at the next moment the answer can change without a call."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        times = []
        if now < self._until:
            times.append(self._until)
        if now < self._slice_until and wanted:
            times.append(self._slice_until)
        if self._busy:
            times.append(self._busy_since + self.max_hold_s)
        if not times:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a unit test's synchronous use): the next call updates
        self._timer = loop.call_later(max(0.0, min(times) - now) + 0.001, self._update)


def _add(listeners: list[Callable], fn: Callable) -> Callable[[], None]:
    """Subscribe ``fn``; -> unsubscribe (harmless twice)."""
    listeners.append(fn)
    return lambda: listeners.remove(fn) if fn in listeners else None


def _notify(listeners: list[Callable], what: str, *args) -> None:
    """Call every subscriber; one that raises is logged, the others still hear."""
    for fn in list(listeners):
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - a subscriber's trouble is its own
            log.exception("%s subscriber failed", what)
