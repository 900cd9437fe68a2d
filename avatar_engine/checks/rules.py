"""Our own rules for an avatar GLB/VRM, beyond glTF validity: what avatar clients need.

* morph targets named in ``mesh.extras.targetNames``, the required ones first and in order, the
  same on every primitive; ``viseme_sil`` all zeros, every other required one moving >= 1 mm;
* bones with the unprefixed Ready Player Me / Mixamo names, the head chain present;
* the skinned mesh's node a root of the scene, at most 4 influences per vertex (``JOINTS_0``
  only), weights summing to 1;
* the clips ``idle`` and ``talk``, each track looping (first key = last key);
* budgets (size, triangles, materials, bones, texture size);
* VRM: the humanoid's required bones and the expressions ``aa ih ou ee oh`` and blinks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatar_engine.checks.read import accessor, image_size, load
from avatar_engine.template.morphs import REQUIRED as REQUIRED_TARGETS
from avatar_engine.template.vrm import REQUIRED as VRM_REQUIRED

_FINGERS = [f"Hand{f}{i}" for f in ("Thumb", "Index", "Middle", "Ring", "Pinky")
            for i in range(1, 5)]
RPM_BONES = frozenset(
    ["Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "HeadTop_End", "LeftEye", "RightEye"]
    + [f"{s}{b}" for s in ("Left", "Right")
       for b in ["Shoulder", "Arm", "ForeArm", "Hand", "UpLeg", "Leg", "Foot", "ToeBase",
                 "Toe_End"] + _FINGERS])
HEAD_CHAIN = ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "LeftEye", "RightEye")
CLIPS = ("idle", "talk")
VRM_EXPRESSIONS = ("aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight")


@dataclass(frozen=True)
class Budget:
    bytes: int = 5 * 2**20
    triangles: int = 32_000
    materials: int = 8
    bones: int = 128
    texture_px: int = 1024


TEMPLATE = Budget()
GPU = Budget(bytes=15 * 2**20, texture_px=2048)


def check(data: bytes, budget: Budget = TEMPLATE, vrm: bool = False) -> dict:
    """-> ``{"ok", "problems": [...], "stats": {...}}`` for one GLB (or VRM) file."""
    problems: list[str] = []
    try:
        gl = load(data)
    except Exception as exc:  # noqa: BLE001 - not a GLB pygltflib can read
        return {"ok": False, "problems": [f"unreadable: {exc}"], "stats": {}}
    stats = {"bytes": len(data), "materials": len(gl.materials), "bones": 0, "triangles": 0,
             "texture_px": 0, "targets": 0, "animations": [a.name for a in gl.animations]}
    skinned = [i for i, n in enumerate(gl.nodes) if n.mesh is not None and n.skin is not None]
    if len(gl.meshes) != 1 or len(skinned) != 1 or not gl.skins:
        problems.append(f"want one skinned mesh, have {len(gl.meshes)} meshes, "
                        f"{len(skinned)} skinned nodes")
        return {"ok": False, "problems": problems, "stats": stats}
    roots = gl.scenes[gl.scene or 0].nodes
    if skinned[0] not in roots:
        problems.append("the skinned mesh's node is not a root of the scene")
    _targets(gl, problems, stats)
    joints = [gl.nodes[j].name for j in gl.skins[0].joints]
    stats["bones"] = len(joints)
    odd = sorted(set(joints) - RPM_BONES)
    if odd:
        problems.append(f"bones without Ready Player Me names: {odd}")
    missing = [b for b in HEAD_CHAIN if b not in joints]
    if missing:
        problems.append(f"missing bones: {missing}")
    _skin(gl, len(joints), problems, stats)
    _clips(gl, problems)
    for img in gl.images:
        stats["texture_px"] = max(stats["texture_px"], *image_size(gl, img))
    for key, limit in (("bytes", budget.bytes), ("triangles", budget.triangles),
                       ("materials", budget.materials), ("bones", budget.bones),
                       ("texture_px", budget.texture_px)):
        if stats[key] > limit:
            problems.append(f"{key} {stats[key]} over the budget of {limit}")
    if vrm:
        _vrm(gl, problems)
    return {"ok": not problems, "problems": problems, "stats": stats}


def _targets(gl, problems: list[str], stats: dict) -> None:
    mesh = gl.meshes[0]
    names = (mesh.extras or {}).get("targetNames") or []
    stats["targets"] = len(names)
    if names[:len(REQUIRED_TARGETS)] != REQUIRED_TARGETS:
        problems.append(f"targetNames must start with {REQUIRED_TARGETS}, got {names[:25]}")
        return
    moved = dict.fromkeys(names, 0.0)
    for k, prim in enumerate(mesh.primitives):
        if len(prim.targets or []) != len(names):
            problems.append(f"primitive {k} has {len(prim.targets or [])} targets, "
                            f"not {len(names)}")
            return
        for name, target in zip(names, prim.targets):
            d = accessor(gl, target["POSITION"])
            moved[name] = max(moved[name], float(np.linalg.norm(d, axis=1).max(initial=0)))
    if moved["viseme_sil"] != 0.0:
        problems.append("viseme_sil must be all zeros (the rest pose)")
    still = [n for n in REQUIRED_TARGETS[1:] if moved[n] < 0.001]
    if still:
        problems.append(f"targets moving less than 1 mm: {still}")


def _skin(gl, n_joints: int, problems: list[str], stats: dict) -> None:
    for k, prim in enumerate(gl.meshes[0].primitives):
        a = prim.attributes
        stats["triangles"] += gl.accessors[prim.indices].count // 3
        if getattr(a, "JOINTS_1", None) is not None or getattr(a, "WEIGHTS_1", None) is not None:
            problems.append(f"primitive {k} has more than 4 influences per vertex")
        w = accessor(gl, a.WEIGHTS_0)
        j = accessor(gl, a.JOINTS_0)
        if not np.allclose(w.sum(axis=1), 1.0, atol=2e-3):
            problems.append(f"primitive {k}: weights do not sum to 1")
        if j.max(initial=0) >= n_joints:
            problems.append(f"primitive {k}: joint index out of range")


def _clips(gl, problems: list[str]) -> None:
    have = {a.name: a for a in gl.animations}
    for name in CLIPS:
        if name not in have:
            problems.append(f"no {name!r} clip")
    for anim in gl.animations:
        for ch in anim.channels:
            if ch.target.node is None or ch.target.node >= len(gl.nodes):
                problems.append(f"clip {anim.name!r} targets a missing node")
                continue
            sampler = anim.samplers[ch.sampler]
            times = accessor(gl, sampler.input)[:, 0]
            values = accessor(gl, sampler.output)
            per_key = len(values) // len(times)
            if not np.allclose(values[:per_key], values[-per_key:], atol=1e-5):
                problems.append(f"clip {anim.name!r}: a {ch.target.path} track does not loop")


def _vrm(gl, problems: list[str]) -> None:
    ext = (gl.extensions or {}).get("VRMC_vrm")
    if not ext or ext.get("specVersion") != "1.0":
        problems.append("no VRMC_vrm 1.0 extension")
        return
    bones = ext.get("humanoid", {}).get("humanBones", {})
    missing = [b for b in VRM_REQUIRED if b not in bones]
    if missing:
        problems.append(f"VRM humanoid lacks {missing}")
    preset = ext.get("expressions", {}).get("preset", {})
    lacking = [e for e in VRM_EXPRESSIONS if not preset.get(e, {}).get("morphTargetBinds")]
    if lacking:
        problems.append(f"VRM expressions without binds: {lacking}")
