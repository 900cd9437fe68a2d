"""Who is speaking: the one owner of a conversation's speaking turn.

Every response — typed, spoken, replayed (``response.speak``), REST — starts and is cut here, so
the rules hold by construction (cf. LiveKit's ``AgentActivity._schedule_speech`` and
``SpeechHandle``, Pipecat's interruption in the base frame processor):

1. **One live response.** :meth:`Floor.start` makes a response live and cuts the previous one in
   the same synchronous step — no ``await`` between deciding and cutting — so inputs racing
   through prompt preparation (token counts, summaries) can never both speak. The new response
   waits for the cut one's ``response.done`` before its own ``response.started``.
2. **A cut is decided at once, announced once.** :meth:`Floor.cut` fixes the playback position
   (``stop_ms``: what was heard) and the reason synchronously; a second cut is a no-op. A response
   still producing (prompt, LLM, synthesis, sending) is cancelled; one already finishing is never
   cancelled. Whoever ends the response announces it: the response's own task sends
   ``response.interrupted`` right before its ``response.done``; a response that had already sent
   ``response.done`` but is still playing at the client gets ``response.interrupted`` and
   ``talk_end`` from here.
3. **Every end is one end.** Completed, failed, cut or closed, the turn engine sends
   ``response.audio.done`` / ``talk_end`` (if it spoke) and ``response.done`` exactly once, after
   keeping the turn (:class:`~realtime.pipeline.response.Keeper`).
4. **History keeps what was heard.** A cut before the turn is kept keeps the heard text; a cut
   after it amends the kept turn (``Keeper.amend``, idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from realtime.pipeline.response import Response, Sink
from realtime.protocol.messages import Animation, ResponseInterrupted

Spawn = Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]
LATE_CUT_REASONS = frozenset({"barge_in", "cancel"})  # may cut an answer still playing


class Floor:
    """One conversation's responses: ids, the live one, starting and cutting them."""

    KEEP_RESPONSES = 32

    def __init__(self, engine, sink: Sink, *, rate: int, spawn: Spawn | None = None,
                 metrics=None) -> None:
        self.engine = engine  # realtime.pipeline.turn.TurnEngine
        self.sink = sink
        self.rate = rate
        self.spawn: Spawn = spawn or asyncio.create_task
        self.metrics = metrics
        self.responses: OrderedDict[int, Response] = OrderedDict()
        self.client_marks = False  # this client reports playback with playback.mark
        self._live: Response | None = None
        self._next_id = 1
        self._late: dict[int, asyncio.Task] = {}  # announcements of late cuts, by response

    # ------------------------------------------------------------------ state
    def next_id(self) -> int:
        rid = self._next_id
        self._next_id += 1
        return rid

    @property
    def active(self) -> Response | None:
        """The live response (not yet sealed), if any."""
        resp = self._live
        return resp if resp is not None and not resp.sealed else None

    def latest(self) -> Response | None:
        return next(reversed(self.responses.values()), None)

    def mark(self, resp: Response, played_ms: float) -> None:
        """``playback.mark``: how far the client has played ``resp``."""
        if not self.client_marks:
            self.client_marks = True
            for r in self.responses.values():
                r.client_marks = True
        resp.played_ms = max(resp.played_ms, min(played_ms, resp.audio_ms))
        resp.mark_time = time.perf_counter()

    # ------------------------------------------------------------------ starting
    def start(self, resp: Response) -> Response:
        """Make ``resp`` the live response, cutting the one before it (synchronously), and run
        it in a task; it starts once the cut one has sent its ``response.done``."""
        prev = self._live
        if prev is not None and not prev.finished.is_set():
            if not prev.sealed:
                self.cut(prev, "new_input")
            resp.after = prev.finished  # even a sealed one: its response.done goes first
        resp.rate = self.rate
        resp.client_marks = self.client_marks
        self._live = resp
        self.responses[resp.id] = resp
        while len(self.responses) > self.KEEP_RESPONSES:
            self.responses.popitem(last=False)
        resp.task = self.spawn(self._run(resp))
        return resp

    async def _run(self, resp: Response) -> None:
        try:
            await self.engine.run(resp, self.sink, self.rate)
        finally:
            if self._live is resp:
                self._live = None

    async def run_to_end(self, resp: Response) -> Response:
        """Start ``resp`` and wait for its end (REST). If the caller is cancelled (the client
        went away), the response is cut and still ends (and is kept) before this returns."""
        self.start(resp)
        try:
            await asyncio.shield(resp.finished.wait())
        except asyncio.CancelledError:
            self.cut(resp, "closed")
            await asyncio.shield(resp.finished.wait())
            raise
        return resp

    # ------------------------------------------------------------------ cutting
    def cut(self, resp: Response, reason: str, now: float | None = None) -> bool:
        """Decide a cut now (no await): fix what was heard, stop production. Returns False if
        there is nothing to cut (already cut, or ended and no longer playing)."""
        if resp.cut_reason is not None:
            return False
        now = time.perf_counter() if now is None else now
        if resp.sealed:  # it has ended (or is sending its last events): cut what still plays
            if not (reason in LATE_CUT_REASONS and resp.status == "completed"
                    and resp.still_playing(now)):
                return False
            resp.mark_cut(reason, now)
            task = self.spawn(self._announce_late(resp))
            self._late[resp.id] = task
            task.add_done_callback(lambda _: self._late.pop(resp.id, None))
        else:
            resp.mark_cut(reason, now)
            if resp.phase == "producing" and resp.task is not None:
                resp.task.cancel()  # prompt, LLM stream, synthesis and sending stop here
        if self.metrics is not None:
            self.metrics.interruptions.labels(reason).inc()
        return True

    async def interrupt(self, resp: Response | None, reason: str) -> bool:
        """Cut ``resp`` and wait until the cut is announced and its history amended. Returns
        whether this call cut it (False: nothing to cut, or someone else already did)."""
        if resp is None:
            return False
        took = self.cut(resp, reason)
        if resp.cut_reason is not None:
            await resp.finished.wait()
            late = self._late.get(resp.id)
            if late is not None:
                await asyncio.wait({late})
        return took

    async def truncate(self, resp: Response, played_ms: float) -> None:
        """The client says it played exactly ``played_ms`` of ``resp`` and stopped there
        (OpenAI's ``conversation.item.truncate``): cut it at that position — even if it was cut
        before at an assumed one, or has ended and by the clock finished playing — and wait until
        the history keeps what was heard."""
        if resp.cut_reason is None and not self.cut(resp, "cancel"):
            resp.mark_cut("cancel", time.perf_counter())  # ended: only its history changes
        resp.stop_ms = round(max(0.0, min(played_ms, resp.audio_ms)), 1)
        await resp.finished.wait()
        late = self._late.get(resp.id)
        if late is not None:
            await asyncio.wait({late})
        if resp.keeper is not None:
            await resp.keeper.amend(resp)  # idempotent: a no-op when the end already kept it

    async def _announce_late(self, resp: Response) -> None:
        await resp.finished.wait()  # its response.done goes first
        with contextlib.suppress(Exception):  # the client may be gone; history still changes
            await self.sink.json(ResponseInterrupted(
                response_id=resp.id, reason=resp.cut_reason, played_ms=resp.stop_ms,
                heard_text=resp.heard_text()))
        if resp.keeper is not None:
            await resp.keeper.amend(resp)
        with contextlib.suppress(Exception):
            await self.sink.json(Animation(response_id=resp.id, t_ms=resp.stop_ms,
                                           action="talk_end"))

    async def close(self) -> None:
        """The conversation ends (client gone): cut what is live, wait for every response to
        end and be kept."""
        for resp in list(self.responses.values()):
            if not resp.sealed:
                self.cut(resp, "closed")
        for resp in list(self.responses.values()):
            if resp.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await resp.task
        for task in list(self._late.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
