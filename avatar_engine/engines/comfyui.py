"""The style step on ComfyUI, through ComfyUI's own API (``server.py``,
``script_examples/websockets_api_example.py``):

1. ``GET /object_info``: every node class the workflow uses is installed (else: the CPU toon
   filter, with a note saying why);
2. ``POST /upload/image`` (multipart ``image``, ``overwrite``) -> ``{name, subfolder, type}``;
3. ``POST /prompt {prompt, client_id}`` -> ``{prompt_id}``, the versioned workflow
   (``avatar_engine/workflows/style_sdxl_v1.json``) with this job's image, prompt, strength;
4. ``/ws?clientId=``: ``progress {value, max, prompt_id}`` -> the job's progress; done on
   ``executing {node: null, prompt_id}``; ``execution_interrupted`` / ``execution_error`` fail;
5. ``GET /history/{prompt_id}`` -> the SaveImage node's images; ``GET /view`` -> the PNG.

The whole render is one unit under a ``gpu_host`` lease on the ``style`` plan
(:func:`gpu_host.stage.run_stage`): when the conversation needs the GPU, gpu_host interrupts
ComfyUI, the unit's work is lost and the stage asks again; it resumes in the next idle window.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path

import httpx

from avatar_engine import licences
from avatar_engine.errors import JobError

log = logging.getLogger(__name__)
WORKFLOW = Path(__file__).resolve().parent.parent / "workflows" / "style_sdxl_v1.json"


def load_workflow(path: Path | None = None) -> dict:
    return json.loads(Path(path or WORKFLOW).read_text())


def fill(workflow: dict, image_name: str, preset: str, strength: float, seed: int) -> dict:
    graph = json.loads(json.dumps(workflow["prompt"]))
    values = {"image": image_name, "positive": workflow["presets"][preset],
              "negative": workflow["negative"], "denoise": round(0.75 * strength, 3),
              "seed": seed, "weight": round(0.5 + 0.5 * strength, 3)}
    for key, (node, field) in workflow["inputs"].items():
        graph[node]["inputs"][field] = values[key]
    return graph


class ComfyClient:
    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.url, timeout=timeout_s)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def missing_nodes(self, graph: dict) -> list[str]:
        r = await self.http.get("/object_info")
        r.raise_for_status()
        have = r.json()
        return sorted({n["class_type"] for n in graph.values()} - set(have))

    async def upload(self, png: bytes, name: str) -> str:
        r = await self.http.post("/upload/image", files={"image": (name, png, "image/png")},
                                 data={"overwrite": "true"})
        r.raise_for_status()
        info = r.json()
        return f"{info['subfolder']}/{info['name']}" if info.get("subfolder") else info["name"]

    async def render(self, graph: dict, on_progress) -> bytes:
        import websockets

        client_id = uuid.uuid4().hex
        ws_url = self.url.replace("http", "ws", 1) + f"/ws?clientId={client_id}"
        async with websockets.connect(ws_url, max_size=2**24) as ws:
            r = await self.http.post("/prompt", json={"prompt": graph, "client_id": client_id})
            if r.status_code != 200:
                raise JobError("GENERATION_FAILED", f"ComfyUI refused the workflow: {r.text[:300]}")
            prompt_id = r.json()["prompt_id"]
            async for raw in ws:
                if isinstance(raw, bytes):
                    continue  # previews
                msg = json.loads(raw)
                data = msg.get("data") or {}
                if data.get("prompt_id") not in (None, prompt_id):
                    continue
                kind = msg.get("type")
                if kind == "progress" and data.get("max"):
                    await on_progress(data["value"] / data["max"])
                elif kind in ("execution_interrupted", "execution_error"):
                    raise InterruptedError(f"ComfyUI: {kind}")
                elif kind == "executing" and data.get("node") is None \
                        and data.get("prompt_id") == prompt_id:
                    break
        hist = (await self.http.get(f"/history/{prompt_id}")).json().get(prompt_id) or {}
        if hist.get("status", {}).get("status_str") != "success":
            raise InterruptedError("ComfyUI: the prompt did not succeed")
        for output in hist.get("outputs", {}).values():
            for image in output.get("images", []):
                r = await self.http.get("/view", params={
                    "filename": image["filename"], "subfolder": image.get("subfolder", ""),
                    "type": image.get("type", "output")})
                r.raise_for_status()
                return r.content
        raise JobError("GENERATION_FAILED", "ComfyUI gave no image")


def check_licences(settings, workflow: dict) -> None:
    for model in workflow.get("models", []):
        licences.check(model, settings.avatar_region, settings.avatar_allow_noncommercial)


async def stylize(ctx, url: str, photo: bytes, preset: str, strength: float) -> bytes:
    from avatar_engine.engines import toon
    from avatar_engine.photo.image import encode_png, load_rgb
    from gpu_host.stage import run_stage

    workflow = load_workflow(ctx.settings.avatar_style_workflow)
    check_licences(ctx.settings, workflow)
    client = ComfyClient(url)
    try:
        missing = await client.missing_nodes(workflow["prompt"])
        if missing:
            await ctx.note(f"style: ComfyUI lacks the nodes {missing}; the CPU toon filter "
                           f"stands in")
            return await ctx.cpu(toon.stylize, photo, preset, strength)
        png = await ctx.cpu(encode_png, await ctx.cpu(load_rgb, photo))

        out: dict[str, bytes] = {}

        async def unit(done):  # one render: the unit of preemption
            name = await client.upload(png, f"avatar_{ctx.id}.png")
            graph = fill(workflow, name, preset, strength, seed=int(ctx.id[:8], 16))
            out["png"] = await client.render(graph, ctx.report)
            return "rendered", True

        await run_stage(ctx.gpu, ctx.id, "style", "style", unit, est_s=40.0,
                        progress=lambda _: 1.0)
        return out["png"]
    finally:
        await client.aclose()
