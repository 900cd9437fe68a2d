"""Voice-to-voice latency on the embedded engines: spoken questions over /ws, p50/p99.

    .venv/bin/python bench/voice_turns.py [--turns 24] [--url ws://127.0.0.1:8000/ws]

Each turn streams a Piper-spoken question as 20 ms PCM16 frames in real time (0.3 s of silence,
the question, then silence, as a microphone would) and measures, on the client, **end of the
user's speech** (send time of the frame holding the last voiced sample) -> **first answer audio
byte received**. The server's own breakdown comes from ``response.done.timings``:
speech_stopped (the end-of-turn decision, 0) -> stt_done -> llm_first_token -> first_sentence ->
tts_first_audio -> first_audio_sent, plus voice_to_voice_ms (end of speech -> first audio sent)
and the server-added overhead. The client reports each answer as played (``playback.mark``) and
speaks the next question, like a person who listened to it.

Goals (issue 3): voice-to-voice p50 <= end-of-turn silence + 1.0 s; overhead p50 <= 5 ms.
The closest open-source peer, measured on the same engines, takes 2.04 s p50.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import pct, row, start_server, stop_server, stream_frames, wait_up  # noqa: E402
from tests.speech import load_piper_voice, piper_16k, to_pcm16, wer  # noqa: E402
from tests.wsclient import Client, Frame  # noqa: E402

SR = 16000
FRAME = 320  # 20 ms
QUESTIONS = [
    "What is the capital of France?", "Tell me about dogs.", "What color is the sky?",
    "Do you like music?", "What should I cook for dinner tonight?", "How are you today?",
    "Can you recommend a good book?", "What is your favourite season?",
    "Where would you like to travel?", "What makes you happy?", "Tell me a fun fact.",
    "What do you think about the ocean?",
]
STAGES = ["stt_done", "llm_first_token", "first_sentence", "tts_first_audio", "first_audio_sent"]


async def one_turn(c: Client, text: str, audio: np.ndarray, silence_s: float) -> dict | None:
    voiced = np.flatnonzero(np.abs(audio) > 0.02)
    lead = np.zeros(int(0.3 * SR), np.float32)
    sig = np.concatenate([lead, audio, np.zeros(int(silence_s * SR), np.float32)])
    sig = sig[: len(sig) // FRAME * FRAME]  # whole 20 ms frames (the protocol's minimum is 10)
    pcm = to_pcm16(sig)
    sender = asyncio.create_task(stream_frames(c, pcm, FRAME, len(lead) + int(voiced[-1])))
    first = None
    transcript = ""
    while True:
        item = await c.recv(60)
        if isinstance(item, Frame):
            if first is None:
                first = item.t
            continue
        if item["type"] == "transcript.final":
            transcript = item["text"]
        elif item["type"] == "transcript.rejected":
            print(f"  rejected: {item['reason']}")
        elif item["type"] == "response.audio.done":
            duration = item["duration_ms"]
        elif item["type"] == "response.done":
            done = item
            break
    t_end = await sender
    if done["status"] != "completed" or first is None:
        print(f"  turn failed: {done['status']} {done.get('error')}")
        return None
    # the client has played it (a person listened to the answer before speaking again)
    await c.send({"type": "playback.mark", "response_id": done["response_id"],
                  "played_ms": duration})
    return {"client_v2v": (first - t_end) * 1000.0, "timings": done["timings"],
            "wer": wer(text, transcript), "transcript": transcript}


async def run(url: str, turns: int, max_tokens: int, silence_ms: int) -> None:
    voice = load_piper_voice()
    audios = {q: piper_16k(voice, q) for q in QUESTIONS}
    c = await Client.connect(url, max_tokens=max_tokens)
    await one_turn(c, "Hello!", piper_16k(voice, "Hello!"), 1.2)  # warm-up, not counted
    results = []
    for i in range(turns):
        if i and i % 6 == 0:  # fresh sessions keep the prompt length realistic
            await c.close()
            c = await Client.connect(url, max_tokens=max_tokens)
        q = QUESTIONS[i % len(QUESTIONS)]
        r = await one_turn(c, q, audios[q], 1.2)
        if r is not None:
            results.append(r)
            t = r["timings"]
            print(f"  {i:2d} v2v {r['client_v2v']:6.0f} ms  stt_done {t['stt_done']:5.0f}  "
                  f"first_audio_sent {t['first_audio_sent']:5.0f}  wer {r['wer']:.2f}  "
                  f"{r['transcript']!r}")
        await asyncio.sleep(0.3)
    await c.close()

    rows = [r["timings"] for r in results]
    v2v = [r["client_v2v"] for r in results]
    print(f"\n{len(results)} voice turns, real-time 20 ms frames, embedded engines (Silero VAD, "
          f"Whisper tiny.en int8, SmolLM2-135M, Piper), {os.cpu_count()} cores, "
          f"end-of-turn silence {silence_ms} ms\n")
    print(f"{'stage (ms since the end-of-turn decision)':40s} {'p50':>8s} {'p90':>8s} {'p99':>8s}")
    for stage in STAGES:
        print(row(stage, [t[stage] for t in rows if t[stage] is not None]))
    for name in ("stt_ms", "llm_wait_ms", "tts_first_ms", "endpoint_ms", "voice_to_voice_ms"):
        print(row(name, [t[name] for t in rows if t[name] is not None]))
    print(row("client: end of speech -> first audio", v2v))
    over = [t["overhead_ms"] for t in rows]
    print(row("server-added overhead", over, fmt="8.2f"))
    print(row("transcript word error rate", [r["wer"] for r in results], fmt="8.2f"))
    goal = silence_ms + 1000.0
    p50 = pct(v2v, 50)
    print(f"\nvoice-to-voice p50 {p50:.0f} ms = {p50 / goal:.2f} x the goal "
          f"({silence_ms} ms silence + 1.0 s = {goal:.0f} ms); {p50 / 2040:.2f} x the peer's "
          f"2.04 s; p99 {pct(v2v, 99):.0f} ms")
    print(f"server-added overhead p50 {pct(over, 50):.2f} ms (goal 5), p99 {pct(over, 99):.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--turns", type=int, default=24)
    ap.add_argument("--max-tokens", type=int, default=60)
    ap.add_argument("--url", default="", help="a running server (its settings must match)")
    args = ap.parse_args()
    proc, url = (None, args.url) if args.url else start_server()
    try:
        asyncio.run(wait_up(url))
        silence = int(os.environ.get("AVATAR_VAD_END_SILENCE_MS", "500"))
        asyncio.run(run(url, args.turns, args.max_tokens, silence))
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
