"""The experimental ``gpu3d`` engine: image -> 3D mesh on a sidecar, then rigged and given face
shapes here, and held to the same checks as the template (any failure falls back to it).

1. The sidecar speaks Hunyuan3D-2's ``api_server.py`` contract: ``POST /send {image: base64,
   type: glb, ...}`` -> ``{uid}``; ``GET /status/{uid}`` -> ``{status: processing}`` until
   ``{status: completed, model_base64}``. Which model it runs is ``AVATAR_AVATAR_GPU3D_MODEL``
   (checked against the deployment's region: Hunyuan3D 2.x excludes KR, the EU and the UK;
   TRELLIS and TripoSR are MIT). The run is one unit under a ``gpu_host`` lease on the
   ``gen3d`` plan (preempted: gpu_host stops the sidecar, the run is lost, it is asked again).
2. The mesh (an unrigged surface, as every open image-to-3D model gives) is fitted onto the
   template built from the same photo, then **rigged by skin-weight transfer** (each vertex takes
   the joints and weights of the nearest template vertex) and given the template's **face
   shapes by transfer** (the nearest template vertex's morph deltas, fading out over 15 mm).
   The template's eyes, brows and mouth stay (they carry the visemes and blinks). An
   auto-rigger (UniRig, Make-It-Animatable v1, both MIT) can replace step 2's rigging in the
   sidecar; the checks stay the same.
"""

from __future__ import annotations

import asyncio
import base64

import cv2
import httpx
import numpy as np

from avatar_engine import licences
from avatar_engine.checks.read import accessor, load
from avatar_engine.stages import Fallback
from avatar_engine.template import Avatar, clips, face, rig
from avatar_engine.template.parts import Part
from avatar_engine.template.shapes import unit

REPLACED = ("Skin", "Hair", "Clothes")  # the template's surfaces the mesh stands for
KEPT = ("brow1", "brow-1")  # ... except the brows (blinks move them)
POLL_S = 0.5
RUN_EST_S = 120.0


class MeshUnusable(Exception):
    pass


async def replace_mesh(ctx, template: bytes) -> bytes:
    s = ctx.settings
    licences.check(s.avatar_gpu3d_model, s.avatar_region, s.avatar_allow_noncommercial)
    url = getattr(getattr(ctx.gpu, "settings", None), "gen3d_url", "") if ctx.gpu else ""
    if not url:
        raise Fallback("no gen3d sidecar is configured (AVATAR_GPU_GEN3D_URL)")
    glb = await ctx.file("gpu3d.glb")  # a run that finished before a restart
    if glb is None:
        image = await ctx.file("styled.png") or await ctx.file("photo")
        try:
            glb = await generate(ctx, url, image)
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise Fallback(f"the gen3d sidecar failed: {exc}") from exc
        await ctx.save("gpu3d.glb", glb)
    try:
        return await ctx.cpu(merge, template, glb)
    except Exception as exc:  # noqa: BLE001 - experimental: whatever breaks, the template stays
        raise Fallback(f"{type(exc).__name__}: {exc}") from exc


async def generate(ctx, url: str, image: bytes) -> bytes:
    from gpu_host.stage import run_stage

    out: dict[str, bytes] = {}
    loop = asyncio.get_running_loop()

    async def run(_):  # one sidecar run: the unit of preemption
        async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=30.0) as http:
            r = await http.post("/send", json={
                "image": base64.b64encode(image).decode(), "type": "glb", "texture": False,
                "seed": 1234, "octree_resolution": 256, "num_inference_steps": 30,
                "guidance_scale": 5.0, "face_count": 30000})
            r.raise_for_status()
            uid = r.json()["uid"]
            t0 = loop.time()
            while True:
                status = (await http.get(f"/status/{uid}")).json()
                if status.get("status") == "completed":
                    out["glb"] = base64.b64decode(status["model_base64"])
                    return "meshed", True
                if status.get("status") != "processing":
                    raise ValueError(f"sidecar status {status.get('status')!r}")
                await ctx.report(min(0.95, (loop.time() - t0) / RUN_EST_S))
                await asyncio.sleep(POLL_S)

    await run_stage(ctx.gpu, ctx.id, "gen3d", "build", run, est_s=RUN_EST_S,
                    progress=lambda _: 1.0)
    return out["glb"]


