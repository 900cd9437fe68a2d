"""glTF 2.0 (and VRM 1.0) output of the default avatar with pygltflib: one skinned mesh, one
primitive per material, morph targets as sparse accessors (only the vertices that move)."""

from __future__ import annotations

import numpy as np
import pygltflib as g

from avatar_model import JOINTS, MATERIALS, TARGETS, J, Part, merge_by_material, srgb

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
