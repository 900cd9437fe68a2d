"""Build the default avatar: a stylised, friendly head-and-shoulders character as a skinned glTF.

    .venv/bin/python scripts/build_avatar.py                  # writes client-web/public/avatars/default.glb
    .venv/bin/python scripts/build_avatar.py OUT_DIR --vrm    # elsewhere, plus default.vrm (the tests)

Everything is made here from parametric surfaces (numpy) and written with pygltflib; nothing is
downloaded. The model (metres, +Y up, facing +Z as glTF expects):

* a skeleton Hips > Spine > Chest > Neck > Head (+ LeftEye, RightEye) and one skinned mesh with a
  primitive per material (skin, hair, shirt, collar, eyes, irises, brows, lips, mouth, teeth,
  tongue, blush);
* 21 morph targets on every primitive (zero where a part does not move): the 15 Oculus visemes
  ``viseme_sil PP FF TH DD kk CH SS nn RR aa E I O U``, ``eyeBlinkLeft``/``eyeBlinkRight`` and
  ``mouthSmile``, ``mouthFrown``, ``browInnerUp``, ``browDown`` for emotions. The mouth is a
  parametric shape (open, wide, round, press, tuck, tongue) evaluated per viseme;
* ``default.vrm`` (with ``--vrm``, not committed) is the same model with a ``VRMC_vrm`` 1.0
  extension (humanoid bones and the expressions ``aa ih ou ee oh``, blinks and emotions bound to
  those morph targets), so the client's VRM path has a model to load in the tests.

``tests/test_web_avatar.py`` regenerates the GLB and checks it against the committed one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pygltflib as g

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "client-web" / "public" / "avatars"

VISEMES = ["sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U"]
TARGETS = [f"viseme_{v}" for v in VISEMES] + [
    "eyeBlinkLeft", "eyeBlinkRight", "mouthSmile", "mouthFrown", "browInnerUp", "browDown"]

# mouth shape per viseme: open, wide, round, press, tuck (lower lip under the teeth), tongue out,
# tongue up. Unlisted parameters are 0 (the rest shape).
MOUTH = {
    "sil": {},
    "PP": {"press": 1.0},
    "FF": {"open": 0.12, "tuck": 1.0, "wide": 0.15},
    "TH": {"open": 0.25, "tongue_out": 1.0},
    "DD": {"open": 0.3, "tongue_up": 0.7},
    "kk": {"open": 0.38, "wide": 0.2},
    "CH": {"open": 0.22, "round": 0.55},
    "SS": {"open": 0.1, "wide": 0.65},
    "nn": {"open": 0.22, "tongue_up": 0.9},
    "RR": {"open": 0.25, "round": 0.6},
    "aa": {"open": 1.0, "wide": 0.1},
    "E": {"open": 0.5, "wide": 0.55},
    "I": {"open": 0.3, "wide": 0.9},
    "O": {"open": 0.7, "round": 0.8},
    "U": {"open": 0.28, "round": 1.0},
}

# joint name, parent, world position
JOINTS = [
    ("Hips", None, (0.0, 0.95, 0.0)),
    ("Spine", "Hips", (0.0, 1.13, 0.0)),
    ("Chest", "Spine", (0.0, 1.28, 0.0)),
    ("Neck", "Chest", (0.0, 1.45, -0.01)),
    ("Head", "Neck", (0.0, 1.52, -0.01)),
    ("LeftEye", "Head", (0.045, 1.634, 0.085)),
    ("RightEye", "Head", (-0.045, 1.634, 0.085)),
]
J = {name: i for i, (name, _, _) in enumerate(JOINTS)}

# head ellipsoid; the face features are placed on its surface
HEAD_C = np.array([0.0, 1.615, 0.0])
HEAD_R = np.array([0.112, 0.132, 0.118])
MOUTH_Y = 1.556
EYE_Y = 1.634
EYE_X = 0.045


def srgb(r: float, gg: float, b: float) -> list[float]:
    """sRGB colour -> linear baseColorFactor."""
    c = np.array([r, gg, b])
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return [round(float(x), 5) for x in lin] + [1.0]


MATERIALS = {  # name: (sRGB colour, roughness, extra)
    "skin": ((0.98, 0.80, 0.68), 0.62, {}),
    "hair": ((0.36, 0.22, 0.16), 0.48, {"doubleSided": True}),
    "shirt": ((0.16, 0.58, 0.62), 0.8, {}),
    "collar": ((0.96, 0.94, 0.88), 0.7, {}),
    "eye_white": ((0.97, 0.97, 0.97), 0.18, {}),
    "iris": ((0.17, 0.11, 0.09), 0.12, {}),
    "sparkle": ((1.0, 1.0, 1.0), 0.2, {"emissive": (0.9, 0.9, 0.9)}),
    "brow": ((0.30, 0.18, 0.13), 0.7, {}),
    "lips": ((0.86, 0.45, 0.45), 0.42, {}),
    "mouth": ((0.36, 0.09, 0.12), 0.9, {}),
    "teeth": ((0.98, 0.97, 0.93), 0.28, {}),
    "tongue": ((0.88, 0.42, 0.46), 0.6, {}),
    "blush": ((1.0, 0.55, 0.55), 0.8, {"alpha": 0.38}),
}


# ----------------------------------------------------------------------------------- geometry
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


# ------------------------------------------------------------------------------------ model
@dataclass
class Part:
    name: str
    material: str
    pos: np.ndarray
    nrm: np.ndarray
    tri: np.ndarray
    joints: np.ndarray = None  # (n, 4) uint8
    weights: np.ndarray = None  # (n, 4) float32
    morphs: dict[str, np.ndarray] = field(default_factory=dict)


def rigid(n: int, joint: str):
    j = np.zeros((n, 4), np.uint8)
    j[:, 0] = J[joint]
    w = np.zeros((n, 4), np.float32)
    w[:, 0] = 1.0
    return j, w


def blend_by_y(y: np.ndarray, stops: list[tuple[float, str]]):
    """Two-joint weights along y between consecutive (y, joint) stops (smoothstep blend)."""
    n = len(y)
    j = np.zeros((n, 4), np.uint8)
    w = np.zeros((n, 4), np.float32)
    for k in range(n):
        yy = y[k]
        if yy <= stops[0][0]:
            j[k, 0], w[k, 0] = J[stops[0][1]], 1.0
            continue
        if yy >= stops[-1][0]:
            j[k, 0], w[k, 0] = J[stops[-1][1]], 1.0
            continue
        for (y0, a), (y1, b) in zip(stops, stops[1:]):
            if y0 <= yy <= y1:
                t = (yy - y0) / (y1 - y0)
                t = t * t * (3 - 2 * t)
                j[k, 0], j[k, 1] = J[a], J[b]
                w[k, 0], w[k, 1] = 1 - t, t
                break
    return j, w


def add(parts: list[Part], name: str, material: str, mesh, joint: str | None = None):
    pos, nrm, tri = mesh
    part = Part(name, material, pos.astype(np.float32), nrm.astype(np.float32), tri)
    if joint:
        part.joints, part.weights = rigid(len(pos), joint)
    parts.append(part)
    return part


def build_parts() -> list[Part]:
    parts: list[Part] = []

    # --- body
    ys = [1.0, 1.02, 1.1, 1.2, 1.28, 1.33, 1.37, 1.405, 1.435, 1.458, 1.472, 1.482]
    xs = [0.0, 0.14, 0.165, 0.178, 0.186, 0.188, 0.182, 0.162, 0.122, 0.082, 0.06, 0.052]
    zs = [0.0, 0.09, 0.108, 0.112, 0.11, 0.104, 0.096, 0.085, 0.072, 0.062, 0.055, 0.052]
    torso = add(parts, "torso", "shirt", surface(lathe(ys, xs, zs), 24, 48, 0.0, 1.0))
    torso.pos[:, 2] -= 0.012
    torso.joints, torso.weights = blend_by_y(torso.pos[:, 1], [
        (1.05, "Hips"), (1.15, "Spine"), (1.33, "Chest"), (1.46, "Neck")])
    collar = add(parts, "collar", "collar", surface(torus((0, 1.468, -0.012), 0.06, 0.058, 0.0105),
                                                   8, 32, 0.0, 1.0))
    collar.joints, collar.weights = blend_by_y(collar.pos[:, 1], [(1.44, "Chest"), (1.48, "Neck")])
    neck = add(parts, "neck", "skin", surface(lathe([1.41, 1.47, 1.52, 1.58],
                                                     [0.05, 0.047, 0.046, 0.045],
                                                     [0.048, 0.045, 0.044, 0.043], 2.0),
                                               10, 32, 0.0, 1.0))
    neck.pos[:, 2] -= 0.012
    neck.joints, neck.weights = blend_by_y(neck.pos[:, 1], [(1.45, "Neck"), (1.53, "Head")])

    # --- head
    head = add(parts, "head", "skin", surface(head_fn, 36, 56), "Head")
    for side in (1, -1):
        ear_y = 1.615
        ear_x = side * (HEAD_R[0] * 0.985)
        add(parts, f"ear{side}", "skin",
            surface(ellipsoid((ear_x, ear_y, -0.005), (0.014, 0.026, 0.017)), 10, 16), "Head")
    nose_y = 1.596
    add(parts, "nose", "skin",
        surface(ellipsoid((0, nose_y, head_front_z(0, nose_y) - 0.001), (0.013, 0.011, 0.012)),
                12, 20), "Head")
    add(parts, "hair", "hair", surface(hair_fn, 22, 72, 0.0, 0.999), "Head")
    for side in (1, -1):  # locks framing the face, in front of the ears
        add(parts, f"lock{side}", "hair",
            surface(ellipsoid((side * 0.098, 1.6, 0.03), (0.028, 0.075, 0.05), rot_z=side * 0.12),
                    12, 20), "Head")
    add(parts, "bun", "hair", surface(ellipsoid((0, 1.735, -0.085), (0.052, 0.05, 0.05)), 12, 20),
        "Head")
    for side in (1, -1):
        x = side * 0.072
        add(parts, f"blush{side}", "blush",
            surface(ellipsoid((x, 1.588, head_front_z(x, 1.588) - 0.0015), (0.017, 0.01, 0.003)),
                    8, 20), "Head")

    # --- eyes (rigid to the eye bones so the client can move the gaze)
    for side, eye in ((1, "LeftEye"), (-1, "RightEye")):
        x = side * EYE_X
        z = head_front_z(x, EYE_Y)
        add(parts, f"white{side}", "eye_white",
            surface(ellipsoid((x, EYE_Y, z - 0.006), (0.019, 0.023, 0.012)), 12, 20), eye)
        add(parts, f"iris{side}", "iris",
            surface(ellipsoid((x, EYE_Y - 0.002, z + 0.004), (0.0125, 0.0155, 0.0045)), 10, 20), eye)
        add(parts, f"sparkle{side}", "sparkle",
            surface(ellipsoid((x + 0.0045, EYE_Y + 0.005, z + 0.0082), (0.0036, 0.0042, 0.0012)),
                    6, 12), eye)
        brow_y = EYE_Y + 0.036
        add(parts, f"brow{side}", "brow",
            surface(ellipsoid((x, brow_y, head_front_z(x, brow_y) + 0.001), (0.021, 0.0042, 0.005),
                              rot_z=-side * 0.12), 8, 20), "Head")

    # --- mouth (rest shape; the visemes are the same surfaces with other parameters)
    mats = {"lips": "lips", "mouth": "mouth", "teeth_up": "teeth", "teeth_down": "teeth",
            "tongue": "tongue"}
    for key, mesh in mouth_shape({}).items():
        add(parts, key, mats[key], mesh, "Head")
    _add_morphs(parts, head)
    return parts


def _add_morphs(parts: list[Part], head: Part) -> None:
    by = {p.name: p for p in parts}
    rest = {k: m[0] for k, m in mouth_shape({}).items()}

    def mouth_delta(params):
        shape = mouth_shape(params)
        return {k: (shape[k][0] - rest[k]).astype(np.float32) for k in shape}

    def jaw(open_: float) -> np.ndarray:
        """Chin and lower face drop with the mouth (head skin below the mouth, front)."""
        p = head.pos
        below = np.clip((MOUTH_Y + 0.004 - p[:, 1]) / 0.03, 0, 1)
        front = np.clip(p[:, 2] / HEAD_R[2], 0, 1) ** 1.5
        side = np.exp(-(p[:, 0] / 0.06) ** 2)
        d = np.zeros_like(p)
        d[:, 1] = -0.016 * open_ * below * front * side
        d[:, 2] = -0.002 * open_ * below * front * side
        return d

    for v in VISEMES:
        params = MOUTH[v]
        name = f"viseme_{v}"
        for key, delta in mouth_delta(params).items():
            by[key].morphs[name] = delta
        by["head"].morphs[name] = jaw(params.get("open", 0.0)).astype(np.float32)

    for side, name in ((1, "eyeBlinkLeft"), (-1, "eyeBlinkRight")):
        for part in ("white", "iris", "sparkle"):
            p = by[f"{part}{side}"]
            d = np.zeros_like(p.pos)
            d[:, 1] = (EYE_Y - 0.005 + (p.pos[:, 1] - EYE_Y) * 0.07) - p.pos[:, 1]
            d[:, 2] = -0.003 if part != "white" else 0.0
            p.morphs[name] = d
        b = by[f"brow{side}"]
        d = np.zeros_like(b.pos)
        d[:, 1] = -0.003
        b.morphs[name] = d

    for name, params in (("mouthSmile", {"smile": 1.0, "wide": 0.15}), ("mouthFrown", {"frown": 1.0})):
        for key, delta in mouth_delta(params).items():
            by[key].morphs[name] = delta
        if name == "mouthSmile":  # cheeks rise a little
            for side in (1, -1):
                bl = by[f"blush{side}"]
                d = np.zeros_like(bl.pos)
                d[:, 1] = 0.003
                bl.morphs[name] = d

    for side in (1, -1):
        b = by[f"brow{side}"]
        inner = np.clip(1 - side * b.pos[:, 0] / EYE_X + 0.3, 0, 1.6)  # 1+ at the inner end
        d = np.zeros_like(b.pos)
        d[:, 1] = 0.004 + 0.005 * inner
        b.morphs["browInnerUp"] = d
        d = np.zeros_like(b.pos)
        d[:, 1] = -0.003 - 0.004 * inner
        d[:, 2] = 0.001
        b.morphs["browDown"] = d


def merge_by_material(parts: list[Part]) -> list[Part]:
    """One primitive per material (fewer draw calls: software renderers pay per call)."""
    merged: list[Part] = []
    for material in MATERIALS:
        group = [p for p in parts if p.material == material]
        if not group:
            continue
        offsets = np.cumsum([0] + [len(p.pos) for p in group])
        names = sorted({n for p in group for n in p.morphs})
        morphs = {n: np.concatenate([p.morphs.get(n, np.zeros_like(p.pos)) for p in group])
                  for n in names}
        merged.append(Part(
            name="+".join(p.name for p in group), material=material,
            pos=np.concatenate([p.pos for p in group]), nrm=np.concatenate([p.nrm for p in group]),
            tri=np.concatenate([p.tri + off for p, off in zip(group, offsets)]),
            joints=np.concatenate([p.joints for p in group]),
            weights=np.concatenate([p.weights for p in group]), morphs=morphs))
    return merged


# ------------------------------------------------------------------------------------ glTF
class Writer:
    def __init__(self) -> None:
        self.blob = bytearray()
        self.gltf = g.GLTF2(asset=g.Asset(generator="avatar-realtime scripts/build_avatar.py",
                                          version="2.0"))
        self.gltf.buffers = [g.Buffer(byteLength=0)]

    def view(self, data: bytes, target: int | None = None) -> int:
        while len(self.blob) % 4:
            self.blob.append(0)
        self.gltf.bufferViews.append(g.BufferView(buffer=0, byteOffset=len(self.blob),
                                                  byteLength=len(data), target=target))
        self.blob += data
        return len(self.gltf.bufferViews) - 1

    def accessor(self, arr: np.ndarray, kind: str, target: int | None = None,
                 minmax: bool = False) -> int:
        comp = {np.dtype(np.float32): g.FLOAT, np.dtype(np.uint8): g.UNSIGNED_BYTE,
                np.dtype(np.uint16): g.UNSIGNED_SHORT,
                np.dtype(np.uint32): g.UNSIGNED_INT}[arr.dtype]
        acc = g.Accessor(bufferView=self.view(np.ascontiguousarray(arr).tobytes(), target),
                         componentType=comp, count=len(arr), type=kind)
        if minmax:
            acc.min = [float(x) for x in arr.min(axis=0)]
            acc.max = [float(x) for x in arr.max(axis=0)]
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1

    def sparse(self, delta: np.ndarray) -> int:
        """A VEC3 morph accessor storing only the vertices that move (glTF sparse accessor)."""
        rows = np.flatnonzero(np.any(np.abs(delta) > 1e-7, axis=1)).astype(np.uint16)
        values = np.ascontiguousarray(delta[rows], np.float32)
        acc = g.Accessor(componentType=g.FLOAT, count=len(delta), type=g.VEC3,
                         min=[float(x) for x in np.minimum(delta.min(axis=0), 0)],
                         max=[float(x) for x in np.maximum(delta.max(axis=0), 0)],
                         sparse=g.Sparse(count=len(rows),
                                         indices=g.AccessorSparseIndices(bufferView=self.view(rows.tobytes()),
                                                                 componentType=g.UNSIGNED_SHORT),
                                         values=g.AccessorSparseValues(bufferView=self.view(values.tobytes()))))
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1

    def zeros(self, count: int) -> int:
        """A VEC3 accessor of zeros with no data (glTF: no bufferView means all zeros)."""
        self.gltf.accessors.append(g.Accessor(componentType=g.FLOAT, count=count, type=g.VEC3,
                                              min=[0.0, 0.0, 0.0], max=[0.0, 0.0, 0.0]))
        return len(self.gltf.accessors) - 1


def build_gltf(parts: list[Part]) -> tuple[g.GLTF2, bytes]:
    w = Writer()
    gl = w.gltf
    mat_index = {}
    for name, (color, rough, extra) in MATERIALS.items():
        base = srgb(*color)
        m = g.Material(name=name, pbrMetallicRoughness=g.PbrMetallicRoughness(
            baseColorFactor=base[:3] + [extra.get("alpha", 1.0)], metallicFactor=0.0,
            roughnessFactor=rough), doubleSided=extra.get("doubleSided", False))
        if "alpha" in extra:
            m.alphaMode = g.BLEND
        if "emissive" in extra:
            m.emissiveFactor = list(extra["emissive"])
        gl.materials.append(m)
        mat_index[name] = len(gl.materials) - 1

    # nodes: 0 = root "Avatar", 1 = mesh node, then the joints
    gl.nodes.append(g.Node(name="Avatar", children=[1, 2]))
    gl.nodes.append(g.Node(name="AvatarMesh", mesh=0, skin=0))
    joint_nodes = {}
    for i, (name, parent, world) in enumerate(JOINTS):
        local = np.array(world) - (np.array(JOINTS[J[parent]][2]) if parent else 0.0)
        gl.nodes.append(g.Node(name=name, translation=[round(float(x), 6) for x in local]))
        joint_nodes[name] = 2 + i
    for name, parent, _ in JOINTS:
        if parent:
            par = gl.nodes[joint_nodes[parent]]
            par.children = (par.children or []) + [joint_nodes[name]]
    ibm = np.zeros((len(JOINTS), 16), np.float32)
    for i, (_, _, world) in enumerate(JOINTS):
        m = np.eye(4, dtype=np.float32)
        m[:3, 3] = -np.array(world)
        ibm[i] = m.T.reshape(-1)  # column-major
    gl.skins.append(g.Skin(name="AvatarSkin", skeleton=joint_nodes["Hips"],
                           joints=[joint_nodes[n] for n, _, _ in JOINTS],
                           inverseBindMatrices=w.accessor(ibm, g.MAT4)))

    prims = []
    for part in merge_by_material(parts):
        attrs = g.Attributes(
            POSITION=w.accessor(part.pos, g.VEC3, g.ARRAY_BUFFER, minmax=True),
            NORMAL=w.accessor(part.nrm.astype(np.float32), g.VEC3, g.ARRAY_BUFFER),
            JOINTS_0=w.accessor(part.joints, g.VEC4, g.ARRAY_BUFFER),
            WEIGHTS_0=w.accessor(part.weights, g.VEC4, g.ARRAY_BUFFER))
        targets = []
        for t in TARGETS:
            d = part.morphs.get(t)
            if d is None or not np.any(np.abs(d) > 1e-7):
                targets.append({"POSITION": w.zeros(len(part.pos))})
            else:
                targets.append({"POSITION": w.sparse(d.astype(np.float32))})
        prims.append(g.Primitive(
            attributes=attrs, indices=w.accessor(part.tri.reshape(-1).astype(np.uint16), g.SCALAR,
                                                 g.ELEMENT_ARRAY_BUFFER),
            material=mat_index[part.material], targets=targets, extras={"part": part.name}))
    gl.meshes.append(g.Mesh(name="Avatar", primitives=prims, weights=[0.0] * len(TARGETS),
                            extras={"targetNames": TARGETS}))
    gl.scenes.append(g.Scene(name="Scene", nodes=[0]))
    gl.scene = 0
    gl.buffers[0].byteLength = len(w.blob)
    return gl, bytes(w.blob)


VRM_EXPRESSIONS = {  # VRM 1.0 preset -> {morph target: weight}
    "aa": {"viseme_aa": 1.0}, "ih": {"viseme_I": 1.0}, "ou": {"viseme_U": 1.0},
    "ee": {"viseme_E": 1.0}, "oh": {"viseme_O": 1.0},
    "blink": {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0},
    "blinkLeft": {"eyeBlinkLeft": 1.0}, "blinkRight": {"eyeBlinkRight": 1.0},
    "happy": {"mouthSmile": 1.0}, "relaxed": {"mouthSmile": 0.5},
    "sad": {"mouthFrown": 1.0, "browInnerUp": 0.8}, "angry": {"browDown": 1.0, "mouthFrown": 0.5},
    "surprised": {"browInnerUp": 1.0, "viseme_O": 0.35},
}


# VRM requires arms and legs; the bust has none, so they are bare nodes (no vertices follow them)
# in the T-pose VRM expects: name, parent, world position
VRM_LIMBS = [
    (f"{side}{part}", parent, (sx * x, y, z))
    for side, sx in (("Left", 1), ("Right", -1))
    for part, parent, x, y, z in (
        ("UpperLeg", "Hips", 0.09, 0.9, 0.0), ("LowerLeg", "{side}UpperLeg", 0.09, 0.5, 0.0),
        ("Foot", "{side}LowerLeg", 0.09, 0.08, 0.0), ("UpperArm", "Chest", 0.19, 1.4, -0.01),
        ("LowerArm", "{side}UpperArm", 0.45, 1.4, -0.01), ("Hand", "{side}LowerArm", 0.7, 1.4, -0.01))
]


def add_vrm(gl: g.GLTF2) -> None:
    node_of = {n.name: i for i, n in enumerate(gl.nodes)}
    world = {name: np.array(pos) for name, _, pos in JOINTS}
    for name, parent, pos in VRM_LIMBS:
        side = "Left" if name.startswith("Left") else "Right"
        parent = parent.format(side=side)
        world[name] = np.array(pos)
        gl.nodes.append(g.Node(name=name, translation=[round(float(v), 6)
                                                       for v in world[name] - world[parent]]))
        node_of[name] = len(gl.nodes) - 1
        par = gl.nodes[node_of[parent]]
        par.children = (par.children or []) + [node_of[name]]
    bones = {"hips": "Hips", "spine": "Spine", "chest": "Chest", "neck": "Neck", "head": "Head",
             "leftEye": "LeftEye", "rightEye": "RightEye"}
    bones.update({name[0].lower() + name[1:]: name for name, _, _ in VRM_LIMBS})
    mesh_node = node_of["AvatarMesh"]
    preset = {}
    for expr, binds in VRM_EXPRESSIONS.items():
        preset[expr] = {
            "isBinary": False, "overrideBlink": "none", "overrideLookAt": "none",
            "overrideMouth": "none",
            "morphTargetBinds": [{"node": mesh_node, "index": TARGETS.index(t), "weight": wt}
                                 for t, wt in binds.items()]}
    gl.extensionsUsed = ["VRMC_vrm"]
    gl.extensions = {"VRMC_vrm": {
        "specVersion": "1.0",
        "meta": {"name": "Default avatar", "version": "1", "authors": ["avatar-realtime"],
                 "licenseUrl": "https://vrm.dev/licenses/1.0/",
                 "otherLicenseUrl": "https://www.apache.org/licenses/LICENSE-2.0",
                 "avatarPermission": "everyone", "commercialUsage": "corporation",
                 "allowRedistribution": True, "modification": "allowModificationRedistribution",
                 "creditNotation": "unnecessary"},
        "humanoid": {"humanBones": {b: {"node": node_of[n]} for b, n in bones.items()}},
        "expressions": {"preset": preset},
        "lookAt": {"type": "bone", "offsetFromHeadBone": [0.0, 0.11, 0.09]},
    }}


def write(out_dir: Path, vrm_too: bool = False) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, vrm in (("default.glb", False), ("default.vrm", True))[:2 if vrm_too else 1]:
        gl, blob = build_gltf(build_parts())
        if vrm:
            add_vrm(gl)
        gl.set_binary_blob(blob)
        path = out_dir / name
        gl.save_binary(str(path))
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if not a.startswith("--")]
    out = Path(args[0]) if args else OUT_DIR
    for path in write(out, vrm_too="--vrm" in argv):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
