"""The template steps on a checkpoint, in the job process (``rig``, ``face``, ``clips``)."""

from __future__ import annotations

from avatar_engine.template import Avatar, avatar as steps


def step(data: bytes, name: str) -> bytes:
    return getattr(steps, name)(Avatar.from_bytes(data)).to_bytes()


async def run_step(ctx, name: str) -> None:
    await ctx.save("avatar", await ctx.cpu(step, await ctx.file("avatar"), name))
