"""Voice-to-voice latency on the embedded engines: spoken questions over /ws, p50/p99.

    .venv/bin/python bench/voice_turns.py [--turns 24] [--url ws://127.0.0.1:8000/ws]
    .venv/bin/python bench/voice_turns.py --compare          # semantic_vad vs server_vad
    .venv/bin/python bench/voice_turns.py --turns 100 --rss  # memory at turns 1, 10, 100
    .venv/bin/python bench/voice_turns.py --hesitation-rounds 5  # 20 hesitation clips

Each turn streams a Piper-spoken question as 20 ms PCM16 frames in real time (0.3 s of silence,
the question, then silence, as a microphone would) and measures, on the client, **end of the
user's speech** (send time of the frame holding the last voiced sample) -> **first answer audio
byte received**: the end-of-turn decision included. The server's own breakdown comes from
``response.done.timings``: speech_stopped (the end-of-turn decision, 0) -> stt_done ->
llm_first_token -> first_sentence -> tts_first_audio -> first_audio_sent, plus endpoint_ms (the
silence before the decision) and the server-added overhead. The client reports each answer as
played (``playback.mark``) and speaks the next question, like a person who listened to it.

``--compare`` runs the same turns on a server with ``semantic_vad`` (the end-of-turn model) and
one with ``server_vad`` (a fixed 500 ms silence), side by side. Each run also counts the turns
the model ended early vs the fixed limit, and speaks hesitation clips ("I would like to ... [700
ms] ... order a coffee"): a turn cut at the pause is counted (goal: 0).
Goals (issue 15): voice-to-voice p50 <= 500 ms including the end-of-turn decision; 0 cuts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import pct, row, rss_split, start_server, stop_server, stream_frames, wait_up  # noqa: E402
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
    turn_end = "?"
    while True:
        item = await c.recv(60)
        if isinstance(item, Frame):
            if first is None:
                first = item.t
            continue
        if item["type"] == "transcript.final":
            if transcript:  # a second utterance: the turn was cut at a pause
                turn_end = "cut"
            transcript = item["text"]
            turn_end = item.get("turn_end") or turn_end
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
            "wer": wer(text, transcript), "transcript": transcript, "turn_end": turn_end,
            "cut": False}


HESITATIONS = [("I would like to", "order a coffee."), ("Could you help me with", "my homework?"),
               ("My favourite food is", "pizza."),
               ("So I was thinking that", "we could go to the beach.")]
PAUSE_S = 0.7


def voiced(audio: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(np.abs(audio) > 0.02)
    return audio[idx[0]: idx[-1] + 1]


async def hesitation(c: Client, voice, first: str, rest: str) -> tuple[bool, str]:
    """A question with a 700 ms pause inside; -> (cut at the pause, the transcripts). Cut: the
    server took the clip as more than one utterance (then its answer to the first part is cut by
    the second part, and the second part is answered on its own). The clip's turns are read to
    their end, so the next clip starts clean."""
    a, b = voiced(piper_16k(voice, first)), voiced(piper_16k(voice, rest))
    lead = np.zeros(int(0.3 * SR), np.float32)
    sig = np.concatenate([lead, a, np.zeros(int(PAUSE_S * SR), np.float32), b,
                          np.zeros(int(1.5 * SR), np.float32)])
    sig = sig[: len(sig) // FRAME * FRAME]
    sender = asyncio.create_task(
        stream_frames(c, to_pcm16(sig), FRAME, len(sig) - int(1.5 * SR)))
    finals: list[str] = []
    durations: dict[int, float] = {}
    answered = None  # the completed response that came after the last transcript
    deadline = asyncio.get_running_loop().time() + 60.0
    while not (sender.done() and answered is not None):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"hesitation clip {first!r}: no answer after 60 s ({finals})")
        try:
            item = await c.recv(0.5)
        except (asyncio.TimeoutError, TimeoutError):
            continue
        if isinstance(item, Frame):
            continue
        if item["type"] == "transcript.final":
            finals.append(item["text"])
            answered = None
        elif item["type"] == "response.audio.done":
            durations[item["response_id"]] = item["duration_ms"]
        elif item["type"] == "response.done" and item["status"] == "completed":
            answered = item
    await sender
    rid = answered["response_id"]  # (the clip's last answer, played before the next clip)
    await c.send({"type": "playback.mark", "response_id": rid,
                  "played_ms": durations.get(rid, 0.0)})
    await asyncio.sleep(0.3)
    return len(finals) > 1, " | ".join(finals)


async def run(url: str, turns: int, max_tokens: int, mode: str, pid: int | None,
              rss_at: tuple[int, ...], hesitation_rounds: int = 1) -> dict:
    voice = load_piper_voice()
    audios = {q: piper_16k(voice, q) for q in QUESTIONS}
    c = await Client.connect(url, max_tokens=max_tokens, turn_detection=mode)
    await one_turn(c, "Hello!", piper_16k(voice, "Hello!"), 1.2)  # warm-up, not counted
    results, rss, every = [], {}, []  # every: RSS after each turn
    for i in range(turns):
        if i and i % 6 == 0:  # fresh sessions keep the prompt length realistic
            await c.close()
            c = await Client.connect(url, max_tokens=max_tokens, turn_detection=mode)
        q = QUESTIONS[i % len(QUESTIONS)]
        r = await one_turn(c, q, audios[q], 1.2)
        if r is not None:
            results.append(r)
            t = r["timings"]
            print(f"  {i:2d} v2v {r['client_v2v']:6.0f} ms  end {r['turn_end']:10s} "
                  f"endpoint {t['endpoint_ms']:4.0f}  stt_done {t['stt_done']:5.0f}  "
                  f"first_audio_sent {t['first_audio_sent']:5.0f}  wer {r['wer']:.2f}")
        if pid is not None:
            own, children = rss_split(pid)
            every.append((own, children))
        if pid is not None and i + 1 in rss_at:
            rss[i + 1] = own + children
            print(f"  RSS after turn {i + 1}: {rss[i + 1]:.0f} MB "
                  f"(server {own:.0f} + llama.cpp {children:.0f})")
        await asyncio.sleep(0.3)
    cuts = []
    for first, rest in HESITATIONS * hesitation_rounds:
        cut, text = await hesitation(c, voice, first, rest)
        cuts.append(cut)
        print(f"  hesitation {'CUT' if cut else 'kept'}: {text!r}")
    await c.close()
    return {"results": results, "rss": rss, "every": every, "cuts": sum(cuts), "clips": len(cuts)}


def report(mode: str, out: dict) -> float:
    results = out["results"]
    rows = [r["timings"] for r in results]
    v2v = [r["client_v2v"] for r in results]
    print(f"\n{mode}: {len(results)} voice turns, real-time 20 ms frames, embedded engines "
          f"(Silero VAD, Whisper tiny.en int8, SmolLM2-135M, Piper), {os.cpu_count()} cores\n")
    print(f"{'stage (ms since the end-of-turn decision)':40s} {'p50':>8s} {'p90':>8s} {'p99':>8s}")
    for stage in STAGES:
        print(row(stage, [t[stage] for t in rows if t[stage] is not None]))
    for name in ("stt_ms", "llm_wait_ms", "tts_first_ms", "endpoint_ms", "voice_to_voice_ms"):
        print(row(name, [t[name] for t in rows if t[name] is not None]))
    print(row("client: end of speech -> first audio", v2v))
    over = [t["overhead_ms"] for t in rows]
    print(row("server-added overhead", over, fmt="8.2f"))
    print(row("transcript word error rate", [r["wer"] for r in results], fmt="8.2f"))
    ends = {}
    for r in results:
        ends[r["turn_end"]] = ends.get(r["turn_end"], 0) + 1
    print(f"turns ended by: {ends}; hesitation clips cut at the pause: "
          f"{out['cuts']} of {out['clips']}")
    if out["rss"]:
        print("server RSS (llama.cpp child included): "
              + ", ".join(f"turn {k}: {v:.0f} MB" for k, v in out["rss"].items()))
        if len(out["rss"]) >= 2:
            keys = sorted(out["rss"])
            a, b = out["rss"][keys[1]], out["rss"][keys[-1]]
            print(f"growth turn {keys[1]} -> {keys[-1]}: {100 * (b - a) / a:+.1f} % (goal within 5 %)")
        every = [own + children for own, children in out["every"]]
        if len(every) >= 30:  # one sample swings with the last answer's length: medians of ten
            a, b = float(np.median(every[5:15])), float(np.median(every[-10:]))
            top = int(np.argmax(every))
            own, children = out["every"][top]
            print(f"RSS after every turn: max {every[top]:.0f} MB (goal < 1000) after turn "
                  f"{top + 1} (server {own:.0f} + llama.cpp {children:.0f}), p90 "
                  f"{pct(every, 90):.0f} MB; median of turns 6-15 {a:.0f} -> last 10 {b:.0f} MB: "
                  f"{100 * (b - a) / a:+.1f} %")
    p50 = pct(v2v, 50)
    print(f"voice-to-voice p50 {p50:.0f} ms = {p50 / 500:.2f} x the 500 ms goal; "
          f"p90 {pct(v2v, 90):.0f}, p99 {pct(v2v, 99):.0f} ms")
    print(f"server-added overhead p50 {pct(over, 50):.2f} ms (goal 5), p99 {pct(over, 99):.2f} ms")
    return p50


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--turns", type=int, default=24)
    ap.add_argument("--max-tokens", type=int, default=60)
    ap.add_argument("--url", default="", help="a running server (its settings must match)")
    ap.add_argument("--mode", default="semantic_vad", choices=["semantic_vad", "server_vad"])
    ap.add_argument("--compare", action="store_true", help="semantic_vad and server_vad")
    ap.add_argument("--rss", action="store_true", help="server RSS at turns 1, 10, 100")
    ap.add_argument("--hesitation-rounds", type=int, default=1,
                    help="speak the 4 hesitation clips this many times (new Piper takes)")
    args = ap.parse_args()
    p50s = {}
    for mode in (["semantic_vad", "server_vad"] if args.compare else [args.mode]):
        proc, url = (None, args.url) if args.url else start_server()
        try:
            asyncio.run(wait_up(url))
            if proc is not None and args.rss:
                own, children = rss_split(proc.pid)
                print(f"server RSS after start-up and warm-up: {own + children:.0f} MB "
                      f"(server {own:.0f} + llama.cpp {children:.0f})")
            out = asyncio.run(run(url, args.turns, args.max_tokens, mode,
                                  proc.pid if proc is not None and args.rss else None,
                                  (1, 10, 25, 50, 100), args.hesitation_rounds))
            p50s[mode] = report(mode, out)
        finally:
            stop_server(proc)
    if len(p50s) == 2:
        print(f"\nsemantic_vad / server_vad voice-to-voice p50: "
              f"{p50s['semantic_vad'] / p50s['server_vad']:.2f} "
              f"({p50s['semantic_vad']:.0f} vs {p50s['server_vad']:.0f} ms)")


if __name__ == "__main__":
    main()
