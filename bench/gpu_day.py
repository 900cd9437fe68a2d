"""A simulated day on one simulated RTX 3090: Poisson voice and typed sessions plus avatar jobs,
run through gpu_host's real scheduler and adapters (simulated services, virtual clock), side by
side with the seeds' strict stop/start policy (one large service at a time, 8.5 s switches).

    .venv/bin/python bench/gpu_day.py [--hours 24] [--seeds 3] [--sessions-per-hour 6]

Printed per policy (median over seeds, with the spread across seeds): live-turn added wait p50 /
p99 for voice and typed turns (goal: voice p99 <= 50 ms; typed <= the wake time), avatar job
completion p50 / p95, plan switches per hour and peak VRAM (never above the device), each as a
ratio against the strict policy. A third column shows the seeds' policy taken literally (the
``tts`` mode is its own mode, so a spoken answer switches chat -> tts -> chat).

The workload (all times from ``gpu_host.figures`` where published, else stated here):
* sessions: Poisson arrivals; 70 % voice; turns per session geometric (mean 8); the user answers
  after the avatar has spoken (a 4-8 s answer) and a think time (exponential, mean 6 s voice,
  15 s typed, which includes typing; 15 % of the time a pause of mean 45 s more, in which an
  avatar job gets the GPU and the next turn has to take it back);
* voice turns: speech lognormal (median 2.5 s, 0.6-12 s); ``vad.speech_started`` 0.25 s in;
  the end-of-turn decision 0.5 s after the speech; Whisper 0.3 s; then the LLM;
* the LLM: 0.25 s to the first token, 30 tokens/s, 40-token answers (vLLM stand-in figures);
* avatar jobs: Poisson arrivals; a style stage of 4 SDXL views (30 steps at 0.25 s, checkpoint
  after each view) then a gen3d stage of one 120 s run (no checkpoint inside a run).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import pct  # noqa: E402
from gpu_host import figures as F  # noqa: E402
from gpu_host.client import LocalGpuClient  # noqa: E402
from gpu_host.config import GpuSettings  # noqa: E402
from gpu_host.sim.clock import run as run_virtual  # noqa: E402
from gpu_host.sim.services import build_world, start_world, stop_world  # noqa: E402
from gpu_host.stage import run_stage  # noqa: E402

VIEWS, STEPS, ANSWER_TOKENS = 4, F.SDXL_STEPS, 40
PAUSE_SHARE, PAUSE_S = 0.15, 45.0  # some answers come after a long pause: jobs get in between
PROMPT = {"3": {"class_type": "KSampler", "inputs": {"steps": STEPS}},
          "9": {"class_type": "SaveImage", "inputs": {}}}


@dataclass
class Workload:
    sessions: list[tuple[float, bool, list[tuple[float, float, float]]]]  # (t, voice, turns)
    jobs: list[float]


def workload(rng: np.random.Generator, hours: float, sessions_per_hour: float,
             jobs_per_hour: float, voice_share: float) -> Workload:
    """Arrival times and every turn's (think time, speech length, answer playback)."""
    horizon = hours * 3600.0
    out = []
    t = rng.exponential(3600.0 / sessions_per_hour)
    while t < horizon:
        voice = bool(rng.random() < voice_share)
        turns = []
        for _ in range(int(rng.geometric(1 / 8))):
            pause = rng.random() < PAUSE_SHARE  # the user stops to think (or walks away)
            think = rng.exponential((PAUSE_S if pause else 6.0) if voice else
                                    (PAUSE_S + 15.0 if pause else 15.0))
            speech = float(np.clip(rng.lognormal(np.log(2.5), 0.5), 0.6, 12.0)) if voice else 0.0
            turns.append((think, speech, float(rng.uniform(4.0, 8.0))))
        out.append((t, voice, turns))
        t += rng.exponential(3600.0 / sessions_per_hour)
    jobs, t = [], rng.exponential(3600.0 / jobs_per_hour)
    while t < horizon:
        jobs.append(t)
        t += rng.exponential(3600.0 / jobs_per_hour)
    return Workload(out, jobs)


