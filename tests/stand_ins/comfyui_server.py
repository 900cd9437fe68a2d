"""STAND-IN for a ComfyUI server (``python main.py --listen``) -- this is NOT ComfyUI: no
diffusion model, no GPU. It answers ComfyUI's own HTTP and WebSocket API as ``server.py`` does:

* ``POST /prompt {prompt, client_id}`` -> ``{prompt_id, number, node_errors}`` (400 with
  ``{"error": {type, message, ...}, "node_errors"}`` for a graph without outputs);
  ``GET /prompt`` -> ``{exec_info: {queue_remaining}}``;
* ``GET /history/{id}``, ``GET /history`` -> ``{id: {prompt, outputs: {node: {images: [...]}},
  status: {status_str, completed, messages}}}``; ``GET /view?filename&subfolder&type`` -> PNG;
* ``GET /ws?clientId=`` -> ``status`` at once, then ``execution_start``, ``executing``,
  ``progress {value, max, prompt_id, node}``, ``executed``, ``execution_success`` or
  ``execution_interrupted``, and ``executing {node: null}`` when a prompt ends;
* ``GET /system_stats`` -> ``{system: {...}, devices: [{name, type, index, vram_total, vram_free,
  torch_vram_total, torch_vram_free}]}`` in bytes, read from the simulated device, i.e. the whole
  GPU as CUDA reports it, not just ComfyUI's share;
* ``POST /interrupt``, ``POST /free {unload_models, free_memory}``, ``POST /queue {clear,
  delete}``, ``GET /queue``, ``GET /object_info``;
* ``POST /upload/image`` (multipart ``image``, ``overwrite``, ``subfolder``) -> ``{name,
  subfolder, type: input}``; a graph whose ``LoadImage`` names an uploaded image "renders" that
  image back (no diffusion here: the output is the input, byte for byte).

Prompt-worker semantics (``main.py`` ``prompt_worker``, ``execution.py``) are those of
``gpu_host.sim.engines.ComfyEngine``: ``/free`` only sets flags, acted on after the prompt that
is running. Latencies (``gpu_host.figures``): 0.25 s per SDXL 1024x1024 step with IP-Adapter
(from IP-Adapter's V100 figure, tencent-ailab/IP-Adapter#7), model load/unload ~1.1 s (the
host<->GPU copy rate of vLLM's sleep-mode figures, for ~11.6 GiB). Memory: 12 GiB with models
(seeds; research note), 400 MiB CUDA context without (estimate). ``POST /stand-in/stuck``
(not ComfyUI's) makes ``/free`` never act, for the tests.

    python -m tests.stand_ins.comfyui_server --port 8188 --sim-dir var/gpu_sim
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import sys

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response

from gpu_host import figures as F
from gpu_host.figures import Need
from gpu_host.ledger import SimulatedDevice
from gpu_host.sim.engines import ComfyEngine, validate_graph

MB = 2**20
NODES = ("CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler",
         "VAEDecode", "VAEEncode", "SaveImage", "LoadImage", "IPAdapterAdvanced",
         "IPAdapterUnifiedLoader")


def create_app(sim_dir, *, total_mb: int = F.RTX_3090_MB,
               need: Need = Need(F.COMFYUI_MB, stopped=F.COMFYUI_IDLE_MB), **engine_kw) -> FastAPI:
    device = SimulatedDevice(total_mb, sim_dir)
    engine = ComfyEngine(device, need, **engine_kw)
    sockets: dict[str, asyncio.Queue] = {}
    number = {"n": 0}

    def broadcast(event: str, data: dict, client_id: str | None) -> None:
        # ComfyUI sends to the prompt's client (and broadcasts some events); here: to the
        # prompt's client if it is connected, else to everyone
        targets = [sockets[client_id]] if client_id in sockets else list(sockets.values())
        for q in targets:
            q.put_nowait({"type": event, "data": data})

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        engine.listeners.append(broadcast)
        engine.start()
        yield
        await engine.stop()
        device.set(engine.holder, 0)

    app = FastAPI(title="ComfyUI stand-in", lifespan=lifespan)
    app.state.engine = engine

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        sid = websocket.query_params.get("clientId") or f"sid-{id(websocket):x}"
        queue: asyncio.Queue = asyncio.Queue()
        sockets[sid] = queue
        queue.put_nowait({"type": "status", "data": {
            "status": {"exec_info": {"queue_remaining": len(engine.queue)}}, "sid": sid}})

        async def pump() -> None:
            while True:
                await websocket.send_json(await queue.get())

        sender = asyncio.create_task(pump())
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass  # ComfyUI ignores what clients send; we only watch for the close
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            sockets.pop(sid, None)
            sender.cancel()

    @app.post("/prompt")
    async def prompt(request: Request) -> JSONResponse:
        body = await request.json()
        if "prompt" not in body:
            return JSONResponse({"error": {"type": "no_prompt", "message": "No prompt provided",
                                           "details": "", "extra_info": {}}, "node_errors": {}},
                                status_code=400)
        error = validate_graph(body["prompt"])
        if error:
            return JSONResponse({"error": {"type": "prompt_outputs_failed_validation",
                                           "message": error, "details": "", "extra_info": {}},
                                 "node_errors": {}}, status_code=400)
        prompt_id = engine.submit(body["prompt"], body.get("client_id"))
        number["n"] += 1
        return JSONResponse({"prompt_id": prompt_id, "number": number["n"], "node_errors": {}})

    @app.get("/prompt")
    async def queue_remaining() -> JSONResponse:
        remaining = len(engine.queue) + (1 if engine.running else 0)
        return JSONResponse({"exec_info": {"queue_remaining": remaining}})

    @app.get("/history")
    async def history_all() -> JSONResponse:
        return JSONResponse(engine.history)

    @app.get("/history/{prompt_id}")
    async def history(prompt_id: str) -> JSONResponse:
        item = engine.history.get(prompt_id)
        return JSONResponse({prompt_id: item} if item else {})

    @app.get("/view")
    async def view(filename: str, type: str = "output", subfolder: str = "") -> Response:  # noqa: A002
        if filename.startswith("/") or ".." in filename:
            return Response(status_code=400)
        data = engine.images.get(filename)
        if data is None or type != "output":
            return Response(status_code=404)
        return Response(data, media_type="image/png",
                        headers={"Content-Disposition": f'filename="{filename}"'})

    @app.get("/system_stats")
    async def system_stats() -> JSONResponse:
        free = engine.vram_free_bytes()
        total = device.total_mb * MB
        return JSONResponse({
            "system": {"os": "posix", "ram_total": 0, "ram_free": 0,
                       "comfyui_version": "stand-in", "python_version": sys.version,
                       "pytorch_version": "none", "embedded_python": False,
                       "argv": ["main.py"], "platform": platform.platform()},
            "devices": [{"name": "cuda:0 simulated RTX 3090 : cudaMallocAsync", "type": "cuda",
                         "index": 0, "vram_total": total, "vram_free": free,
                         "torch_vram_total": total, "torch_vram_free": free}]})

    @app.post("/interrupt")
    async def interrupt() -> Response:
        engine.interrupt()
        return Response(status_code=200)

    @app.post("/free")
    async def free(request: Request) -> Response:
        body = await request.json()
        engine.free(bool(body.get("unload_models")), bool(body.get("free_memory")))
        return Response(status_code=200)

    @app.get("/queue")
    async def get_queue() -> JSONResponse:
        return JSONResponse(engine.queue_info())

    @app.post("/queue")
    async def post_queue(request: Request) -> Response:
        body = await request.json()
        if body.get("clear"):
            engine.clear_queue()
        for prompt_id in body.get("delete") or []:
            engine.queue = type(engine.queue)(q for q in engine.queue if q[0] != prompt_id)
        return Response(status_code=200)

    @app.post("/upload/image")
    async def upload_image(request: Request) -> JSONResponse:
        form = await request.form()
        image = form.get("image")
        if image is None or not hasattr(image, "read"):
            return Response(status_code=400)
        name = image.filename or "upload.png"
        if "/" in name or ".." in name:
            return Response(status_code=400)
        subfolder = str(form.get("subfolder") or "")
        engine.uploads[f"{subfolder}/{name}" if subfolder else name] = await image.read()
        return JSONResponse({"name": name, "subfolder": subfolder, "type": "input"})

    @app.get("/object_info")
    async def object_info() -> JSONResponse:
        return JSONResponse({n: {"name": n, "display_name": n, "category": "stand-in",
                                 "input": {}, "output": [], "output_node": n == "SaveImage"}
                             for n in NODES})

    @app.post("/stand-in/stuck")
    async def stuck(request: Request) -> JSONResponse:
        engine.stuck = bool((await request.json()).get("stuck", True))
        if not engine.stuck:
            engine._wake.set()  # noqa: SLF001 - let the worker act on flags it skipped
        return JSONResponse({"stuck": engine.stuck})

    @app.get("/stand-in/state")
    async def state() -> JSONResponse:
        return JSONResponse({"loaded": engine.loaded, "running": engine.running,
                             "queued": len(engine.queue), "counters": engine.counters,
                             "log": engine.log})

    return app


if __name__ == "__main__":
    from tests.stand_ins.cli import serve_stand_in

    serve_stand_in(__doc__, create_app, step_s=F.SDXL_STEP_S, unload_s=F.COMFYUI_UNLOAD_S)
