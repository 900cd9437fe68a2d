"""The default avatar's parts, skeleton, skin weights and morph targets (see build_avatar.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from avatar_shapes import (EYE_X, EYE_Y, HEAD_R, MOUTH_Y, ellipsoid, hair_fn, head_fn, head_front_z,
                           lathe, mouth_shape, surface, torus)

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
