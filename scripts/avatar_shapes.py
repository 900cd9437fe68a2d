"""Parametric surfaces for the default avatar (numpy): grids with outward normals, ellipsoids,
bodies of revolution, tori, the head, its hair, and the mouth as a function of its parameters
(open, wide, round, press, tuck, tongue, smile, frown). Used by avatar_model.py."""

from __future__ import annotations

import numpy as np

HEAD_C = np.array([0.0, 1.615, 0.0])
HEAD_R = np.array([0.112, 0.132, 0.118])
MOUTH_Y = 1.556
EYE_Y = 1.634
EYE_X = 0.045


def surface(fn, nu: int, nv: int, u0: float = 0.002, u1: float = 0.998):
    """A parametric surface fn(u, v) -> (..., 3) on a grid, v periodic. Returns positions,
    normals (outward by central differences) and triangle indices (counter-clockwise outside)."""
    u = np.linspace(u0, u1, nu)
    v = np.linspace(0.0, 1.0, nv, endpoint=False)
    uu, vv = np.meshgrid(u, v, indexing="ij")
    pos = fn(uu, vv)
    e = 1e-4
    du = fn(np.clip(uu + e, 0, 1), vv) - fn(np.clip(uu - e, 0, 1), vv)
    dv = fn(uu, vv + e) - fn(uu, vv - e)
    nrm = np.cross(du, dv)
    nrm /= np.maximum(np.linalg.norm(nrm, axis=-1, keepdims=True), 1e-12)
    idx = []
    for i in range(nu - 1):
        for j in range(nv):
            a, b = i * nv + j, i * nv + (j + 1) % nv
            c, d = (i + 1) * nv + j, (i + 1) * nv + (j + 1) % nv
            idx += [(a, c, b), (b, c, d)]
    pos, nrm = pos.reshape(-1, 3), nrm.reshape(-1, 3)
    tri = np.array(idx, dtype=np.uint32)
    centroid = pos.mean(axis=0)
    if np.sum(np.einsum("ij,ij->i", nrm, pos - centroid)) < 0:
        nrm = -nrm
    # winding: the geometric normal of each triangle must agree with its vertex normals
    fa = np.cross(pos[tri[:, 1]] - pos[tri[:, 0]], pos[tri[:, 2]] - pos[tri[:, 0]])
    vn = nrm[tri[:, 0]] + nrm[tri[:, 1]] + nrm[tri[:, 2]]
    flip = np.einsum("ij,ij->i", fa, vn) < 0
    tri[flip] = tri[flip][:, [0, 2, 1]]
    return pos, nrm, tri


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


def head_fn(uu, vv):
    p = sphere_dir(uu, vv)
    y = p[..., 1]
    # narrower towards the chin, a touch fuller at the cheeks
    taper = 1.0 - 0.15 * np.clip(-y, 0, 1) ** 1.5 + 0.03 * np.exp(-((y + 0.25) / 0.2) ** 2)
    chin = 1.0 + 0.06 * np.clip(-y - 0.5, 0, 1)  # the chin forward a little
    return np.stack([p[..., 0] * HEAD_R[0] * taper, y * HEAD_R[1],
                     p[..., 2] * HEAD_R[2] * np.where(p[..., 2] > 0, chin, 1.0)], axis=-1) + HEAD_C


def head_front_z(x: float, y: float) -> float:
    """z of the head surface in front of (x, y) (the face is where features sit)."""
    uu, vv = np.meshgrid(np.linspace(0.3, 0.8, 400), np.linspace(-0.25, 0.25, 400), indexing="ij")
    p = head_fn(uu, vv % 1.0)
    d = (p[..., 0] - x) ** 2 + (p[..., 1] - y) ** 2
    i = np.unravel_index(np.argmin(d), d.shape)
    return float(p[i][2])


