"""The default avatar (client-web/public/avatars/default.glb) is made by scripts/build_avatar.py:
regenerated here and compared with the committed file, then checked for what the client needs —
a skinned head-and-shoulders model with the 15 Oculus visemes, blinks and emotion morphs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pygltflib
import pytest

from tests.web_e2e import REPO

COMMITTED = REPO / "client-web" / "public" / "avatars" / "default.glb"
VISEMES = ["sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U"]
DTYPES = {pygltflib.FLOAT: np.float32, pygltflib.UNSIGNED_SHORT: np.uint16,
          pygltflib.UNSIGNED_BYTE: np.uint8, pygltflib.UNSIGNED_INT: np.uint32}
SIZES = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def read(gl: pygltflib.GLTF2, index: int) -> np.ndarray:
    """An accessor's data (dense, sparse or all zeros)."""
    acc = gl.accessors[index]
    blob = gl.binary_blob()
    n = SIZES[acc.type]

    def view(bv_index, comp, count):
        bv = gl.bufferViews[bv_index]
        return np.frombuffer(blob, DTYPES[comp], count, bv.byteOffset or 0)

    out = (np.zeros((acc.count, n), np.float32) if acc.bufferView is None
           else view(acc.bufferView, acc.componentType, acc.count * n).reshape(acc.count, n).copy())
    if acc.sparse:
        idx = view(acc.sparse.indices.bufferView, acc.sparse.indices.componentType, acc.sparse.count)
        vals = view(acc.sparse.values.bufferView, acc.componentType, acc.sparse.count * n)
        out[idx.astype(int)] = vals.reshape(-1, n)
    return out


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("avatar")
    subprocess.run([sys.executable, str(REPO / "scripts" / "build_avatar.py"), str(out), "--vrm"],
                   check=True, capture_output=True, timeout=120)
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
        assert np.allclose(read(new, i), read(glb, i), atol=1e-5), f"accessor {i} differs: rerun scripts/build_avatar.py"


def test_skeleton_and_skin(glb):
    names = [n.name for n in glb.nodes]
    joints = [glb.nodes[j].name for j in glb.skins[0].joints]
    for bone in ("Hips", "Spine", "Chest", "Neck", "Head", "LeftEye", "RightEye"):
        assert bone in joints
    # a chain hips > spine > chest > neck > head
    parent = {c: i for i, n in enumerate(glb.nodes) for c in (n.children or [])}
    chain = ["Head", "Neck", "Chest", "Spine", "Hips"]
    for child, par in zip(chain, chain[1:]):
        assert glb.nodes[parent[names.index(child)]].name == par
    ibm = read(glb, glb.skins[0].inverseBindMatrices)
    assert ibm.shape == (len(joints), 16)
    mesh_node = next(n for n in glb.nodes if n.mesh is not None)
    assert mesh_node.skin == 0
    for prim in glb.meshes[0].primitives:
        w = read(glb, prim.attributes.WEIGHTS_0)
        j = read(glb, prim.attributes.JOINTS_0)
        assert np.allclose(w.sum(axis=1), 1.0, atol=1e-5)
        assert j.max() < len(joints)


def test_morph_targets(glb):
    mesh = glb.meshes[0]
    names = mesh.extras["targetNames"]
    assert names[:15] == [f"viseme_{v}" for v in VISEMES]
    for extra in ("eyeBlinkLeft", "eyeBlinkRight", "mouthSmile", "mouthFrown", "browInnerUp", "browDown"):
        assert extra in names
    moved = {n: 0.0 for n in names}
    for prim in mesh.primitives:
        assert len(prim.targets) == len(names)
        for name, target in zip(names, prim.targets):
            d = read(glb, target["POSITION"])
            moved[name] = max(moved[name], float(np.abs(d).max()))
    assert moved["viseme_sil"] == 0.0  # silence is the rest pose
    for name in names[1:]:
        assert moved[name] > 0.002, f"{name} moves nothing"
    assert moved["viseme_aa"] > 0.015  # the jaw opens visibly (metres)


def test_looks_like_a_head_and_shoulders_character(glb):
    materials = {m.name for m in glb.materials}
    assert {"skin", "hair", "shirt", "eye_white", "iris", "lips", "teeth"} <= materials
    skin = next(m for m in glb.materials if m.name == "skin").pbrMetallicRoughness.baseColorFactor
    hair = next(m for m in glb.materials if m.name == "hair").pbrMetallicRoughness.baseColorFactor
    assert skin[0] > hair[0] * 2  # colours, not a grey blob
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for prim in glb.meshes[0].primitives:
        p = read(glb, prim.attributes.POSITION)
        lo, hi = np.minimum(lo, p.min(axis=0)), np.maximum(hi, p.max(axis=0))
    assert 0.6 < hi[1] - lo[1] < 1.2 and hi[1] < 1.9  # a bust of human size, standing origin
    assert 0.3 < hi[0] - lo[0] < 0.5  # shoulders wider than the head


def test_vrm_variant_binds_the_vrm_expressions(fresh):
    vrm = pygltflib.GLTF2().load_binary(str(fresh / "default.vrm"))
    ext = vrm.extensions["VRMC_vrm"]
    assert ext["specVersion"] == "1.0"
    bones = ext["humanoid"]["humanBones"]
    assert {"hips", "spine", "neck", "head"} <= set(bones)
    names = vrm.meshes[0].extras["targetNames"]
    preset = ext["expressions"]["preset"]
    for expr, morph in {"aa": "viseme_aa", "ih": "viseme_I", "ou": "viseme_U", "ee": "viseme_E",
                        "oh": "viseme_O", "blinkLeft": "eyeBlinkLeft"}.items():
        binds = preset[expr]["morphTargetBinds"]
        assert [names[b["index"]] for b in binds] == [morph]
