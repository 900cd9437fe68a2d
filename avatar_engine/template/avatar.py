"""The template avatar step by step -- ``build`` (parts, colours, face texture), ``rig``
(skeleton and weights), ``face`` (morph targets), ``clips`` (animations), ``export`` (GLB, VRM)
-- and a byte form of the work in progress, so a job can checkpoint after each step and resume
from there in another process."""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field

import numpy as np

from avatar_engine.template import gltf, morphs, skeleton, texture
from avatar_engine.template.clips import Clip, Track, make_clips
from avatar_engine.template.head import Head
from avatar_engine.template.parts import Part, build_parts
from avatar_engine.template.spec import (
    CHIBI_HEAD, Look, Proportions, Spec, body_point, head_point,
)
from avatar_engine.template.vrm import add_vrm

_PART_ARRAYS = ("pos", "nrm", "tri", "uv", "color", "joints", "weights")


@dataclass
class Avatar:
    spec: Spec
    parts: list[Part]
    texture: np.ndarray | None = None  # RGB uint8, the Skin texture
    skeleton: list[tuple] | None = None  # set by rig
    clips: list[Clip] = field(default_factory=list)  # set by clips
    steps: list[str] = field(default_factory=list)

    @property
    def head(self) -> Head:
        return Head(self.spec)

    def look(self) -> dict[str, tuple]:
        lk = self.spec.look
        return {"Skin": lk.skin, "Hair": lk.hair, "Eyes": lk.eyes, "Lips": lk.lips,
                "Clothes": lk.clothes}

    # ------------------------------------------------------------------ checkpoints
    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {}
        meta: dict = {"spec": _spec_doc(self.spec), "steps": self.steps, "parts": [],
                      "skeleton": self.skeleton, "clips": []}
        for i, p in enumerate(self.parts):
            meta["parts"].append({"name": p.name, "material": p.material, "region": p.region,
                                  "bind": p.bind, "morphs": sorted(p.morphs)})
            for key in _PART_ARRAYS:
                if getattr(p, key) is not None:
                    arrays[f"p{i}.{key}"] = getattr(p, key)
            for name, d in p.morphs.items():
                rows = np.flatnonzero(np.any(d != 0, axis=1)).astype(np.uint32)
                arrays[f"p{i}.m.{name}.rows"], arrays[f"p{i}.m.{name}.d"] = rows, d[rows]
        for c, clip in enumerate(self.clips):
            meta["clips"].append({"name": clip.name, "targets": [t.target for t in clip.tracks]})
            for k, t in enumerate(clip.tracks):
                arrays[f"c{c}.{k}.t"], arrays[f"c{c}.{k}.v"] = t.times, t.values
        if self.texture is not None:
            arrays["texture"] = self.texture
        if self.spec.face is not None:
            arrays["face"] = self.spec.face
        buf = io.BytesIO()
        np.savez(buf, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Avatar:
        z = np.load(io.BytesIO(data), allow_pickle=False)
        meta = json.loads(bytes(z["__meta__"]).decode())
        spec = _spec_from(meta["spec"], z["face"] if "face" in z else None)
        parts = []
        for i, pm in enumerate(meta["parts"]):
            arrays = {k: (z[f"p{i}.{k}"] if f"p{i}.{k}" in z else None) for k in _PART_ARRAYS}
            part = Part(pm["name"], pm["material"], region=pm["region"],
                        bind=_tuple(pm["bind"]), **arrays)
            for name in pm["morphs"]:
                d = np.zeros_like(part.pos)
                d[z[f"p{i}.m.{name}.rows"]] = z[f"p{i}.m.{name}.d"]
                part.morphs[name] = d
            parts.append(part)
        clips = [Clip(cm["name"], [Track(target, z[f"c{c}.{k}.t"], z[f"c{c}.{k}.v"])
                                   for k, target in enumerate(cm["targets"])])
                 for c, cm in enumerate(meta["clips"])]
        skel = [(n, p, tuple(w)) for n, p, w in meta["skeleton"]] if meta["skeleton"] else None
        return cls(spec, parts, z["texture"] if "texture" in z else None, skel, clips,
                   meta["steps"])


def _tuple(bind):
    if bind[0] in ("chain", "torso"):
        return (bind[0], bind[1], [(float(c), b) for c, b in bind[2]])
    return tuple(bind)


def _spec_doc(spec: Spec) -> dict:
    return {"name": spec.name, "body": spec.body, "hair": spec.hair, "chibi": spec.chibi,
            "look": asdict(spec.look), "proportions": asdict(spec.proportions),
            "texture_px": spec.texture_px}


def _spec_from(doc: dict, face: np.ndarray | None) -> Spec:
    look = Look(**{k: tuple(v) for k, v in doc["look"].items()})
    return Spec(name=doc["name"], body=doc["body"], hair=doc["hair"], chibi=doc["chibi"],
                look=look, proportions=Proportions(**doc["proportions"]), face=face,
                texture_px=doc["texture_px"])


# ---------------------------------------------------------------------- the steps
def build(spec: Spec) -> Avatar:
    head = Head(spec)
    parts = build_parts(spec, head)
    texture.assign_uv(parts, head)
    tex = texture.skin_texture(head, spec.look.skin, spec.face, spec.texture_px)
    return Avatar(spec, parts, tex, steps=["build"])


def rig(avatar: Avatar) -> Avatar:
    avatar.skeleton = skeleton.rig(avatar.parts, avatar.spec, avatar.head)
    avatar.steps.append("rig")
    return avatar


def face(avatar: Avatar) -> Avatar:
    morphs.add_morphs(avatar.parts, avatar.head)
    avatar.steps.append("face")
    return avatar


def clips(avatar: Avatar) -> Avatar:
    avatar.clips = make_clips({name for name, _, _ in avatar.skeleton})
    avatar.steps.append("clips")
    return avatar


def _proportioned(avatar: Avatar) -> tuple[list[Part], list[tuple]]:
    """Parts and skeleton with the spec's proportions (chibi: a bigger head) applied."""
    spec = avatar.spec
    if not spec.chibi:
        return avatar.parts, avatar.skeleton
    parts = []
    for p in avatar.parts:
        head = p.region == "head"
        move = (lambda x: head_point(x, spec)) if head else (lambda x: body_point(x, spec))
        scale = CHIBI_HEAD if head else 1.0
        q = Part(**{**p.__dict__})
        q.pos = move(p.pos.astype(np.float64)).astype(np.float32)
        q.morphs = {k: (d * scale).astype(np.float32) for k, d in p.morphs.items()}
        parts.append(q)
    skel = [(n, par, tuple(head_point(np.asarray(w), spec) if n in skeleton.HEAD_BONES
                           else body_point(np.asarray(w), spec)))
            for n, par, w in avatar.skeleton]
    return parts, skel


def export(avatar: Avatar, vrm: bool = False, permissive: bool = False) -> bytes:
    parts, skel = _proportioned(avatar)
    gl, blob, nodes = gltf.build_gltf(parts, skel, avatar.clips, avatar.look(), avatar.texture,
                                      name=avatar.spec.name)
    if vrm:
        world = {n: np.asarray(w, float) for n, _, w in skel}
        head_y = world["Head"][1]
        eyes = (world["LeftEye"] + world["RightEye"]) / 2
        add_vrm(gl, nodes, world, avatar.spec.name,
                (0.0, round(float(eyes[1] - head_y), 4), round(float(eyes[2] - world["Head"][2])
                                                               + 0.02, 4)), permissive)
    return gltf.to_bytes(gl, blob)


def make(spec: Spec) -> Avatar:
    """Every step up to export, in one call (the default avatar, the bench)."""
    return clips(face(rig(build(spec))))
