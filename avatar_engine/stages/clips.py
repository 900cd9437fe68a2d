"""``clips``: the ``idle`` and ``talk`` animations, looping."""

from __future__ import annotations

from avatar_engine.stages._steps import run_step


async def run(ctx) -> None:
    await run_step(ctx, "clips")
