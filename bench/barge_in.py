"""Barge-in latency: the user starts speaking while the avatar talks; how fast does it stop?

    .venv/bin/python bench/barge_in.py [--trials 20] [--url ws://127.0.0.1:8000/ws]

Each trial asks for a long answer (typed), waits until 1.5 s of its audio has arrived, then
streams a spoken interruption in real time (20 ms frames) and measures from the **speech onset**
(send time of the frame holding the first voiced sample):

* onset -> ``response.interrupted`` received (the client flushes its audio queue here);
* onset -> the last audio byte of the cut answer received (0 when all of it had arrived before);
* the server's part: frame that completed the barge-in minimum received -> response cut
  (``avatar_barge_in_seconds`` on /metrics).

The onset-to-decision part is set by the VAD: ``AVATAR_VOICE_BARGE_IN_MIN_MS`` (96 ms) of speech
at 32 ms windows, plus Silero's reaction time. Goal (issue 3): speech start -> last answer audio
byte sent <= 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    http_url, pct, row, start_server, stop_server, stream_frames, wait_up,
)
from tests.speech import load_piper_voice, piper_16k, to_pcm16  # noqa: E402
from tests.wsclient import Client, Frame  # noqa: E402

SR = 16000
FRAME = 320
INTERRUPTIONS = ["Wait, stop.", "Hold on a second.", "Sorry, can I ask something?",
                 "No, that's not what I meant.", "Okay, thanks, that's enough."]


async def trial(url: str, audio: np.ndarray) -> dict | None:
    c = await Client.connect(url, max_tokens=200, temperature=0.0)
    await c.send({"type": "input.text", "text": "Count from one to fifty, in words."})
    samples = 0
    rid = None
    while samples < 1.5 * c.rate:
        item = await c.recv(60)
        if isinstance(item, Frame):
            samples += len(item.pcm)
            rid = item.response_id
        elif item["type"] == "response.done":
            print("  answer too short; trial skipped")
            await c.close()
            return None
    await c.send({"type": "playback.mark", "response_id": rid, "played_ms": 0.0})
    lead = np.zeros(int(0.2 * SR), np.float32)
    sig = np.concatenate([lead, audio, np.zeros(int(1.0 * SR), np.float32)])
    sig = sig[: len(sig) // FRAME * FRAME]  # whole 20 ms frames (the protocol's minimum is 10)
    pcm = to_pcm16(sig)
    first_voiced = len(lead) + int(np.flatnonzero(np.abs(audio) > 0.02)[0])
    sender = asyncio.create_task(stream_frames(c, pcm, FRAME, first_voiced))
    last_frame = None
    interrupted_at = None
    status = None
    while status is None:
        item = await c.recv(30)
        if isinstance(item, Frame):
            if item.response_id == rid:
                last_frame = item.t
        elif item["type"] == "response.interrupted" and item["response_id"] == rid:
            interrupted_at = time.perf_counter()
        elif item["type"] == "response.done" and item["response_id"] == rid:
            status = item["status"]
    onset = await sender
    await c.close()
    if interrupted_at is None:
        print(f"  not interrupted ({status})")
        return None
    return {"to_interrupted": (interrupted_at - onset) * 1000.0,
            "to_last_audio": max(0.0, (last_frame - onset) * 1000.0) if last_frame else 0.0,
            "status": status}


def histogram_mean(text: str, name: str) -> tuple[float, int]:
    total = re.search(rf"^{name}_sum (\S+)", text, re.M)
    count = re.search(rf"^{name}_count (\S+)", text, re.M)
    n = int(float(count.group(1))) if count else 0
    return (float(total.group(1)) / n * 1000.0 if n else float("nan")), n


async def run(url: str, trials: int) -> None:
    voice = load_piper_voice()
    audios = [piper_16k(voice, t) for t in INTERRUPTIONS]
    results = []
    for i in range(trials):
        r = await trial(url, audios[i % len(audios)])
        if r:
            results.append(r)
            print(f"  {i:2d} onset -> interrupted {r['to_interrupted']:6.1f} ms, "
                  f"-> last audio byte {r['to_last_audio']:6.1f} ms ({r['status']})")
    async with httpx.AsyncClient(base_url=http_url(url)) as http:
        metrics = (await http.get("/metrics")).text
    server_ms, n = histogram_mean(metrics, "avatar_barge_in_seconds")
    a = [r["to_interrupted"] for r in results]
    b = [r["to_last_audio"] for r in results]
    print(f"\n{len(results)} barge-ins (Piper speech, real-time 20 ms frames, Silero VAD, "
          f"barge-in minimum 96 ms)\n")
    print(f"{'':40s} {'p50':>8s} {'p90':>8s} {'p99':>8s}")
    print(row("speech onset -> response.interrupted", a))
    print(row("speech onset -> last answer audio byte", b))
    print(f"server: frame received -> response cut (mean of {n}): {server_ms:.2f} ms")
    print(f"\nonset -> last answer audio byte p50 {pct(b, 50):.0f} ms = "
          f"{pct(b, 50) / 150:.2f} x the 150 ms goal; onset -> interrupted p50 "
          f"{pct(a, 50):.0f} ms ({pct(a, 50) / 150:.2f} x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--url", default="")
    args = ap.parse_args()
    proc, url = (None, args.url) if args.url else start_server()
    try:
        asyncio.run(wait_up(url))
        asyncio.run(run(url, args.trials))
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
