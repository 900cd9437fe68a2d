"""The ``Skin`` texture: plain skin, soft blush on the cheeks, and (from a photo) the face decal.

Layout (``TEXCOORD_0`` of the skin): the front of the head is projected straight on (x, y), the
face in the middle of the square; everything behind the ears, the neck and the hands sit on the
rim, which is always plain skin -- so the decal can only ever show on the face.
"""

from __future__ import annotations

import numpy as np

from avatar_engine.template.head import Head
from avatar_engine.template.parts import Part

SPAN = 1.15  # the square covers the head's half-width/height times this


def project(head: Head, x, y) -> np.ndarray:
    """Texture coordinates (u right, v down, 0..1) of points (x, y) on the front of the head."""
    nx = (np.asarray(x, float) - head.c[0]) / (head.r[0] * SPAN)
    ny = (np.asarray(y, float) - head.c[1]) / (head.r[1] * SPAN)
    return np.stack([0.5 + 0.49 * nx, 0.5 - 0.49 * ny], axis=-1)


def assign_uv(parts: list[Part], head: Head) -> None:
    """UVs for the head's skin (head, nose, ears): front on, the back onto the rim."""
    for part in parts:
        if part.material != "Skin" or part.region != "head":
            continue
        p = part.pos.astype(float)
        uv = project(head, p[:, 0], p[:, 1])
        d = uv - 0.5
        r = np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
        back = (p[:, 2] - head.c[2]) <= 0.0
        uv[back] = 0.5 + d[back] / r[back] * 0.495
        part.uv = np.clip(uv, 0.0, 1.0).astype(np.float32)


def skin_texture(head: Head, skin_rgb, face: np.ndarray | None, size: int) -> np.ndarray:
    """RGB uint8 (size, size): skin, blush, and the face decal (RGBA) composited over them."""
    skin = np.asarray(skin_rgb, float) * 255.0
    img = np.tile(skin, (size, size, 1))
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    blush = np.array([255.0, 140.0, 140.0])
    for side in (1, -1):
        u, v = project(head, side * 0.072, head.mouth_y + 0.032)
        a = 0.32 * np.exp(-(((xx - u) / 0.055) ** 2 + ((yy - v) / 0.03) ** 2))
        img = img * (1 - a[..., None]) + blush * a[..., None]
    if face is not None:
        if face.shape[:2] != (size, size):
            raise ValueError(f"face decal is {face.shape[:2]}, the texture {size}x{size}")
        a = face[..., 3:4].astype(float) / 255.0
        img = img * (1 - a) + face[..., :3].astype(float) * a
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
