"""The skeleton (Ready Player Me / Mixamo bone names, unprefixed) and skin weights (the ``rig``
step): at most three influences per vertex, weights summing to 1.

Bust (``head_shoulders``): Hips > Spine > Spine1 > Spine2 > Neck > Head (> LeftEye, RightEye),
and Spine2 > LeftShoulder, RightShoulder. ``full`` adds the arms (Shoulder > Arm > ForeArm >
Hand) and legs (Hips > UpLeg > Leg > Foot > ToeBase), in the T-pose VRM expects.
"""

from __future__ import annotations

import numpy as np

from avatar_engine.template.head import Head
from avatar_engine.template.parts import Part
from avatar_engine.template.spec import Spec

# name, parent, world position (default proportions), region (chibi: head or body)
_SPINE = [
    ("Hips", None, (0.0, 0.95, 0.0)),
    ("Spine", "Hips", (0.0, 1.06, 0.0)),
    ("Spine1", "Spine", (0.0, 1.18, 0.0)),
    ("Spine2", "Spine1", (0.0, 1.3, 0.0)),
    ("Neck", "Spine2", (0.0, 1.45, -0.01)),
    ("Head", "Neck", (0.0, 1.52, -0.01)),
]
_ARMS = [("Arm", "Shoulder", 0.16), ("ForeArm", "Arm", 0.42), ("Hand", "ForeArm", 0.66)]
_LEGS = [("UpLeg", "Hips", (0.09, 0.9, 0.0)), ("Leg", "UpLeg", (0.09, 0.5, 0.0)),
         ("Foot", "Leg", (0.09, 0.08, -0.01)), ("ToeBase", "Foot", (0.09, 0.02, 0.09))]
HEAD_BONES = ("Head", "LeftEye", "RightEye")


def joints(spec: Spec, head: Head | None = None) -> list[tuple[str, str | None, tuple]]:
    """(name, parent, world position) in parent-before-child order, default proportions."""
    head = head or Head(spec)
    out = list(_SPINE)
    for side, s in (("Left", 1), ("Right", -1)):
        x = s * head.eye_x
        out.append((f"{side}Eye", "Head", (x, head.eye_y, round(head.front_z(x, head.eye_y)
                                                                   - 0.02, 5))))
    for side, s in (("Left", 1), ("Right", -1)):
        out.append((f"{side}Shoulder", "Spine2", (s * 0.03, 1.41, -0.01)))
    if spec.body == "full":
        for side, s in (("Left", 1), ("Right", -1)):
            for name, parent, x in _ARMS:
                out.append((f"{side}{name}", f"{side}{parent}", (s * x, 1.4, -0.01)))
            for name, parent, (x, y, z) in _LEGS:
                out.append((f"{side}{name}", f"{side}{parent}" if parent != "Hips" else "Hips",
                            (s * x, y, z)))
    return out


def _smooth(t):
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _chain(coord: np.ndarray, stops: list[tuple[float, str]], index: dict[str, int]):
    """Two-bone weights along one axis between consecutive (coordinate, bone) stops (smoothstep
    blend); outside the stops, all on the end bone. Stops may run either way along the axis."""
    n = len(coord)
    j = np.zeros((n, 4), np.uint8)
    w = np.zeros((n, 4), np.float32)
    c = np.asarray([s for s, _ in stops], float)
    sign = 1.0 if c[-1] >= c[0] else -1.0
    t = coord * sign
    c = c * sign
    first, last = t <= c[0], t >= c[-1]
    j[first, 0], w[first, 0] = index[stops[0][1]], 1.0
    j[last, 0], w[last, 0] = index[stops[-1][1]], 1.0
    bones = [b for _, b in stops]
    for k in range(len(stops) - 1):
        c0, c1, a, b = c[k], c[k + 1], bones[k], bones[k + 1]
        sel = (t > c0) & (t < c1)
        if a == b:
            j[sel, 0], w[sel, 0] = index[a], 1.0
            continue
        f = _smooth((t[sel] - c0) / (c1 - c0))
        j[sel, 0], j[sel, 1] = index[a], index[b]
        w[sel, 0], w[sel, 1] = 1 - f, f
    return j, w


def rig(parts: list[Part], spec: Spec, head: Head | None = None) -> list[tuple]:
    """Give every part its JOINTS_0/WEIGHTS_0; returns the skeleton (see :func:`joints`)."""
    skeleton = joints(spec, head)
    index = {name: i for i, (name, _, _) in enumerate(skeleton)}
    for part in parts:
        kind = part.bind[0]
        n = len(part.pos)
        if kind == "given":  # rigged elsewhere (gpu3d: weights transferred from the template)
            continue
        if kind == "rigid":
            part.joints = np.zeros((n, 4), np.uint8)
            part.weights = np.zeros((n, 4), np.float32)
            part.joints[:, 0] = index[part.bind[1]]
            part.weights[:, 0] = 1.0
        else:
            _, axis, stops = part.bind
            part.joints, part.weights = _chain(part.pos[:, axis].astype(float), stops, index)
            if kind == "torso":
                _shoulders(part, index)
        part.weights /= part.weights.sum(axis=1, keepdims=True)
    return skeleton


def _shoulders(part: Part, index: dict[str, int]) -> None:
    """The top outer torso follows the shoulder bones (a shrug moves the shoulders only)."""
    x, y = part.pos[:, 0], part.pos[:, 1]
    share = (0.7 * _smooth((np.abs(x) - 0.08) / 0.09) * _smooth((y - 1.3) / 0.07)).astype(np.float32)
    sel = share > 0
    side = np.where(x >= 0, index["LeftShoulder"], index["RightShoulder"]).astype(np.uint8)
    part.weights[sel, :2] *= (1 - share[sel])[:, None]
    part.joints[sel, 2] = side[sel]
    part.weights[sel, 2] = share[sel]