def hair_fn(uu, vv):
    ph = vv * 2 * np.pi
    back = ((1 - np.cos(ph)) / 2) ** 0.8
    front = np.clip(np.cos(ph), 0, 1)
    th_max = np.pi * (0.3 + 0.38 * back + 0.04 * front * np.abs(np.sin(4.5 * ph)))
    th = uu * th_max
    d = np.stack([np.sin(th) * np.sin(ph), np.cos(th), np.sin(th) * np.cos(ph)], axis=-1)
    scale = HEAD_R * np.array([1.1, 1.08, 1.09])
    puff = 1.0 + 0.03 * np.sin(uu * np.pi)  # a little volume in the middle
    return d * scale * puff[..., None] + HEAD_C + np.array([0.0, 0.012, -0.006])


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


def torus(center, major, minor, tube):
    c = np.asarray(center, float)

    def fn(uu, vv):
        a, b = vv * 2 * np.pi, uu * 2 * np.pi
        ring = np.stack([np.cos(a) * major, np.zeros_like(a), np.sin(a) * minor], axis=-1)
        out = np.stack([np.cos(a), np.zeros_like(a), np.sin(a)], axis=-1)
        up = np.array([0.0, 1.0, 0.0])
        return c + ring + tube * (np.cos(b)[..., None] * out + np.sin(b)[..., None] * up)
    return fn


# ------------------------------------------------------------------------------------ mouth
MOUTH_Z = head_front_z(0.0, MOUTH_Y)


def mouth_shape(p: dict[str, float]):
    """Every mouth part for the parameters ``p``; the same vertex order for any ``p``."""
    open_, wide, rnd = p.get("open", 0.0), p.get("wide", 0.0), p.get("round", 0.0)
    press, tuck = p.get("press", 0.0), p.get("tuck", 0.0)
    smile, frown = p.get("smile", 0.0), p.get("frown", 0.0)
    half_w = 0.027 * (1 + 0.22 * wide - 0.36 * rnd + 0.1 * smile)
    up = 0.0035 + 0.004 * open_ + 0.004 * rnd - 0.0015 * press
    down = 0.0035 + 0.019 * open_ + 0.006 * rnd - 0.0015 * press
    pout = 0.007 * rnd
    tube_y = 0.0052 * (1 - 0.45 * press)

    def lips(uu, vv):
        a, b = vv * 2 * np.pi, uu * 2 * np.pi
        ca, sa = np.cos(a), np.sin(a)
        x = ca * half_w
        y = np.where(sa >= 0, sa * up, sa * down)
        corner = ca ** 2
        y = y + corner * (0.0045 * smile - 0.004 * frown)
        lower = np.clip(-sa, 0, 1)
        y = y + lower * 0.004 * tuck
        z = MOUTH_Z + 0.003 - 2.4 * x ** 2 + pout * (1 - corner * 0.6) - lower * 0.004 * tuck
        # tube: radial direction in the x/y plane plus z
        cb, sb = np.cos(b), np.sin(b)
        px = x + cb * ca * 0.0052
        py = y + cb * sa * tube_y
        pz = z + sb * 0.0058
        return np.stack([px, py + MOUTH_Y, pz], axis=-1)

    mid_y = MOUTH_Y + (up - down) / 2
    gap = up + down
    tongue_up, tongue_out = p.get("tongue_up", 0.0), p.get("tongue_out", 0.0)
    return {
        "lips": surface(lips, 12, 40, 0.0, 1.0),
        "mouth": surface(ellipsoid((0, mid_y, MOUTH_Z - 0.004),
                                   (half_w * 0.92, max(0.0025, gap * 0.55), 0.008)), 8, 20),
        "teeth_up": surface(ellipsoid((0, MOUTH_Y + up - 0.006, MOUTH_Z - 0.0008),
                                      (half_w * 0.62, 0.004, 0.0045)), 6, 16),
        "teeth_down": surface(ellipsoid((0, MOUTH_Y - down + 0.004,
                                         MOUTH_Z - 0.0045 - 0.003 * tuck),
                                        (half_w * 0.5, 0.0026, 0.004)), 6, 16),
        "tongue": surface(ellipsoid((0, MOUTH_Y - down + 0.0045 + 0.007 * tongue_up
                                     + 0.004 * tongue_out,
                                     MOUTH_Z - 0.009 + 0.013 * tongue_out),
                                    (0.012, 0.0042, 0.009)), 6, 16),
    }
