"""The template avatar's parts (the ``build`` step): geometry only, in the default proportions.

Each :class:`Part` says which material it wears (by body part: ``Skin``, ``Hair``, ``Eyes``,
``EyeWhite``, ``Lips``, ``Mouth``, ``Clothes``), whether it belongs to the head or the body (chibi
proportions scale the two apart at export), and how it binds to the skeleton (``rig`` turns that
into joint weights): rigid to one bone, or blended along a chain of bones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from avatar_engine.template.head import Head
from avatar_engine.template.shapes import ellipsoid, lathe, limb, surface, torus
from avatar_engine.template.spec import Spec

MATERIALS = ("Skin", "Hair", "Eyes", "EyeWhite", "Lips", "Mouth", "Clothes", "Body")
MOUTH_COLOURS = {"mouth": (0.36, 0.09, 0.12), "teeth_up": (0.98, 0.97, 0.93),
                 "teeth_down": (0.98, 0.97, 0.93), "tongue": (0.88, 0.42, 0.46)}


@dataclass
class Part:
    name: str
    material: str
    pos: np.ndarray  # (n, 3) float32
    nrm: np.ndarray  # (n, 3) float32
    tri: np.ndarray  # (m, 3) uint32
    region: str = "head"  # head | body
    # ("rigid", bone) | ("chain", axis, [(coord, bone), ...]) | ("given",): weights already set
    bind: tuple = ("rigid", "Head")
    uv: np.ndarray | None = None  # (n, 2) float32, textured parts only
    color: np.ndarray | None = None  # (n, 3) float32 linear (COLOR_0), Mouth only
    joints: np.ndarray | None = None  # (n, 4) uint8, set by rig
    weights: np.ndarray | None = None  # (n, 4) float32, set by rig
    morphs: dict[str, np.ndarray] = field(default_factory=dict)  # set by face


def _add(parts: list[Part], name: str, material: str, mesh, region: str = "head",
         bind: tuple = ("rigid", "Head")) -> Part:
    pos, nrm, tri = mesh
    part = Part(name, material, pos.astype(np.float32), nrm.astype(np.float32), tri,
                region=region, bind=bind)
    parts.append(part)
    return part


def build_parts(spec: Spec, head: Head | None = None) -> list[Part]:
    head = head or Head(spec)
    parts: list[Part] = []
    _body(parts, spec)
    _head(parts, head)
    _face(parts, head)
    return parts


def _body(parts: list[Part], spec: Spec) -> None:
    full = spec.body == "full"
    ys = [1.0, 1.02, 1.1, 1.2, 1.28, 1.33, 1.37, 1.405, 1.435, 1.458, 1.472, 1.482]
    xs = [0.0, 0.14, 0.165, 0.178, 0.186, 0.188, 0.182, 0.162, 0.122, 0.082, 0.06, 0.052]
    zs = [0.0, 0.09, 0.108, 0.112, 0.11, 0.104, 0.096, 0.085, 0.072, 0.062, 0.055, 0.052]
    if full:  # the torso goes on down to the hips
        ys = [0.84, 0.88, 0.96] + ys[2:]
        xs = [0.0, 0.15, 0.16] + xs[2:]
        zs = [0.0, 0.095, 0.1] + zs[2:]
    spine = ("chain", 1, [(1.0, "Hips"), (1.1, "Spine"), (1.22, "Spine1"), (1.34, "Spine2"),
                          (1.46, "Neck")])
    torso = _add(parts, "torso", "Clothes", surface(lathe(ys, xs, zs), 24, 48, 0.0, 1.0),
                 "body", ("torso",) + spine[1:])
    torso.pos[:, 2] -= 0.012
    _add(parts, "collar", "Clothes", surface(torus((0, 1.468, -0.012), 0.06, 0.058, 0.0105),
                                             8, 32, 0.0, 1.0),
         "body", ("chain", 1, [(1.44, "Spine2"), (1.48, "Neck")]))
    neck = _add(parts, "neck", "Skin", surface(lathe([1.41, 1.47, 1.52, 1.58],
                                                      [0.05, 0.047, 0.046, 0.045],
                                                      [0.048, 0.045, 0.044, 0.043], 2.0),
                                                10, 32, 0.0, 1.0),
                "body", ("chain", 1, [(1.45, "Neck"), (1.53, "Head")]))
    neck.pos[:, 2] -= 0.012
    if not full:
        return
    for side, s in (("Left", 1), ("Right", -1)):
        arm = [(s * 0.12, 1.395, -0.01), (s * 0.16, 1.4, -0.01), (s * 0.42, 1.4, -0.01),
               (s * 0.63, 1.4, -0.01)]
        _add(parts, f"{side}Sleeve", "Clothes", surface(limb(arm, [0.05, 0.05, 0.04, 0.034]),
                                                        20, 16, 0.0, 1.0),
             "body", ("chain", 0, [(s * 0.14, f"{side}Shoulder"), (s * 0.2, f"{side}Arm"),
                                   (s * 0.4, f"{side}Arm"), (s * 0.45, f"{side}ForeArm"),
                                   (s * 0.62, f"{side}ForeArm"), (s * 0.66, f"{side}Hand")]))
        _add(parts, f"{side}HandMesh", "Skin",
             surface(ellipsoid((s * 0.695, 1.4, -0.01), (0.055, 0.022, 0.042)), 10, 16),
             "body", ("rigid", f"{side}Hand"))
        leg = [(s * 0.09, 0.92, 0.0), (s * 0.09, 0.5, 0.0), (s * 0.09, 0.09, -0.01)]
        _add(parts, f"{side}Trouser", "Clothes", surface(limb(leg, [0.075, 0.055, 0.045]),
                                                         24, 16, 0.0, 1.0),
             "body", ("chain", 1, [(0.86, f"{side}UpLeg"), (0.55, f"{side}UpLeg"),
                                   (0.46, f"{side}Leg"), (0.14, f"{side}Leg"),
                                   (0.08, f"{side}Foot")]))
        _add(parts, f"{side}Shoe", "Clothes",
             surface(ellipsoid((s * 0.09, 0.04, 0.03), (0.05, 0.04, 0.11)), 10, 16),
             "body", ("chain", 2, [(0.0, f"{side}Foot"), (0.09, f"{side}ToeBase")]))


def _head(parts: list[Part], head: Head) -> None:
    _add(parts, "head", "Skin", surface(head.skull, 36, 56))
    for side in (1, -1):
        _add(parts, f"ear{side}", "Skin",
             surface(ellipsoid((side * head.r[0] * 0.985, 1.615, -0.005), (0.014, 0.026, 0.017)),
                     10, 16))
    nose_y = head.eye_y - 0.038
    _add(parts, "nose", "Skin",
         surface(ellipsoid((0, nose_y, head.front_z(0, nose_y) - 0.001), (0.013, 0.011, 0.012)),
                 12, 20))
    for name, mesh in head.hair():
        _add(parts, name, "Hair", mesh)


def _face(parts: list[Part], head: Head) -> None:
    """Eyes (rigid to the eye bones, so a client can move the gaze), brows and the mouth."""
    ey = head.eye_y
    for side, eye in ((1, "LeftEye"), (-1, "RightEye")):
        x = side * head.eye_x
        z = head.front_z(x, ey)
        _add(parts, f"white{side}", "EyeWhite",
             surface(ellipsoid((x, ey, z - 0.006), (0.019, 0.023, 0.012)), 12, 20),
             bind=("rigid", eye))
        _add(parts, f"iris{side}", "Eyes",
             surface(ellipsoid((x, ey - 0.002, z + 0.004), (0.0125, 0.0155, 0.0045)), 10, 20),
             bind=("rigid", eye))
        _add(parts, f"sparkle{side}", "EyeWhite",
             surface(ellipsoid((x + 0.0045, ey + 0.005, z + 0.0082), (0.0036, 0.0042, 0.0012)),
                     6, 12), bind=("rigid", eye))
        brow_y = ey + 0.036
        _add(parts, f"brow{side}", "Hair",
             surface(ellipsoid((x, brow_y, head.front_z(x, brow_y) + 0.001),
                               (0.021, 0.0042, 0.005), rot_z=-side * 0.12), 8, 20))
    for key, mesh in head.mouth({}).items():
        part = _add(parts, key, "Lips" if key == "lips" else "Mouth", mesh)
        if key in MOUTH_COLOURS:
            part.color = np.tile(np.array(srgb_to_linear(MOUTH_COLOURS[key]), np.float32),
                                 (len(part.pos), 1))


def srgb_to_linear(rgb) -> list[float]:
    c = np.asarray(rgb, float)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return [round(float(x), 5) for x in lin]


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

        def cat(attr: str, width: int, fill: float):
            if all(getattr(p, attr) is None for p in group):
                return None
            return np.concatenate([getattr(p, attr) if getattr(p, attr) is not None
                                   else np.full((len(p.pos), width), fill, np.float32)
                                   for p in group]).astype(np.float32)

        merged.append(Part(
            name="+".join(p.name for p in group), material=material,
            pos=np.concatenate([p.pos for p in group]), nrm=np.concatenate([p.nrm for p in group]),
            tri=np.concatenate([p.tri + off for p, off in zip(group, offsets)]),
            uv=cat("uv", 2, 0.0), color=cat("color", 3, 1.0),
            joints=np.concatenate([p.joints for p in group]),
            weights=np.concatenate([p.weights for p in group]), morphs=morphs))
    return merged
