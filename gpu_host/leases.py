"""Leases: how background work (an avatar job's stage) borrows the GPU.

A job asks for a lease on an avatar plan for one stage; the lease is ``queued``, then
``granted`` (the plan is applied: the job may use the service), and ends ``released`` (the job is
done with the stage or gave up), ``preempted`` (a live conversation signal took the GPU back: the
service was interrupted; the job saves nothing more and asks again, resuming from its last
checkpoint), ``expired`` (nobody polled it for ``lease_ttl_s``) or ``refused`` (the plan can never
fit). A job reports progress and its last checkpoint with each poll, for the operator view.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from gpu_host.aio import wait_event

_ids = itertools.count(1)
ACTIVE = ("queued", "granted")


@dataclass(eq=False)
class Lease:
    job_id: str
    plan: str
    stage: str
    est_s: float | None
    queued_at: float  # loop time of this request
    first_wait: float  # when this job first asked for this stage (kept across preemptions)
    id: str = field(default_factory=lambda: f"L{next(_ids)}")
    state: str = "queued"
    granted_at: float | None = None
    ended_at: float | None = None
    protected_until: float | None = None  # a starving job's minimum lease
    progress: float | None = None
    checkpoint: Any = None
    error: str | None = None
    last_seen: float = 0.0
    created_wall: float = field(default_factory=time.time)
    _event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def changed(self) -> None:
        """Wake everyone waiting on this lease (a new event for the next change)."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_change(self, timeout_s: float) -> None:
        """Until the lease changes state or ``timeout_s`` passes (whichever is first)."""
        await wait_event(self._event, timeout_s)

    def end(self, state: str, now: float, error: str | None = None) -> None:
        self.state, self.ended_at, self.error = state, now, error
        self.changed()

    def to_dict(self, now: float) -> dict:
        def ago(t: float | None) -> float | None:
            return None if t is None else round(now - t, 3)

        return {"lease_id": self.id, "job_id": self.job_id, "plan": self.plan,
                "stage": self.stage, "state": self.state, "est_s": self.est_s,
                "waited_s": round((self.granted_at or self.ended_at or now) - self.queued_at, 3),
                "job_waiting_s": round(now - self.first_wait, 3),
                "granted_s_ago": ago(self.granted_at), "ended_s_ago": ago(self.ended_at),
                "protected": self.protected_until is not None and now < self.protected_until,
                "progress": self.progress, "checkpoint": self.checkpoint, "error": self.error}
