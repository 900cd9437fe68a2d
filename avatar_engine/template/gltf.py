"""glTF 2.0 output (the ``export`` step) with pygltflib: one skinned mesh at the scene root, one
primitive per material, morph targets as sparse accessors (only the vertices that move), the
skin texture as an embedded PNG, and the clips as animations.

Written to pass the Khronos glTF-Validator with no error and no warning: sparse accessors carry
no ``byteOffset`` of their own, ``min``/``max`` are those of the data as stored (float32), normals
are unit length, weights sum to 1, and the skinned mesh's node is a root of the scene.
"""

from __future__ import annotations

import io

import numpy as np
import pygltflib as g

from avatar_engine.template.clips import Clip
from avatar_engine.template.morphs import TARGETS
from avatar_engine.template.parts import MATERIALS, Part, merge_by_material, srgb_to_linear
from avatar_engine.template.shapes import unit

GENERATOR = "avatar-realtime avatar_engine.template"
_COMP = {np.dtype(np.float32): g.FLOAT, np.dtype(np.uint8): g.UNSIGNED_BYTE,
         np.dtype(np.uint16): g.UNSIGNED_SHORT, np.dtype(np.uint32): g.UNSIGNED_INT}
ROUGHNESS = {"Skin": 0.62, "Hair": 0.48, "Eyes": 0.12, "EyeWhite": 0.18, "Lips": 0.42,
             "Mouth": 0.8, "Clothes": 0.8, "Body": 0.7}


def _minmax(arr: np.ndarray) -> tuple[list[float], list[float]]:
    a = np.asarray(arr, np.float32).reshape(len(arr), -1)
    return [float(x) for x in a.min(axis=0)], [float(x) for x in a.max(axis=0)]


class Writer:
    def __init__(self) -> None:
        self.blob = bytearray()
        self.gltf = g.GLTF2(asset=g.Asset(generator=GENERATOR, version="2.0"))
        self.gltf.buffers = [g.Buffer(byteLength=0)]

    def view(self, data: bytes, target: int | None = None, stride: int | None = None) -> int:
        while len(self.blob) % 4:
            self.blob.append(0)
        self.gltf.bufferViews.append(g.BufferView(buffer=0, byteOffset=len(self.blob),
                                                  byteLength=len(data), target=target,
                                                  byteStride=stride))
        self.blob += data
        return len(self.gltf.bufferViews) - 1

    def accessor(self, arr: np.ndarray, kind: str, target: int | None = None,
                 minmax: bool = False, normalized: bool | None = None) -> int:
        arr = np.ascontiguousarray(arr)
        acc = g.Accessor(bufferView=self.view(arr.tobytes(), target),
                         componentType=_COMP[arr.dtype], count=len(arr), type=kind,
                         normalized=normalized)
        if minmax:
            acc.min, acc.max = _minmax(arr)
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1

    def sparse(self, delta: np.ndarray) -> int:
        """A VEC3 morph accessor storing only the vertices that move (a glTF sparse accessor:
        no bufferView of its own, so everything not listed is zero)."""
        delta = np.ascontiguousarray(delta, np.float32)
        rows = np.flatnonzero(np.any(delta != 0, axis=1))
        kind = np.uint16 if len(delta) < 65536 else np.uint32
        lo, hi = _minmax(delta)
        acc = g.Accessor(
            componentType=g.FLOAT, count=len(delta), type=g.VEC3, min=lo, max=hi, byteOffset=None,
            sparse=g.Sparse(count=len(rows), indices=g.AccessorSparseIndices(
                bufferView=self.view(rows.astype(kind).tobytes()), componentType=_COMP[
                    np.dtype(kind)], byteOffset=None),
                values=g.AccessorSparseValues(bufferView=self.view(delta[rows].tobytes()),
                                              byteOffset=None)))
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1

    def zeros(self, count: int) -> int:
        """A VEC3 accessor of zeros with no data (glTF: no bufferView means all zeros)."""
        self.gltf.accessors.append(g.Accessor(componentType=g.FLOAT, count=count, type=g.VEC3,
                                              byteOffset=None, min=[0.0, 0.0, 0.0],
                                              max=[0.0, 0.0, 0.0]))
        return len(self.gltf.accessors) - 1

    def png(self, rgb: np.ndarray) -> int:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="PNG", compress_level=6)
        self.gltf.images.append(g.Image(bufferView=self.view(buf.getvalue()),
                                        mimeType="image/png", name="SkinTexture"))
        self.gltf.samplers.append(g.Sampler(magFilter=g.LINEAR, minFilter=g.LINEAR_MIPMAP_LINEAR,
                                            wrapS=g.CLAMP_TO_EDGE, wrapT=g.CLAMP_TO_EDGE))
        self.gltf.textures.append(g.Texture(sampler=0, source=len(self.gltf.images) - 1))
        return len(self.gltf.textures) - 1


def _materials(w: Writer, look: dict[str, tuple], texture: np.ndarray | None,
               used: set[str]) -> dict[str, int]:
    tex = w.png(texture) if texture is not None and "Skin" in used else None
    out = {}
    for name in [m for m in MATERIALS if m in used]:
        # Mouth and a generated Body carry vertex colours (COLOR_0 multiplies the factor)
        rgb = {"EyeWhite": (0.97, 0.97, 0.97), "Mouth": (1.0, 1.0, 1.0),
               "Body": (1.0, 1.0, 1.0)}.get(name) or look[name]
        base = srgb_to_linear(rgb) + [1.0]
        pbr = g.PbrMetallicRoughness(baseColorFactor=base, metallicFactor=0.0,
                                     roughnessFactor=ROUGHNESS[name])
        extras = {"part": name.lower(), "color": "#%02x%02x%02x" % tuple(
            int(round(c * 255)) for c in rgb)}
        if name == "Skin" and tex is not None:
            pbr.baseColorTexture = g.TextureInfo(index=tex)
            pbr.baseColorFactor = [1.0, 1.0, 1.0, 1.0]  # the colour is in the texture
        w.gltf.materials.append(g.Material(name=name, pbrMetallicRoughness=pbr,
                                           doubleSided=name == "Hair", extras=extras))
        out[name] = len(w.gltf.materials) - 1
    return out


