"""The template engine (avatar_engine/template): the committed default avatar is what the
generator makes, and every variant it can make -- bust or full body, each hairstyle, chibi, GLB
or VRM -- passes the Khronos glTF-Validator with 0 errors and 0 warnings and our own rules
(names, bones, clips, budgets)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pygltflib
import pytest

from avatar_engine.checks import rules
from avatar_engine.checks.read import accessor
from avatar_engine.template import Avatar, Spec, build, clips, export, face, make, rig
from avatar_engine.template.morphs import REQUIRED
from tests.web_e2e import REPO

COMMITTED = REPO / "client-web" / "public" / "avatars" / "default.glb"
VARIANTS = [Spec(), Spec(body="full", hair="long"), Spec(hair="short", chibi=True),
            Spec(body="full", hair="bob", chibi=True)]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("avatar")
    subprocess.run([sys.executable, "-m", "avatar_engine.template", str(out), "--vrm"],
                   check=True, capture_output=True, timeout=120, cwd=REPO)
    return out


@pytest.fixture(scope="module")
def glb():
    return pygltflib.GLTF2().load(str(COMMITTED))


def test_committed_glb_is_what_the_generator_makes(fresh, glb):
    new = pygltflib.GLTF2().load(str(fresh / "default.glb"))
    assert len(new.accessors) == len(glb.accessors)
    assert new.meshes[0].extras == glb.meshes[0].extras
    assert [n.name for n in new.nodes] == [n.name for n in glb.nodes]
    for i in range(len(glb.accessors)):
        assert np.allclose(accessor(new, i), accessor(glb, i), atol=1e-5), \
            f"accessor {i} differs: rerun python -m avatar_engine.template"


async def test_every_variant_passes_the_khronos_validator_and_our_rules(fresh, tmp_path,
                                                                       gltf_validator):
    files = [(COMMITTED, False), (fresh / "default.vrm", True)]
    for k, spec in enumerate(VARIANTS[1:]):
        avatar = make(spec)
        for vrm in (False, True):
            path = tmp_path / f"v{k}.{'vrm' if vrm else 'glb'}"
            path.write_bytes(export(avatar, vrm=vrm))
            files.append((path, vrm))
    for path, vrm in files:
        report = await gltf_validator.validate(path)
        assert (report["errors"], report["warnings"]) == (0, 0), (path.name, report["messages"])
        infos = {m["code"] for m in report["messages"]}
        assert infos <= {"UNSUPPORTED_EXTENSION", "NODE_EMPTY"}, infos  # VRM's own, bare limbs
        verdict = rules.check(path.read_bytes(), vrm=vrm)
        assert verdict["ok"], (path.name, verdict["problems"])


async def test_the_validator_catches_what_the_old_generator_got_wrong(tmp_path, gltf_validator):
    """The check is real: a sparse morph accessor with a byteOffset and no bufferView (the old
    default.glb had 273) and a non-unit normal are reported."""
    codes = set()
    for defect in ("sparse", "normals"):
        gl = pygltflib.GLTF2().load(str(COMMITTED))
        for a in gl.accessors:  # pygltflib reads a missing byteOffset back as 0
            if a.bufferView is None:
                a.byteOffset = None
        if defect == "sparse":
            next(a for a in gl.accessors if a.sparse is not None).byteOffset = 0
        else:  # the normals read from the positions' data: lengths of ~1.6
            attrs = gl.meshes[0].primitives[0].attributes
            gl.accessors[attrs.NORMAL].bufferView = gl.accessors[attrs.POSITION].bufferView
        bad = tmp_path / f"{defect}.glb"
        gl.save_binary(str(bad))
        report = await gltf_validator.validate(bad)
        codes |= {m["code"] for m in report["messages"]}
    assert "UNSATISFIED_DEPENDENCY" in codes and "ACCESSOR_VECTOR3_NON_UNIT" in codes, codes


def test_names_bones_and_scene(glb):
    mesh = glb.meshes[0]
    names = mesh.extras["targetNames"]
    assert names[:20] == REQUIRED
    assert REQUIRED[15:] == ["eyeBlinkLeft", "eyeBlinkRight", "mouthOpen", "mouthSmile",
                             "eyesClosed"]
    assert {len(p.targets) for p in mesh.primitives} == {len(names)}
    joints = [glb.nodes[j].name for j in glb.skins[0].joints]
    assert joints == ["Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "LeftEye",
                      "RightEye", "LeftShoulder", "RightShoulder"]
    mesh_node = next(i for i, n in enumerate(glb.nodes) if n.mesh is not None)
    assert mesh_node in glb.scenes[0].nodes and glb.nodes[mesh_node].skin == 0
    assert [m.name for m in glb.materials] == ["Skin", "Hair", "Eyes", "EyeWhite", "Lips",
                                               "Mouth", "Clothes"]
    assert [a.name for a in glb.animations] == ["idle", "talk"]


def test_morphs_move_the_mouth_and_eyes(glb):
    mesh = glb.meshes[0]
    names = mesh.extras["targetNames"]
    moved = dict.fromkeys(names, 0.0)
    for prim in mesh.primitives:
        for name, target in zip(names, prim.targets):
            d = accessor(glb, target["POSITION"])
            moved[name] = max(moved[name], float(np.linalg.norm(d, axis=1).max()))
    assert moved["viseme_sil"] == 0.0
    assert min(moved[n] for n in REQUIRED[1:]) >= 0.001
    assert moved["viseme_aa"] > 0.015 and moved["mouthOpen"] > 0.012  # the jaw opens (metres)


def test_full_body_has_limbs_and_the_clips_bring_the_arms_down():
    avatar = make(Spec(body="full"))
    names = [n for n, _, _ in avatar.skeleton]
    for bone in ("LeftArm", "LeftForeArm", "LeftHand", "RightUpLeg", "RightLeg", "RightFoot",
                 "RightToeBase"):
        assert bone in names
    idle = next(c for c in avatar.clips if c.name == "idle")
    arm = next(t for t in idle.tracks if t.target == "LeftArm")
    x, y, z, w = arm.values[0]
    assert abs(2 * np.arctan2(z, w)) > 1.0  # rotated down from the T-pose about Z


def test_chibi_has_a_bigger_head_on_a_smaller_body():
    plain, chibi = make(Spec()), make(Spec(chibi=True))
    from avatar_engine.template.avatar import _proportioned

    def extent(avatar, name):
        parts, _ = _proportioned(avatar)
        p = next(q for q in parts if q.name == name).pos
        return p.max(axis=0) - p.min(axis=0)

    assert extent(chibi, "head")[1] / extent(plain, "head")[1] == pytest.approx(1.35, rel=1e-3)
    assert extent(chibi, "torso")[1] / extent(plain, "torso")[1] == pytest.approx(0.8, rel=1e-3)


def test_checkpoints_round_trip_to_the_same_file():
    """A job checkpoints after every step; resuming from any of them gives the same GLB."""
    spec = Spec(body="full", hair="bob", chibi=True)
    straight = export(make(spec))
    avatar = build(spec)
    for step in (rig, face, clips):
        avatar = step(Avatar.from_bytes(avatar.to_bytes()))
    assert avatar.steps == ["build", "rig", "face", "clips"]
    assert export(Avatar.from_bytes(avatar.to_bytes())) == straight