# ---------------------------------------------------------------------- in the job process
def _world(gl, index: int, parents: dict[int, int]) -> np.ndarray:
    m = np.eye(4)
    while index is not None:
        n = gl.nodes[index]
        local = np.eye(4)
        if n.matrix:
            local = np.asarray(n.matrix, float).reshape(4, 4).T
        else:
            x, y, z, w = n.rotation or (0, 0, 0, 1)
            r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                          [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                          [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
            local[:3, :3] = r * np.asarray(n.scale or (1, 1, 1), float)
            local[:3, 3] = n.translation or (0, 0, 0)
        m = local @ m
        index = parents.get(index)
    return m


def read_mesh(glb: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """-> (positions, triangles, linear vertex colours or None), in the file's world space."""
    try:
        gl = load(glb)
    except Exception as exc:  # noqa: BLE001
        raise MeshUnusable(f"the sidecar's GLB cannot be read: {exc}") from exc
    if gl is None or not gl.nodes:
        raise MeshUnusable("the sidecar's GLB is empty")
    parents = {c: i for i, n in enumerate(gl.nodes) for c in (n.children or [])}
    pos, tri, col, base = [], [], [], 0
    for i, node in enumerate(gl.nodes):
        if node.mesh is None:
            continue
        m = _world(gl, i, parents)
        for prim in gl.meshes[node.mesh].primitives:
            if prim.mode not in (None, 4) or prim.attributes.POSITION is None:
                continue
            p = accessor(gl, prim.attributes.POSITION).astype(float)
            p = p @ m[:3, :3].T + m[:3, 3]
            t = accessor(gl, prim.indices).reshape(-1, 3) if prim.indices is not None \
                else np.arange(len(p)).reshape(-1, 3)
            c = prim.attributes.COLOR_0
            col.append(accessor(gl, c)[:, :3] if c is not None else np.ones((len(p), 3)))
            pos.append(p)
            tri.append(t.astype(np.int64) + base)
            base += len(p)
    if not pos or sum(len(t) for t in tri) < 100:
        raise MeshUnusable("the sidecar's GLB holds no usable mesh")
    return np.concatenate(pos), np.concatenate(tri), np.concatenate(col)


def _normals(pos: np.ndarray, tri: np.ndarray) -> np.ndarray:
    fn = np.cross(pos[tri[:, 1]] - pos[tri[:, 0]], pos[tri[:, 2]] - pos[tri[:, 0]])
    n = np.zeros_like(pos)
    for k in range(3):
        np.add.at(n, tri[:, k], fn)
    return unit(n, unit(pos - pos.mean(axis=0)))


def merge(template: bytes, glb: bytes) -> bytes:
    avatar = Avatar.from_bytes(template)
    avatar.spec = avatar.spec.with_(chibi=False)  # the mesh has its own proportions
    ref = clips(face(rig(Avatar.from_bytes(template))))
    pos, tri, col = read_mesh(glb)
    if len(pos) >= 65536 * 4:
        raise MeshUnusable(f"{len(pos)} vertices is over the budget")
    targets = [p for p in ref.parts if p.material in REPLACED and p.name not in KEPT]
    rpos = np.concatenate([p.pos for p in targets]).astype(np.float32)
    # fit: the same height, standing on the same base, centred the same
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    rlo, rhi = rpos.min(axis=0), rpos.max(axis=0)
    scale = (rhi[1] - rlo[1]) / max(hi[1] - lo[1], 1e-9)
    fitted = (pos - [(lo[0] + hi[0]) / 2, lo[1], (lo[2] + hi[2]) / 2]) * scale \
        + [(rlo[0] + rhi[0]) / 2, rlo[1], (rlo[2] + rhi[2]) / 2]
    fitted = fitted.astype(np.float32)
    index = cv2.flann_Index(rpos, {"algorithm": 1, "trees": 4})  # a kd-tree forest
    nearest, dist2 = index.knnSearch(fitted, 1, params={"checks": 64})
    nearest, dist = nearest[:, 0], np.sqrt(dist2[:, 0])
    joints = np.concatenate([p.joints for p in targets])[nearest]
    weights = np.concatenate([p.weights for p in targets])[nearest]
    fade = np.clip(1.0 - (dist - 0.005) / 0.01, 0.0, 1.0)[:, None].astype(np.float32)
    morphs = {}
    for name in {n for p in targets for n in p.morphs}:
        d = np.concatenate([p.morphs.get(name, np.zeros_like(p.pos)) for p in targets])[nearest]
        if np.any(d != 0):
            morphs[name] = (d * fade).astype(np.float32)
    part = Part("generated", "Body", fitted, _normals(fitted.astype(float), tri).astype(
        np.float32), tri.astype(np.uint32), region="body", bind=("given",),
                color=np.clip(col, 0, 1).astype(np.float32), joints=joints, weights=weights,
                morphs=morphs)
    avatar.parts = [part] + [p for p in avatar.parts
                             if p.material not in REPLACED or p.name in KEPT]
    return avatar.to_bytes()
