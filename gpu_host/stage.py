"""Running one stage of a background job in leases: preempted, then resumed from a checkpoint.

``unit(checkpoint)`` does one piece of GPU work (a ComfyUI prompt, a gen3d run) and returns
``(checkpoint, done)``. A preemption (or a lost GPU host) cancels the unit in flight: its work is
lost, the checkpoint stays where the last finished unit left it, and the stage asks for a new
lease, which the scheduler grants in the next idle window. Units are the granularity of
preemption: keep them short (one prompt, one view), checkpoint after each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from gpu_host.aio import wait_event
from gpu_host.client import GpuClient
from gpu_host.errors import GpuError

log = logging.getLogger(__name__)
Unit = Callable[[Any], Awaitable[tuple[Any, bool]]]
PREEMPT_NEWS_S = 5.0  # a unit that failed waits this long for the lease's own news


async def run_stage(client: GpuClient, job_id: str, plan: str, stage: str, unit: Unit, *,
                    checkpoint: Any = None, est_s: float | None = None, retry_s: float = 1.0,
                    progress: Callable[[Any], float | None] | None = None,
                    on_checkpoint: Callable[[Any], Awaitable[None] | None] | None = None,
                    stats: dict[str, int] | None = None) -> Any:
    """Run ``unit`` under leases until it says done; returns the final checkpoint.

    ``on_checkpoint`` persists each checkpoint (the job record); ``progress`` maps one to 0..1;
    ``stats`` (if given) counts leases, preemptions, lost hosts, units done and units lost.
    """
    stats = stats if stats is not None else {}
    for key in ("leases", "preempted", "lost", "units", "units_lost"):
        stats.setdefault(key, 0)
    while True:
        try:
            handle = await client.request_lease(job_id, plan, stage, est_s)
        except GpuError as exc:
            if exc.code != "SERVICE_UNAVAILABLE":
                raise  # the plan can never fit, or a bad request
            await asyncio.sleep(retry_s)  # the host is down: try again later
            continue
        try:
            if not await handle.wait_granted():
                stats["lost" if handle.lost else "preempted"] += 1
                await asyncio.sleep(retry_s if handle.lost else 0)
                continue
            stats["leases"] += 1
            while True:
                work = asyncio.ensure_future(unit(checkpoint))
                ended = asyncio.ensure_future(handle.ended.wait())
                await asyncio.wait({work, ended}, return_when=asyncio.FIRST_COMPLETED)
                ended.cancel()
                if not work.done():  # preempted or lost: the unit's work is lost
                    work.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await work
                    stats["units_lost"] += 1
                    stats["lost" if handle.lost else "preempted"] += 1
                    break
                try:
                    checkpoint, done = work.result()
                except Exception as exc:  # noqa: BLE001
                    # the service may report the interruption (ComfyUI's execution_interrupted)
                    # before the lease does: give the lease a moment to say it was preempted
                    if await wait_event(handle.ended, PREEMPT_NEWS_S):
                        stats["units_lost"] += 1
                        stats["lost" if handle.lost else "preempted"] += 1
                        break
                    raise exc
                stats["units"] += 1
                if on_checkpoint is not None:
                    result = on_checkpoint(checkpoint)
                    if asyncio.iscoroutine(result):
                        await result
                handle.report(progress(checkpoint) if progress else None, checkpoint)
                if done:
                    await handle.release(completed=True, checkpoint=checkpoint)
                    return checkpoint
        finally:
            if not handle.ended.is_set():
                await handle.release(completed=False, checkpoint=checkpoint)
            else:
                await handle.release()
        if handle.lost:
            await asyncio.sleep(retry_s)

