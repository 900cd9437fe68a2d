"""STAND-IN for a vLLM OpenAI-compatible server started with ``--enable-sleep-mode`` and
``VLLM_SERVER_DEV_MODE=1`` -- this is NOT vLLM: there is no model and no GPU here.

Shaped from vLLM's own entrypoints (``vllm/entrypoints/serve/dev/sleep/api_router.py``:
``POST /sleep?level=N`` -> 200, ``POST /wake_up`` -> 200, ``GET /is_sleeping`` ->
``{"is_sleeping": bool}``; ``/health``; ``/v1/models``; ``/v1/chat/completions`` streaming
``chat.completion.chunk`` SSE with ``stream_options.include_usage``; ``/metrics`` with
``vllm:num_requests_running`` / ``vllm:num_requests_waiting``). Behaviour (``gpu_host.sim.engines
.VllmEngine``): sleeping with requests in flight kills the engine (vllm-project/vllm#45520), a
request to a sleeping engine waits for ``/wake_up`` (the behaviour before #45326).

Memory is declared on the simulated device (``--sim-dir``): resident 15 GiB, 1.14 GiB asleep
(#32714). Latencies (``gpu_host.figures``): wake/sleep ~1.26 s, a line through the level-1 wake
times of vLLM's sleep-mode blog post (0.26 s Qwen3-0.6B, 0.82 s Phi-3-vision, A100, v0.11.0);
decode 30 tokens/s and 0.25 s to the first token (estimates for Gemma-3-27B 4-bit on a 3090).
``GET /stand-in/state`` (not vLLM's) exposes its counters to the tests.

    python -m tests.stand_ins.vllm_server --port 8001 --sim-dir var/gpu_sim
"""

from __future__ import annotations

import contextlib
import time
import uuid

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from gpu_host import figures as F
from gpu_host.figures import Need
from gpu_host.ledger import SimulatedDevice
from gpu_host.sim.engines import EngineDead, VllmEngine

MODEL = "gemma-3-27b-it"
VERSION = "0.13.0"  # the release the deployment pins (docs/gpu.md); answered at GET /version


def create_app(sim_dir, *, model: str = MODEL, total_mb: int = F.RTX_3090_MB,
               need: Need = Need(F.VLLM_MB, asleep=F.VLLM_ASLEEP_MB), **engine_kw) -> FastAPI:
    device = SimulatedDevice(total_mb, sim_dir)
    engine = VllmEngine(device, need, **engine_kw)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        engine.start()  # the model loads at boot
        yield
        device.set(engine.holder, 0)

    app = FastAPI(title="vLLM stand-in", lifespan=lifespan)
    app.state.engine = engine

    def dead() -> JSONResponse:
        return JSONResponse({"error": {"message": "EngineCore died", "type": "EngineDeadError"}},
                            status_code=500)

    @app.get("/health")
    async def health() -> Response:
        return dead() if engine.state == "dead" else Response(status_code=200)

    @app.get("/version")
    async def version() -> JSONResponse:
        return JSONResponse({"version": VERSION})

    @app.get("/is_sleeping")
    async def is_sleeping() -> JSONResponse:
        return JSONResponse({"is_sleeping": engine.state == "asleep"})

    @app.post("/sleep")
    async def sleep(request: Request) -> Response:
        level = int(request.query_params.get("level", "1"))
        try:
            await engine.sleep(level)
        except EngineDead:
            return dead()
        return Response(status_code=200)

    @app.post("/wake_up")
    async def wake_up() -> Response:
        try:
            await engine.wake()
        except EngineDead:
            return dead()
        return Response(status_code=200)

    @app.post("/collective_rpc")
    @app.post("/reset_prefix_cache")
    async def level2_steps() -> Response:
        return Response(status_code=200)

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        label = f'{{model_name="{model}"}}'
        return PlainTextResponse(
            f"# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{label} "
            f"{float(engine.in_flight)}\n# TYPE vllm:num_requests_waiting gauge\n"
            f"vllm:num_requests_waiting{label} 0.0\n")

    @app.get("/v1/models")
    async def models() -> JSONResponse:
        return JSONResponse({"object": "list", "data": [
            {"id": model, "object": "model", "created": int(time.time()), "owned_by": "vllm",
             "root": model, "max_model_len": 8192}]})

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        if engine.state == "dead":
            return dead()
        messages = body.get("messages") or []
        last = next((m.get("content", "") for m in reversed(messages)
                     if m.get("role") == "user"), "")
        max_tokens = int(body.get("max_tokens") or 64)
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

        def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
            doc = {"id": cid, "object": "chat.completion.chunk", "created": created,
                   "model": body.get("model", model),
                   "choices": [] if usage else [{"index": 0, "delta": delta, "logprobs": None,
                                                 "finish_reason": finish}]}
            if usage:
                doc["usage"] = usage
            return b"data: " + orjson.dumps(doc) + b"\n\n"

        async def events():
            n = 0
            yield chunk({"role": "assistant", "content": ""})
            async for word in engine.generate(last, max_tokens):
                n += 1
                yield chunk({"content": word})
            yield chunk({}, finish="stop" if n < max_tokens else "length")
            if (body.get("stream_options") or {}).get("include_usage"):
                prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
                yield chunk({}, usage={"prompt_tokens": prompt, "completion_tokens": n,
                                       "total_tokens": prompt + n})
            yield b"data: [DONE]\n\n"

        if not body.get("stream"):
            words = [w async for w in engine.generate(last, max_tokens)]
            return JSONResponse({"id": cid, "object": "chat.completion", "created": created,
                                 "model": model, "choices": [{
                                     "index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": "".join(words)}}]})
        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/stand-in/state")
    async def state() -> JSONResponse:
        return JSONResponse({"state": engine.state, "in_flight": engine.in_flight,
                             "counters": engine.counters, "log": engine.log})

    return app


if __name__ == "__main__":
    from tests.stand_ins.cli import serve_stand_in

    serve_stand_in(__doc__, create_app, wake_s=F.VLLM_WAKE_S, sleep_s=F.VLLM_SLEEP_S)
