"""``rig``: the skeleton (Ready Player Me bone names) and skin weights, at most three influences per vertex."""

from __future__ import annotations

from avatar_engine.stages._steps import run_step


async def run(ctx) -> None:
    await run_step(ctx, "rig")
