"""``thumbnail``: a 256 x 256 PNG of the avatar's head and shoulders, drawn on the CPU by a small
numpy rasteriser (flat-shaded triangles, a depth buffer, the skin texture sampled per triangle):
no GPU, no browser. ``thumbnail.png``."""

from __future__ import annotations

import numpy as np

from avatar_engine.photo.image import encode_png
from avatar_engine.template import Avatar
from avatar_engine.template.avatar import _proportioned

SIZE = 256
LIGHT = np.array([-0.35, 0.55, 0.76]) / np.linalg.norm([-0.35, 0.55, 0.76])
BACKGROUND = np.array([34, 44, 56], np.float64)


def _colours(avatar: Avatar, part, tri: np.ndarray) -> np.ndarray:
    """sRGB 0..1 per triangle."""
    look = avatar.look()
    n = len(tri)
    if part.material == "Skin" and part.uv is not None and avatar.texture is not None:
        uv = part.uv[tri].mean(axis=1)
        h, w = avatar.texture.shape[:2]
        px = avatar.texture[np.clip((uv[:, 1] * h).astype(int), 0, h - 1),
                            np.clip((uv[:, 0] * w).astype(int), 0, w - 1)]
        return px / 255.0
    if part.color is not None:  # linear vertex colours
        return np.clip(part.color[tri].mean(axis=1), 0, 1) ** (1 / 2.2)
    rgb = {"EyeWhite": (0.97, 0.97, 0.97), "Skin": look["Skin"]}.get(part.material) \
        or look.get(part.material, (0.7, 0.7, 0.7))
    return np.tile(np.asarray(rgb, float), (n, 1))


def render(data: bytes, size: int = SIZE) -> bytes:
    avatar = Avatar.from_bytes(data)
    parts, skeleton = _proportioned(avatar)
    head = dict((n, np.asarray(w)) for n, _, w in skeleton)["Head"]
    centre = np.array([0.0, head[1] - 0.01])
    scale = size / 0.5  # pixels per metre: 50 cm of avatar across the picture
    tris, cols = [], []
    for part in parts:
        p = part.pos.astype(np.float64)
        t = p[part.tri]  # (m, 3, 3)
        normal = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
        front = normal[:, 2] > -0.05
        shade = 0.42 + 0.58 * np.clip(normal @ LIGHT, 0, 1)
        tris.append(t[front])
        cols.append(_colours(avatar, part, part.tri[front]) * shade[front, None])
    t = np.concatenate(tris)
    col = np.concatenate(cols)
    xy = np.empty(t.shape[:2] + (2,))
    xy[..., 0] = (t[..., 0] - centre[0]) * scale + size / 2
    xy[..., 1] = size / 2 - (t[..., 1] - centre[1]) * scale
    z = t[..., 2]
    return encode_png(_raster(xy, z, col, size))


def _raster(xy: np.ndarray, z: np.ndarray, col: np.ndarray, size: int) -> np.ndarray:
    lo = np.floor(xy.min(axis=1)).astype(int)
    hi = np.ceil(xy.max(axis=1)).astype(int)
    k = np.maximum(hi - lo, 1).max(axis=1)
    inside = (hi[:, 0] >= 0) & (lo[:, 0] < size) & (hi[:, 1] >= 0) & (lo[:, 1] < size) & (k < 96)
    pix, depth, colour = [], [], []
    for kk in np.unique(k[inside]):  # triangles of one bounding-box size at a time
        sel = np.flatnonzero(inside & (k == kk))
        gx, gy = np.meshgrid(np.arange(kk + 1), np.arange(kk + 1))
        px = lo[sel, 0, None] + gx.ravel()[None] + 0.5
        py = lo[sel, 1, None] + gy.ravel()[None] + 0.5
        a, b, c = xy[sel, 0], xy[sel, 1], xy[sel, 2]
        den = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
        den = np.where(np.abs(den) < 1e-12, 1e-12, den)[:, None]
        w0 = ((b[:, 1, None] - c[:, 1, None]) * (px - c[:, 0, None])
              + (c[:, 0, None] - b[:, 0, None]) * (py - c[:, 1, None])) / den
        w1 = ((c[:, 1, None] - a[:, 1, None]) * (px - c[:, 0, None])
              + (a[:, 0, None] - c[:, 0, None]) * (py - c[:, 1, None])) / den
        w2 = 1 - w0 - w1
        hit = (w0 >= -1e-6) & (w1 >= -1e-6) & (w2 >= -1e-6) & (px >= 0) & (px < size) \
            & (py >= 0) & (py < size)
        zz = w0 * z[sel, 0, None] + w1 * z[sel, 1, None] + w2 * z[sel, 2, None]
        tri_i = np.broadcast_to(np.arange(len(sel))[:, None], hit.shape)
        pix.append((py[hit].astype(int) * size + px[hit].astype(int)))
        depth.append(zz[hit])
        colour.append(col[sel][tri_i[hit]])
    img = np.tile(BACKGROUND, (size * size, 1))
    if pix:
        pix, depth, colour = np.concatenate(pix), np.concatenate(depth), np.concatenate(colour)
        order = np.lexsort((depth, pix))  # per pixel, the nearest (largest z) comes last
        last = np.r_[pix[order][1:] != pix[order][:-1], True]
        img[pix[order][last]] = np.clip(colour[order][last], 0, 1) * 255.0
    return img.reshape(size, size, 3).astype(np.uint8)


async def run(ctx) -> None:
    await ctx.save("thumbnail.png", await ctx.cpu(render, await ctx.file("avatar")))
