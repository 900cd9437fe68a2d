"""``style``: the photo in a style (chibi, anime, cartoon). On ComfyUI when one is configured
(``AVATAR_GPU_COMFYUI_URL``: the versioned workflow, under a ``gpu_host`` lease on the ``style``
plan, yielding when the conversation needs the GPU); otherwise the CPU toon filter, which says
what it is (``notes``). ``none`` keeps the photo. Output: ``styled.png`` (a style job's result:
``style.png``)."""

from __future__ import annotations

from avatar_engine.engines import comfyui, toon


def _preset(ctx) -> tuple[str, float]:
    o = ctx.options
    if ctx.job["kind"] == "style":
        return o.get("style_preset", "anime"), float(o.get("strength", 0.8))
    return o.get("style", "none"), float(o.get("strength", 0.6))


async def run(ctx) -> None:
    preset, strength = _preset(ctx)
    out = "style.png" if ctx.job["kind"] == "style" else "styled.png"
    if preset == "none":
        return
    photo = await ctx.file("photo")
    url = getattr(getattr(ctx.gpu, "settings", None), "comfyui_url", "") if ctx.gpu else ""
    if url:
        png = await comfyui.stylize(ctx, url, photo, preset, strength)
        engine = "comfyui"
    else:
        png = await ctx.cpu(toon.stylize, photo, preset, strength)
        engine = "toon-filter (CPU)"
        await ctx.note("style: no ComfyUI configured; a classical toon filter (edge-preserving "
                       "smoothing, colour quantisation, ink lines) stands in for diffusion")
    await ctx.save(out, png)
    await ctx.set(style_engine=engine)
