"""Avatar jobs on the embedded server (2 cores): template job time cold and warm, how long a
cancel takes to stop the work, and voice-turn latency with jobs running vs without -- one run.

    .venv/bin/python bench/avatar_jobs.py [--cold 3] [--warm 12] [--turns 8] [--blocks 2]

* **job time**: POST /api/generate (a ~5 MB PNG of the astronaut portrait, style cartoon) ->
  ``job.done`` on the WebSocket, measured by the client. *Cold*: the first job of a freshly
  started server (its job process just spawned); *warm*: the following ones. Goals: p95 <= 8 s
  cold, <= 5 s warm.
* **cancel**: DELETE while the job is at ``build``; the server's own ``stopped_ms`` (cancel ->
  the worker has stopped, the step in flight included) and the client's DELETE -> ``job.done``.
  Goal: within 200 ms.
* **voice turns with jobs running**: spoken questions as in ``bench/voice_turns.py``, in
  alternating blocks -- no job running / jobs back to back (one always in flight) -- and the
  ratio of the two (goal <= 1.1).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import orjson
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import http_url, pct, start_server, stop_server, wait_up  # noqa: E402
from voice_turns import QUESTIONS, one_turn  # noqa: E402
from tests.speech import load_piper_voice, piper_16k  # noqa: E402
from tests.wsclient import Client  # noqa: E402


def big_photo() -> bytes:
    """The astronaut at 1600 x 1600 with a little film grain: a ~5 MB PNG (a phone photo's
    size; the pipeline scales it down to 1280 px first)."""
    from skimage import data

    im = Image.fromarray(data.astronaut()).resize((1600, 1600), Image.Resampling.LANCZOS)
    a = np.asarray(im).astype(np.int16) + np.random.default_rng(0).integers(-9, 10, (1600, 1600, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


class Jobs:
    def __init__(self, ws_url: str, photo: bytes) -> None:
        self.http = httpx.AsyncClient(base_url=http_url(ws_url), timeout=120)
        self.ws_url, self.photo = ws_url, photo
        self.waiters: dict[str, asyncio.Future] = {}
        self.steps: dict[str, asyncio.Event] = {}

    async def listen(self) -> None:
        import websockets

        async with websockets.connect(self.ws_url, max_size=2**22) as ws:
            async for raw in ws:
                if isinstance(raw, bytes):
                    continue
                msg = orjson.loads(raw)
                jid = msg.get("job_id")
                if msg.get("type") == "job.progress" and msg.get("current_step") == "build":
                    self.steps.setdefault(jid, asyncio.Event()).set()
                if msg.get("type") == "job.done" and jid in self.waiters:
                    fut = self.waiters.pop(jid)
                    if not fut.done():
                        fut.set_result((time.perf_counter(), msg))

    async def submit(self) -> str:
        r = await self.http.post("/api/generate", files={"image": ("p.png", self.photo)},
                                 data={"options": '{"style": "cartoon"}'})
        r.raise_for_status()
        jid = r.json()["data"]["job_id"]
        self.waiters[jid] = asyncio.get_running_loop().create_future()
        return jid

    async def one(self) -> float:
        t0 = time.perf_counter()
        jid = await self.submit()
        t1, msg = await asyncio.wait_for(asyncio.shield(self.waiters[jid]), 120)
        assert msg["status"] == "completed", msg
        return t1 - t0

    async def cancel_one(self) -> tuple[float, float]:
        jid = await self.submit()
        ev = self.steps.setdefault(jid, asyncio.Event())
        await asyncio.wait_for(ev.wait(), 60)
        t0 = time.perf_counter()
        done = self.waiters[jid]
        r = await self.http.delete(f"/api/generate/status/{jid}")
        r.raise_for_status()
        t1, msg = await asyncio.wait_for(done, 30)
        assert msg["status"] == "cancelled", msg
        status = (await self.http.get(f"/api/generate/status/{jid}")).json()["data"]
        return status["stopped_ms"], (t1 - t0) * 1000.0


def line(name: str, xs: list[float], unit: str = "s") -> str:
    if not xs:
        return f"{name:38s} (not measured)"
    return (f"{name:38s} p50 {pct(xs, 50):7.2f} {unit}  p95 {pct(xs, 95):7.2f} {unit}  "
            f"min {min(xs):6.2f}  max {max(xs):6.2f}  (n={len(xs)})")


async def jobs_run(url: str, photo: bytes, warm: int, cancels: int) -> dict:
    jobs = Jobs(url, photo)
    listener = asyncio.create_task(jobs.listen())
    await asyncio.sleep(0.5)
    try:
        cold = await jobs.one()
        warms = [await jobs.one() for _ in range(warm)]
        stops = [await jobs.cancel_one() for _ in range(cancels)]
        return {"cold": cold, "warm": warms, "stops": stops}
    finally:
        listener.cancel()
        await jobs.http.aclose()


async def voice_run(url: str, photo: bytes, turns: int, blocks: int) -> dict:
    voice = load_piper_voice()
    audios = {q: piper_16k(voice, q) for q in QUESTIONS}
    jobs = Jobs(url, photo)
    listener = asyncio.create_task(jobs.listen())
    c = await Client.connect(url, max_tokens=60)
    await one_turn(c, "Hello!", piper_16k(voice, "Hello!"), 1.2)  # warm-up
    out: dict[str, list[float]] = {"without": [], "with": []}
    done_jobs = 0
    for b in range(blocks * 2):
        mode = "without" if b % 2 == 0 else "with"
        loader = None
        if mode == "with":
            async def keep_busy() -> None:
                nonlocal done_jobs
                while True:
                    await jobs.one()
                    done_jobs += 1

            loader = asyncio.create_task(keep_busy())
            await asyncio.sleep(1.0)  # a job is under way
        for i in range(turns):
            q = QUESTIONS[((b // 2) * turns + i) % len(QUESTIONS)]  # a pair: the same questions
            r = await one_turn(c, q, audios[q], 1.2)
            if r is not None:
                out[mode].append(r["client_v2v"])
                t = r["timings"]
                print(f"  {mode:7s} v2v {r['client_v2v']:6.0f} ms  stt_done {t['stt_done']:5.0f}  "
                      f"llm_first_token {t['llm_first_token']:5.0f}  first_audio_sent "
                      f"{t['first_audio_sent']:5.0f}  endpoint {t['endpoint_ms'] or 0:5.0f}", flush=True)
            await asyncio.sleep(0.3)
        if loader is not None:
            loader.cancel()
            await asyncio.gather(loader, return_exceptions=True)
            # the job in flight on the server ends before the next block without jobs
            await asyncio.gather(*jobs.waiters.values(), return_exceptions=True)
        await c.close()
        c = await Client.connect(url, max_tokens=60)
    await c.close()
    listener.cancel()
    await jobs.http.aclose()
    out["jobs_done"] = done_jobs
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cold", type=int, default=3, help="fresh servers (one cold job each)")
    ap.add_argument("--warm", type=int, default=12, help="warm jobs on the first server")
    ap.add_argument("--cancels", type=int, default=6)
    ap.add_argument("--turns", type=int, default=6, help="voice turns per block (a session each)")
    ap.add_argument("--blocks", type=int, default=3, help="pairs of blocks (without, with jobs)")
    args = ap.parse_args()
    photo = big_photo()
    cold, warm, stops, voice = [], [], [], None
    for k in range(args.cold):
        proc, url = start_server()
        try:
            asyncio.run(wait_up(url))
            r = asyncio.run(jobs_run(url, photo, args.warm if k == 0 else 0,
                                     args.cancels if k == 0 else 0))
            cold.append(r["cold"])
            warm += r["warm"]
            stops += r["stops"]
            if k == 0 and args.turns:
                voice = asyncio.run(voice_run(url, photo, args.turns, args.blocks))
        finally:
            stop_server(proc)
    print(f"\navatar jobs, template engine, style cartoon (CPU toon filter), photo "
          f"{len(photo) / 2**20:.1f} MB PNG 1600x1600, {os.cpu_count()} cores, the job process "
          f"at nice 19\n")
    print(line("template job, cold (fresh server)", cold) + "   goal p95 <= 8 s")
    print(line("template job, warm", warm) + "   goal p95 <= 5 s")
    if stops:
        print(line("cancel -> work stopped (server)", [s for s, _ in stops], "ms")
              + "   goal <= 200 ms")
        print(line("DELETE -> job.done cancelled (client)", [c for _, c in stops], "ms"))
    if voice:
        a, b = voice["without"], voice["with"]
        print(line("voice turn v2v, no job running", a, "ms"))
        print(line("voice turn v2v, jobs running", b, "ms"))
        print(f"{'ratio with / without':38s} p50 {pct(b, 50) / pct(a, 50):7.3f}    "
              f"p90 {pct(b, 90) / pct(a, 90):7.3f}   goal <= 1.1   "
              f"({voice['jobs_done']} jobs finished meanwhile)")


if __name__ == "__main__":
    main()
