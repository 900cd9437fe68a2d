"""``face``: the morph targets -- 15 visemes, blinks, mouthOpen, mouthSmile, eyesClosed and the emotion shapes."""

from __future__ import annotations

from avatar_engine.stages._steps import run_step


async def run(ctx) -> None:
    await run_step(ctx, "face")
