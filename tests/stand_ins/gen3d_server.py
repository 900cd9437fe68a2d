"""STAND-IN for the gen3d sidecar: Hunyuan3D-2's ``api_server.py`` job contract -- this is NOT
Hunyuan3D: no model, no GPU. ``POST /send {image, ...}`` -> ``{"uid"}`` (the run starts in the
background), ``GET /status/{uid}`` -> ``{"status": "processing"}`` until done, then
``{"status": "completed", "model_base64": ...}`` (an empty GLB here). As upstream, there is no
cancel and no unload: the models stay loaded for the life of the process, which is why gpu_host
controls the sidecar by starting and stopping the process itself.

``--mesh`` makes each run return a real mesh instead: an unrigged, untextured surface with vertex
colours, in its own frame (as image-to-3D models return them): the template avatar's skin,
hair and clothes, scaled and moved, without skeleton, weights or morph targets
(:func:`mesh_glb`). The avatar jobs' ``gpu3d`` engine rigs it and gives it face shapes.

Memory on the simulated device: 15 GiB from start to exit (seeds: 12-15 GB; Hunyuan3D-2mini with
Paint 16 GB). Latencies (``gpu_host.figures``): load ~1.4 s at the host->GPU copy rate of vLLM's
sleep-mode figures; a run 120 s (the research note's target, not a measurement).

    python -m tests.stand_ins.gen3d_server --port 8081 --sim-dir var/gpu_sim [--run-s 120]
"""

from __future__ import annotations

import contextlib

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gpu_host import figures as F
from gpu_host.figures import Need
from gpu_host.ledger import SimulatedDevice
from gpu_host.sim.engines import Gen3dEngine


def mesh_glb(params: dict | None = None) -> bytes:
    """An unrigged mesh GLB: positions, normals, vertex colours, triangles; nothing else."""
    import numpy as np
    import pygltflib as g

    from avatar_engine.template import Spec, build
    from avatar_engine.template.parts import srgb_to_linear

    avatar = build(Spec(hair="bob"))
    look = avatar.look()
    parts = [p for p in avatar.parts if p.material in ("Skin", "Hair", "Clothes")
             and not p.name.startswith("brow")]
    pos = np.concatenate([p.pos for p in parts]).astype(np.float64)
    pos = ((pos - [0.0, 1.3, 0.0]) * 1.8).astype(np.float32)  # another frame: centred, bigger
    nrm = np.concatenate([p.nrm for p in parts]).astype(np.float32)
    col = np.concatenate([np.tile(srgb_to_linear(look[p.material]), (len(p.pos), 1))
                          for p in parts]).astype(np.float32)
    offsets = np.cumsum([0] + [len(p.pos) for p in parts])
    tri = np.concatenate([p.tri + o for p, o in zip(parts, offsets)]).astype(np.uint32)
    blob = bytearray()

    def view(arr, target):
        while len(blob) % 4:
            blob.append(0)
        off = len(blob)
        blob.extend(arr.tobytes())
        return g.BufferView(buffer=0, byteOffset=off, byteLength=arr.nbytes, target=target)

    views = [view(pos, g.ARRAY_BUFFER), view(nrm, g.ARRAY_BUFFER), view(col, g.ARRAY_BUFFER),
             view(tri.reshape(-1), g.ELEMENT_ARRAY_BUFFER)]
    acc = [g.Accessor(bufferView=0, componentType=g.FLOAT, count=len(pos), type=g.VEC3,
                      min=pos.min(axis=0).tolist(), max=pos.max(axis=0).tolist()),
           g.Accessor(bufferView=1, componentType=g.FLOAT, count=len(pos), type=g.VEC3),
           g.Accessor(bufferView=2, componentType=g.FLOAT, count=len(pos), type=g.VEC3),
           g.Accessor(bufferView=3, componentType=g.UNSIGNED_INT, count=tri.size, type=g.SCALAR)]
    gl = g.GLTF2(asset=g.Asset(version="2.0", generator="gen3d stand-in"), bufferViews=views,
                 accessors=acc, buffers=[g.Buffer(byteLength=len(blob))],
                 meshes=[g.Mesh(primitives=[g.Primitive(attributes=g.Attributes(
                     POSITION=0, NORMAL=1, COLOR_0=2), indices=3)])],
                 nodes=[g.Node(mesh=0)], scenes=[g.Scene(nodes=[0])], scene=0)
    gl.set_binary_blob(bytes(blob))
    return b"".join(gl.save_to_bytes())


def create_app(sim_dir, *, total_mb: int = F.RTX_3090_MB, need: Need = Need(F.GEN3D_MB),
               mesh: bool = False, **engine_kw) -> FastAPI:
    engine = Gen3dEngine(SimulatedDevice(total_mb, sim_dir), need,
                         make_result=mesh_glb if mesh else None, **engine_kw)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        await engine.load()  # api_server.py loads every pipeline before it serves
        yield
        engine.stop()

    app = FastAPI(title="gen3d stand-in", lifespan=lifespan)
    app.state.engine = engine

    @app.post("/send")
    async def send(request: Request) -> JSONResponse:
        params = await request.json()
        if "image" not in params and "text" not in params:
            return JSONResponse({"text": "No input image or text provided", "error_code": 1},
                                status_code=404)
        return JSONResponse({"uid": engine.send(params)})

    @app.get("/status/{uid}")
    async def status(uid: str) -> JSONResponse:
        return JSONResponse(engine.status(uid))

    return app


if __name__ == "__main__":
    from tests.stand_ins.cli import serve_stand_in

    serve_stand_in(__doc__, create_app, run_s=F.GEN3D_RUN_S, load_s=F.GEN3D_LOAD_S)
