"""Parametric surfaces (numpy): grids with outward unit normals and triangles, ellipsoids, bodies
of revolution, tori and limbs. Metres, +Y up, facing +Z (glTF). Used by :mod:`.head` and
:mod:`.parts`; every function here is pure."""

from __future__ import annotations

import numpy as np

Mesh = tuple[np.ndarray, np.ndarray, np.ndarray]  # positions (n, 3), normals (n, 3), triangles


def unit(v: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    """Rows scaled to length 1; rows of (near) zero length become ``fallback`` (default +Y)."""
    v = np.asarray(v, np.float64)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    out = v / np.maximum(n, 1e-12)
    bad = n[..., 0] < 1e-9
    if np.any(bad):
        fb = np.array([0.0, 1.0, 0.0]) if fallback is None else fallback
        out[bad] = fb[bad] if np.ndim(fb) > 1 else fb
    return out


def surface(fn, nu: int, nv: int, u0: float = 0.002, u1: float = 0.998) -> Mesh:
    """A parametric surface fn(u, v) -> (..., 3) on a grid, v periodic. Returns positions,
    normals (outward, by central differences) and triangles (counter-clockwise outside)."""
    u = np.linspace(u0, u1, nu)
    v = np.linspace(0.0, 1.0, nv, endpoint=False)
    uu, vv = np.meshgrid(u, v, indexing="ij")
    pos = fn(uu, vv)
    e = 1e-4
    du = fn(np.clip(uu + e, 0, 1), vv) - fn(np.clip(uu - e, 0, 1), vv)
    dv = fn(uu, vv + e) - fn(uu, vv - e)
    pos = pos.reshape(-1, 3)
    centroid = pos.mean(axis=0)
    # where the grid collapses to a point (a pole), the normal points away from the centroid
    nrm = unit(np.cross(du, dv).reshape(-1, 3), unit(pos - centroid))
    i, j = np.meshgrid(np.arange(nu - 1), np.arange(nv), indexing="ij")
    a, b = i * nv + j, i * nv + (j + 1) % nv
    c, d = (i + 1) * nv + j, (i + 1) * nv + (j + 1) % nv
    tri = np.stack([np.stack([a, c, b], -1), np.stack([b, c, d], -1)], axis=2).reshape(-1, 3)
    tri = tri.astype(np.uint32)
    if np.sum(np.einsum("ij,ij->i", nrm, pos - centroid)) < 0:
        nrm = -nrm
    # winding: the geometric normal of each triangle must agree with its vertex normals
    fa = np.cross(pos[tri[:, 1]] - pos[tri[:, 0]], pos[tri[:, 2]] - pos[tri[:, 0]])
    vn = nrm[tri[:, 0]] + nrm[tri[:, 1]] + nrm[tri[:, 2]]
    flip = np.einsum("ij,ij->i", fa, vn) < 0
    tri[flip] = tri[flip][:, [0, 2, 1]]
    # drop triangles that collapsed at a pole (zero area): they only carry degenerate normals
    area = np.linalg.norm(np.cross(pos[tri[:, 1]] - pos[tri[:, 0]],
                                   pos[tri[:, 2]] - pos[tri[:, 0]]), axis=1)
    return pos, nrm, tri[area > 1e-14]


def sphere_dir(uu, vv):
    """Unit sphere: u from the top pole (0) to the bottom (1), v around; v=0 faces +Z."""
    th, ph = uu * np.pi, vv * 2 * np.pi
    return np.stack([np.sin(th) * np.sin(ph), np.cos(th), np.sin(th) * np.cos(ph)], axis=-1)


def ellipsoid(center, radii, rot_z: float = 0.0):
    c, r = np.asarray(center, float), np.asarray(radii, float)
    cz, sz = np.cos(rot_z), np.sin(rot_z)

    def fn(uu, vv):
        p = sphere_dir(uu, vv) * r
        x = p[..., 0] * cz - p[..., 1] * sz
        y = p[..., 0] * sz + p[..., 1] * cz
        return np.stack([x, y, p[..., 2]], axis=-1) + c
    return fn


def lathe(profile_y, profile_x, profile_z, squareness: float = 2.6):
    """A body of revolution with superelliptic cross-sections (x half-width, z half-depth)."""
    def fn(uu, vv):
        y = np.interp(uu, np.linspace(0, 1, len(profile_y)), profile_y)
        rx = np.interp(uu, np.linspace(0, 1, len(profile_x)), profile_x)
        rz = np.interp(uu, np.linspace(0, 1, len(profile_z)), profile_z)
        ph = vv * 2 * np.pi
        s, c = np.sin(ph), np.cos(ph)
        e = 2.0 / squareness
        return np.stack([np.sign(s) * np.abs(s) ** e * rx, y, np.sign(c) * np.abs(c) ** e * rz],
                        axis=-1)
    return fn


def limb(points, radii):
    """A tube through ``points`` (k, 3) with a circular section of ``radii`` (k,) at each,
    closed at both ends: u runs along the limb, v around it."""
    pts = np.asarray(points, float)
    rad = np.asarray(radii, float)
    t = np.linspace(0, 1, len(pts))
    axis = unit(pts[-1] - pts[0])
    helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = unit(np.cross(axis, helper))
    e2 = np.cross(axis, e1)

    def fn(uu, vv):
        # rounded ends: the radius goes to 0 over the first and last 4 % of u
        s = np.clip(uu, 0, 1)
        cap = np.sqrt(np.clip(np.minimum(s, 1 - s) / 0.04, 0, 1) * (2 - np.clip(
            np.minimum(s, 1 - s) / 0.04, 0, 1)))
        centre = np.stack([np.interp(s, t, pts[:, k]) for k in range(3)], axis=-1)
        r = np.interp(s, t, rad) * cap
        ph = vv * 2 * np.pi
        ring = np.cos(ph)[..., None] * e1 + np.sin(ph)[..., None] * e2
        return centre + r[..., None] * ring
    return fn


def torus(center, major, minor, tube):
    c = np.asarray(center, float)

    def fn(uu, vv):
        a, b = vv * 2 * np.pi, uu * 2 * np.pi
        ring = np.stack([np.cos(a) * major, np.zeros_like(a), np.sin(a) * minor], axis=-1)
        out = np.stack([np.cos(a), np.zeros_like(a), np.sin(a)], axis=-1)
        up = np.array([0.0, 1.0, 0.0])
        return c + ring + tube * (np.cos(b)[..., None] * out + np.sin(b)[..., None] * up)
    return fn
