"""What the OpenAI Realtime adapter costs: time to first audio of a typed turn through
``/v1/realtime`` vs ``/ws``, same server, same run, interleaved.

    .venv/bin/python bench/realtime_compat.py [--turns 40] [--url ws://127.0.0.1:8000/ws]

Without ``--url`` it starts the server itself (``python -m realtime``, embedded engines). Each
turn opens a fresh session on each protocol (same default character, temperature 0, the same
prompt), so the LLM pre-fills the same prompt after the same cached system prompt and the TTS
speaks the same words; the two alternate (and which goes first), so load on this noisy machine
hits both alike. Each turn is measured from sending the input (``input.text``; the
``conversation.item.create`` + ``response.create`` pair) to the first audio received (a binary
frame; ``response.output_audio.delta``), then cancelled (``response.cancel``), so every turn
does only the work up to its first audio. Both clients are raw ``websockets`` connections.
The end-to-end figures carry the LLM's and TTS's own variation (tens of ms on a loaded 2-core
machine), so the script also splits out what the protocol itself costs: the server-added
``overhead_ms`` of each turn (``response.done`` timings) and the protocol's path (client time to
first audio minus the server's ``first_audio_sent``: the input reaching the server and becoming a
turn, the first audio reaching the client). Goal (issue 14): ``/v1/realtime`` within 5 ms of
``/ws`` at p50.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import pct, row, serve_and_run  # noqa: E402
from tests.wsclient import Client, Frame  # noqa: E402
from typed_turns import PROMPTS  # noqa: E402
MAX_TOKENS = 40


class OaiClient:
    """The OpenAI Realtime protocol over a raw websocket (what the SDKs send, minus the SDK)."""

    def __init__(self, ws) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, url: str) -> OaiClient:
        ws = await websockets.connect(url, max_size=8 * 1024 * 1024,
                                      additional_headers={"Authorization": "Bearer bench"})
        c = cls(ws)
        await c.until("session.created")
        await c.send({"type": "session.update", "session": {
            "type": "realtime", "temperature": 0.0, "max_output_tokens": MAX_TOKENS}})
        await c.until("session.updated")
        return c

    async def send(self, ev: dict) -> None:
        await self.ws.send(orjson.dumps(ev).decode())

    async def until(self, type_: str) -> dict:
        while True:
            ev = orjson.loads(await asyncio.wait_for(self.ws.recv(), 60))
            if ev["type"] == "error":
                raise RuntimeError(ev["error"])
            if ev["type"] == type_:
                return ev

    async def first_audio(self, text: str) -> tuple[float, dict]:
        t0 = time.perf_counter()
        await self.send({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
        await self.send({"type": "response.create"})
        await self.until("response.output_audio.delta")
        ms = (time.perf_counter() - t0) * 1000
        await self.send({"type": "response.cancel"})
        done = await self.until("response.done")
        return ms, done["response"]["timings"]


async def ws_first_audio(c: Client, text: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    await c.send({"type": "input.text", "text": text})
    while not isinstance(item := await c.recv(), Frame):
        if item["type"] == "error":
            raise RuntimeError(item)
    ms = (item.t - t0) * 1000
    await c.send({"type": "response.cancel"})
    while not (isinstance(item, dict) and item["type"] == "response.done"):
        item = await c.recv()
    return ms, item["timings"]


async def run(url: str, turns: int) -> None:
    oai_url = url.removesuffix("/ws") + "/v1/realtime?model=gpt-realtime"
    times: dict[str, list[float]] = {"ws": [], "oai": []}
    server: dict[str, list[dict]] = {"ws": [], "oai": []}
    for i in range(-1, turns):  # -1: a warm-up (not counted), the system prompt gets cached
        text = PROMPTS[i % len(PROMPTS)]
        ws = await Client.connect(url, temperature=0.0, max_tokens=MAX_TOKENS)
        oai = await OaiClient.connect(oai_url)
        for name in (("ws", "oai") if i % 2 == 0 else ("oai", "ws")):
            ms, timings = await (ws_first_audio(ws, text) if name == "ws"
                                 else oai.first_audio(text))
            if i >= 0:
                times[name].append(ms)
                server[name].append(timings)
        await ws.close()
        await oai.ws.close()

    print(f"\n{turns} typed turns per protocol, interleaved, temperature 0, embedded engines "
          f"(SmolLM2-135M llama.cpp, Piper)\n")
    print(f"{'send -> first audio (ms)':40s} {'p50':>8s} {'p90':>8s} {'p99':>8s}")
    print(row("/ws (binary frames)", times["ws"]))
    print(row("/v1/realtime (output_audio.delta)", times["oai"]))
    diffs = [o - w for o, w in zip(times["oai"], times["ws"], strict=True)]
    print(row("paired difference (oai - ws)", diffs))
    print(f"\n{'server side (ms, response.done timings)':40s} {'p50':>8s} {'p90':>8s} {'p99':>8s}")
    for key in ("first_audio_sent", "overhead_ms"):
        for name, label in (("ws", "/ws"), ("oai", "/v1/realtime")):
            print(row(f"{key} {label}", [t[key] for t in server[name]], fmt="8.2f"))
    # the rest of the client's time is the protocol's path: its input reaching the server and
    # being turned into a turn, and the first audio reaching the client (LLM and TTS excluded)
    path = {n: [c - t["first_audio_sent"] for c, t in zip(times[n], server[n], strict=True)]
            for n in server}
    for name, label in (("ws", "/ws"), ("oai", "/v1/realtime")):
        print(row(f"client - server first audio {label}", path[name], fmt="8.2f"))
    over = {n: pct([t["overhead_ms"] for t in server[n]], 50) for n in server}
    p50 = pct(times["oai"], 50) - pct(times["ws"], 50)
    q1, q3 = pct(diffs, 25), pct(diffs, 75)
    rng = np.random.default_rng(0)  # bootstrap: how well this run pins the median down
    boot = np.median(rng.choice(np.array(diffs), (2000, len(diffs))), axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    print(f"\nend to end (the LLM's and TTS's own variation included): p50 difference "
          f"{p50:+.1f} ms; median paired difference "
          f"{statistics.median(diffs):+.1f} ms, interquartile range {q1:+.1f} .. {q3:+.1f} ms; "
          f"ratio of p50s {pct(times['oai'], 50) / pct(times['ws'], 50):.3f}")
    print(f"median paired difference, 95% bootstrap interval: {lo:+.1f} .. {hi:+.1f} ms "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"server-added overhead p50: /ws {over['ws']:.2f} ms, /v1/realtime {over['oai']:.2f} ms "
          f"({over['oai'] - over['ws']:+.2f} ms: the adapter's own cost inside the turn)")
    lag = {n: pct(path[n], 50) for n in path}
    print(f"protocol path p50 (input to turn, first audio to client): /ws {lag['ws']:.2f} ms, "
          f"/v1/realtime {lag['oai']:.2f} ms ({lag['oai'] - lag['ws']:+.2f} ms)")
    print(f"adapter cost, without the LLM's and TTS's noise: "
          f"{over['oai'] - over['ws'] + lag['oai'] - lag['ws']:+.2f} ms at p50 (goal: within 5 ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--turns", type=int, default=40)
    ap.add_argument("--url", default="")
    args = ap.parse_args()
    serve_and_run(args.url, lambda url: run(url, args.turns), rate_limit_per_minute="0")


if __name__ == "__main__":
    main()
