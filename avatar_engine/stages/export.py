"""``export``: the GLB (and, when asked, the VRM 1.0 file): ``model.glb``, ``model.vrm``."""

from __future__ import annotations

from avatar_engine.template import Avatar, export


def write(data: bytes, vrm: bool) -> tuple[bytes, bytes | None]:
    avatar = Avatar.from_bytes(data)
    return export(avatar), export(avatar, vrm=True) if vrm else None


async def run(ctx) -> None:
    glb, vrm = await ctx.cpu(write, await ctx.file("avatar"), bool(ctx.options.get("vrm")))
    await ctx.save("model.glb", glb)
    if vrm is not None:
        await ctx.save("model.vrm", vrm)