@dataclass
class Result:
    voice_wait: list[float] = field(default_factory=list)  # ms
    typed_wait: list[float] = field(default_factory=list)
    jobs_done: list[float] = field(default_factory=list)  # s, arrival -> both stages done
    jobs_unfinished: int = 0
    switches: int = 0
    peak_mb: int = 0
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------ our scheduler
async def day_ours(w: Workload, hours: float, settings: GpuSettings) -> Result:
    world = build_world(settings)
    await start_world(world)
    client = LocalGpuClient(settings, scheduler=world.scheduler)
    loop = asyncio.get_running_loop()
    res = Result()

    async def llm_answer() -> None:
        async for _ in world.vllm.generate("a question", ANSWER_TOKENS):
            pass

    async def session(start: float, voice: bool, turns) -> None:
        await asyncio.sleep(start - loop.time())
        client.live_signal("session.connect")
        for think, speech, playback in turns:
            await asyncio.sleep(think)
            if voice:
                await asyncio.sleep(0.25)
                client.live_signal("speech_started")
                await asyncio.sleep(speech - 0.25 + 0.5 + 0.3)  # speech, end-of-turn, Whisper
            else:
                client.live_signal("input.text")
            wait = await client.conversation_ready("turn")
            (res.voice_wait if voice else res.typed_wait).append(wait)
            await llm_answer()
            client.live_signal("turn.end")
            await asyncio.sleep(playback)

    async def view(done):
        done = [*(done or []), await world.comfy.render(PROMPT)]
        return done, len(done) >= VIEWS

    async def mesh(_):
        uid = world.gen3d.send({"image": "..."})
        while world.gen3d.status(uid)["status"] != "completed":
            await asyncio.sleep(0.5)
        return uid, True

    async def job(i: int, start: float) -> None:
        await asyncio.sleep(start - loop.time())
        await run_stage(client, f"job-{i}", "style", "style", view, est_s=VIEWS * STEPS * 0.25)
        await run_stage(client, f"job-{i}", "gen3d", "gen3d", mesh, est_s=F.GEN3D_RUN_S)
        res.jobs_done.append(loop.time() - start)

    tasks = [asyncio.create_task(session(*s)) for s in w.sessions]
    tasks += [asyncio.create_task(job(i, t)) for i, t in enumerate(w.jobs)]
    await asyncio.sleep(hours * 3600.0 + 1800.0)  # and half an hour to finish
    res.jobs_unfinished = sum(1 for t in tasks[len(w.sessions):] if not t.done())
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    sch = world.scheduler
    res.switches = int(sum(s.value for m in sch.metrics.switches.collect() for s in m.samples
                           if s.name.endswith("_total") and s.labels["result"] == "ok"
                           and s.labels["from_plan"] != s.labels["to_plan"]))
    res.peak_mb = sch.ledger.peak_mb
    def total(counter) -> int:
        return int(sum(s.value for m in counter.collect() for s in m.samples
                       if s.name.endswith("_total")))

    wake_ms = (F.SDXL_STEP_S + F.COMFYUI_UNLOAD_S + F.VLLM_WAKE_S) * 1000.0
    res.extra = {"preemptions": total(sch.metrics.preemptions),
                 "protected_leases": total(sch.metrics.protected),
                 "turns_over_the_wake_time": sum(1 for x in res.voice_wait + res.typed_wait
                                                 if x > wake_ms + 50),
                 "requests_to_a_sleeping_llm": world.vllm.counters["requests_while_asleep"],
                 "llm_crashes": world.vllm.counters["crashes"]}
    await stop_world(world)
    return res


# ------------------------------------------------------------------------------ the seeds' policy
async def day_strict(w: Workload, hours: float, literal: bool) -> Result:
    """000 §8: one large service at a time; a switch (stop the others, wait 2 s, start, check
    health) takes 8.5 s (their example); requests take the GPU in arrival order; a job's stage
    runs to its end. ``literal``: TTS is its own mode (a spoken answer needs chat, then tts)."""
    loop = asyncio.get_running_loop()
    res = Result()
    lock = asyncio.Lock()  # FIFO
    state = {"mode": "chat"}
    need = {"chat": F.VLLM_MB + (0 if literal else F.SOVITS_MB) + F.WHISPER_MB,
            "tts": F.SOVITS_MB + F.WHISPER_MB, "style": F.COMFYUI_MB + F.WHISPER_MB,
            "gen3d": F.GEN3D_MB + F.WHISPER_MB}

    async def use(mode: str, seconds: float) -> float:
        t0 = loop.time()
        async with lock:
            if state["mode"] != mode:
                await asyncio.sleep(F.STRICT_SWITCH_S)
                state["mode"] = mode
                res.switches += 1
                res.peak_mb = max(res.peak_mb, need[mode])
            waited = loop.time() - t0
            await asyncio.sleep(seconds)
        return waited

    llm_s = F.LLM_FIRST_TOKEN_S + ANSWER_TOKENS / F.LLM_TOKENS_PER_S
    tts_s = 1.5  # synthesising the answer when TTS cannot stream beside the LLM

    async def session(start: float, voice: bool, turns) -> None:
        await asyncio.sleep(start - loop.time())
        for think, speech, playback in turns:
            await asyncio.sleep(think + (speech + 0.8 if voice else 0.0))
            wait = await use("chat", llm_s)
            if literal:
                wait += await use("tts", tts_s)
            (res.voice_wait if voice else res.typed_wait).append(wait * 1000.0)
            await asyncio.sleep(playback)

    async def job(start: float) -> None:
        await asyncio.sleep(start - loop.time())
        await use("style", F.COMFYUI_LOAD_S + VIEWS * STEPS * F.SDXL_STEP_S)
        await use("gen3d", F.GEN3D_LOAD_S + F.GEN3D_RUN_S)
        res.jobs_done.append(loop.time() - start)

    res.peak_mb = need["chat"]
    tasks = [asyncio.create_task(session(*s)) for s in w.sessions]
    tasks += [asyncio.create_task(job(t)) for t in w.jobs]
    await asyncio.sleep(hours * 3600.0 + 1800.0)
    res.jobs_unfinished = sum(1 for t in tasks[len(w.sessions):] if not t.done())
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return res


