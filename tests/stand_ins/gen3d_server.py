"""STAND-IN for the gen3d sidecar: Hunyuan3D-2's ``api_server.py`` job contract -- this is NOT
Hunyuan3D: no model, no GPU. ``POST /send {image, ...}`` -> ``{"uid"}`` (the run starts in the
background), ``GET /status/{uid}`` -> ``{"status": "processing"}`` until done, then
``{"status": "completed", "model_base64": ...}`` (an empty GLB here). As upstream, there is no
cancel and no unload: the models stay loaded for the life of the process, which is why gpu_host
controls the sidecar by starting and stopping the process itself.

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


def create_app(sim_dir, *, total_mb: int = F.RTX_3090_MB, need: Need = Need(F.GEN3D_MB),
               **engine_kw) -> FastAPI:
    engine = Gen3dEngine(SimulatedDevice(total_mb, sim_dir), need, **engine_kw)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        await engine.load()  # api_server.py loads every pipeline before it serves
        yield
        engine.stop()

    app = FastAPI(title="gen3d stand-in", lifespan=lifespan)

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