def _skeleton(w: Writer, skeleton: list[tuple]) -> dict[str, int]:
    gl = w.gltf
    world = {name: np.asarray(pos, float) for name, _, pos in skeleton}
    nodes = {}
    for name, parent, pos in skeleton:
        local = world[name] - (world[parent] if parent else 0.0)
        gl.nodes.append(g.Node(name=name, translation=[round(float(x), 6) for x in local]))
        nodes[name] = len(gl.nodes) - 1
        if parent:
            par = gl.nodes[nodes[parent]]
            par.children = (par.children or []) + [nodes[name]]
    ibm = np.zeros((len(skeleton), 16), np.float32)
    for i, (name, _, _) in enumerate(skeleton):
        m = np.eye(4, dtype=np.float32)
        m[:3, 3] = -world[name]
        ibm[i] = m.T.reshape(-1)  # column-major
    gl.skins.append(g.Skin(name="AvatarSkin", skeleton=nodes[skeleton[0][0]],
                           joints=[nodes[n] for n, _, _ in skeleton],
                           inverseBindMatrices=w.accessor(ibm, g.MAT4)))
    return nodes


def _primitive(w: Writer, part: Part, material: int) -> g.Primitive:
    n = len(part.pos)
    weights = part.weights / part.weights.sum(axis=1, keepdims=True)
    attrs = g.Attributes(
        POSITION=w.accessor(part.pos.astype(np.float32), g.VEC3, g.ARRAY_BUFFER, minmax=True),
        NORMAL=w.accessor(unit(part.nrm).astype(np.float32), g.VEC3, g.ARRAY_BUFFER),
        JOINTS_0=w.accessor(part.joints.astype(np.uint8), g.VEC4, g.ARRAY_BUFFER),
        WEIGHTS_0=w.accessor(weights.astype(np.float32), g.VEC4, g.ARRAY_BUFFER))
    if part.uv is not None:
        attrs.TEXCOORD_0 = w.accessor(part.uv.astype(np.float32), g.VEC2, g.ARRAY_BUFFER)
    if part.color is not None:
        attrs.COLOR_0 = w.accessor(part.color.astype(np.float32), g.VEC3, g.ARRAY_BUFFER)
    targets = []
    for t in TARGETS:
        d = part.morphs.get(t)
        d = None if d is None else np.asarray(d, np.float32)
        targets.append({"POSITION": w.zeros(n) if d is None or not np.any(d != 0)
                        else w.sparse(d)})
    index_type = np.uint16 if n < 65536 else np.uint32
    return g.Primitive(attributes=attrs, indices=w.accessor(
        part.tri.reshape(-1).astype(index_type), g.SCALAR, g.ELEMENT_ARRAY_BUFFER),
        material=material, targets=targets, extras={"part": part.name})


def _animations(w: Writer, clips: list[Clip], nodes: dict[str, int], mesh_node: int) -> None:
    for clip in clips:
        anim = g.Animation(name=clip.name, samplers=[], channels=[])
        for track in clip.tracks:
            if track.target != "weights" and track.target not in nodes:
                continue  # a bone this body does not have
            times = np.asarray(track.times, np.float32)
            inp = w.accessor(times, g.SCALAR, minmax=True)
            values = np.asarray(track.values, np.float32)
            if track.target == "weights":
                out = w.accessor(values.reshape(-1), g.SCALAR)
                target = g.AnimationChannelTarget(node=mesh_node, path="weights")
            else:
                out = w.accessor(values, g.VEC4)
                target = g.AnimationChannelTarget(node=nodes[track.target], path="rotation")
            anim.samplers.append(g.AnimationSampler(input=inp, output=out,
                                                    interpolation="LINEAR"))
            anim.channels.append(g.AnimationChannel(sampler=len(anim.samplers) - 1,
                                                    target=target))
        w.gltf.animations.append(anim)


def build_gltf(parts: list[Part], skeleton: list[tuple], clips: list[Clip],
               look: dict[str, tuple], texture: np.ndarray | None,
               name: str = "Avatar") -> tuple[g.GLTF2, bytes, dict[str, int]]:
    """-> (glTF, binary blob, node index by joint name and "AvatarMesh")."""
    w = Writer()
    gl = w.gltf
    materials = _materials(w, look, texture, {p.material for p in parts})
    gl.nodes.append(g.Node(name="AvatarMesh", mesh=0, skin=0))  # a root of the scene
    nodes = _skeleton(w, skeleton)
    prims = [_primitive(w, part, materials[part.material]) for part in merge_by_material(parts)]
    gl.meshes.append(g.Mesh(name=name, primitives=prims, weights=[0.0] * len(TARGETS),
                            extras={"targetNames": list(TARGETS)}))
    _animations(w, clips, nodes, 0)
    gl.scenes.append(g.Scene(name="Scene", nodes=[0, nodes[skeleton[0][0]]]))
    gl.scene = 0
    gl.buffers[0].byteLength = len(w.blob)
    return gl, bytes(w.blob), {**nodes, "AvatarMesh": 0}


def to_bytes(gl: g.GLTF2, blob: bytes) -> bytes:
    gl.buffers[0].byteLength = len(blob)
    gl.set_binary_blob(blob)
    return b"".join(gl.save_to_bytes())
