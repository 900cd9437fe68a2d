"""``build``: the template avatar from the (styled) photo -- colours measured on the photo
(skin, hair, eyes, lips), head proportions from landmark ratios, the face texture aligned on the
landmarks with the eyes and mouth cut out; hairstyle and body from the options; chibi
proportions for the chibi style. With the experimental ``gpu3d`` engine, the sidecar's mesh
replaces the template's skin, hair and clothes (see :mod:`avatar_engine.engines.gpu3d`).
Output: the ``avatar`` checkpoint."""

from __future__ import annotations

import json

import numpy as np

from avatar_engine.photo import decal, palette
from avatar_engine.photo.image import load_rgb
from avatar_engine.photo.landmarks import Face, person_mask
from avatar_engine.template import Look, Spec, build


def make(photo: bytes, styled: bytes | None, face_doc: dict, options: dict) -> tuple[bytes, dict]:
    """In the job process: -> (the avatar checkpoint, what was measured)."""
    rgb = load_rgb(photo)
    face = Face.from_doc(face_doc)
    colours = palette.measure(rgb, face, person_mask(rgb))  # measured on the photo itself
    look = Look(**{k: v for k, v in colours.items() if v is not None})
    spec = Spec(name=options.get("name", "My avatar"), body=options.get("body", "head_shoulders"),
                hair=options.get("hair", "bob"), chibi=options.get("style") == "chibi",
                look=look, proportions=decal.proportions(face))
    source = load_rgb(styled) if styled is not None else rgb
    if source.shape[:2] != rgb.shape[:2]:  # a styled image of another size: same landmarks
        scale = np.array([source.shape[1] / rgb.shape[1], source.shape[0] / rgb.shape[0], 1.0])
        face = Face(face.points * scale, face.box, face.score, face.faces)
    spec = spec.with_(face=decal.face_texture(source, face, spec))
    avatar = build(spec)
    info = {"palette": colours, "proportions": spec.proportions.__dict__,
            "unmeasured": sorted(k for k, v in colours.items() if v is None)}
    return avatar.to_bytes(), info


async def run(ctx) -> None:
    face_doc = json.loads(await ctx.file("face.json"))
    data, info = await ctx.cpu(make, await ctx.file("photo"), await ctx.file("styled.png"),
                               face_doc, ctx.options)
    if info["unmeasured"]:
        await ctx.note(f"build: {', '.join(info['unmeasured'])} not found on the photo; "
                       f"the default colour is used")
    if ctx.job.get("engine") == "gpu3d":
        from avatar_engine.engines import gpu3d

        data = await gpu3d.replace_mesh(ctx, data)
    await ctx.save("avatar", data)
    await ctx.set(palette=info["palette"], proportions=info["proportions"])