# ------------------------------------------------------------------------------ report
def figures(r: Result, hours: float) -> dict[str, float]:
    return {"voice wait p50 ms": pct(r.voice_wait, 50), "voice wait p99 ms": pct(r.voice_wait, 99),
            "voice wait max ms": max(r.voice_wait, default=0.0),
            "typed wait p50 ms": pct(r.typed_wait, 50), "typed wait p99 ms": pct(r.typed_wait, 99),
            "typed wait max ms": max(r.typed_wait, default=0.0),
            "job done p50 s": pct(r.jobs_done, 50), "job done p95 s": pct(r.jobs_done, 95),
            "jobs unfinished": float(r.jobs_unfinished),
            "switches per hour": r.switches / hours, "peak VRAM MB": float(r.peak_mb)}


def spread(values: list[float]) -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:10.1f}"
    return f"{med:10.1f} [{min(values):.0f}-{max(values):.0f}]".ljust(24)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--sessions-per-hour", type=float, default=6.0)
    p.add_argument("--jobs-per-hour", type=float, default=3.0)
    p.add_argument("--voice-share", type=float, default=0.7)
    a = p.parse_args()
    settings = GpuSettings(_env_file=None, whisper_mb=F.WHISPER_MB)
    rows: dict[str, dict[str, list[float]]] = {"ours": {}, "strict": {}, "literal": {}}
    extra: list[dict] = []
    turns = 0
    for seed in range(a.seeds):
        w = workload(np.random.default_rng(seed), a.hours, a.sessions_per_hour, a.jobs_per_hour,
                     a.voice_share)
        turns += sum(len(s[2]) for s in w.sessions)
        for name, coro in (("ours", lambda: day_ours(w, a.hours, settings)),
                           ("strict", lambda: day_strict(w, a.hours, literal=False)),
                           ("literal", lambda: day_strict(w, a.hours, literal=True))):
            r = run_virtual(coro())
            if name == "ours":
                extra.append(r.extra)
            for k, v in figures(r, a.hours).items():
                rows[name].setdefault(k, []).append(v)
    print(f"simulated: {a.hours:g} h x {a.seeds} seeds, {a.sessions_per_hour:g} sessions/h "
          f"({a.voice_share:.0%} voice), {a.jobs_per_hour:g} avatar jobs/h; {turns} turns in all")
    print(f"device: {F.RTX_3090_MB} MB; wake time of the style plan "
          f"{F.SDXL_STEP_S + F.COMFYUI_UNLOAD_S + F.VLLM_WAKE_S:.2f} s "
          f"(step {F.SDXL_STEP_S} + unload {F.COMFYUI_UNLOAD_S} + vLLM wake {F.VLLM_WAKE_S})")
    print(f"{'median [min-max over seeds]':26s}{'gpu_host':>24s}{'strict':>24s}{'ours/strict':>12s}"
          f"{'strict, tts own mode':>24s}")
    for k in rows["ours"]:
        o, s, lit = (statistics.median(rows[n][k]) for n in ("ours", "strict", "literal"))
        ratio = f"{o / s:12.3f}" if s else f"{'(0/0)' if not o else 'inf':>12s}"
        print(f"{k:26s}{spread(rows['ours'][k]):>24s}{spread(rows['strict'][k]):>24s}"
              f"{ratio}{spread(rows['literal'][k]):>24s}")
    print("gpu_host per seed:", extra)
    peak = max(rows["ours"]["peak VRAM MB"])
    assert peak <= F.RTX_3090_MB, "the ledger let the device overflow"
    print(f"peak VRAM never above the device: {peak:.0f} <= {F.RTX_3090_MB} MB")


if __name__ == "__main__":
    main()
