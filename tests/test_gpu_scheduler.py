"""The scheduler's policy on the simulated 3090 (vLLM, GPT-SoVITS, Whisper, ComfyUI, gen3d), on a
virtual clock: idle windows, preemption on the first live signal, ComfyUI's late free waited
for, hysteresis, the no-starvation rule, modes that do not fit, leases that expire, stages that
resume from their checkpoint. The same code runs against the HTTP stand-ins in test_gpu_host.py."""

from __future__ import annotations

import asyncio

import pytest

from gpu_host.client import LocalGpuClient
from gpu_host.config import GpuSettings
from gpu_host.errors import GpuError
from gpu_host.figures import SDXL_STEP_S
from gpu_host.sim.clock import run
from gpu_host.sim.services import build_world, start_world, stop_world
from gpu_host.stage import run_stage

PROMPT = {"3": {"class_type": "KSampler", "inputs": {"steps": 30}},
          "9": {"class_type": "SaveImage", "inputs": {}}}


def settings(**kw) -> GpuSettings:
    base = dict(whisper_mb=1536, idle_window_s=20.0, starve_after_s=600.0, min_lease_s=20.0)
    return GpuSettings(_env_file=None, **{**base, **kw})


def scenario(fn, **kw):
    """Run ``fn(world)`` in a started simulated world on the virtual clock."""
    async def main():
        world = build_world(settings(**kw))
        await start_world(world)
        try:
            return await fn(world)
        finally:
            await stop_world(world)

    return run(main())


def states(world) -> dict[str, str]:
    return {n: s.state for n, s in world.scheduler.services.items()}


async def granted(lease, timeout=3600.0):
    """Wait for the grant, polling the lease as a job does (a lease nobody polls expires)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while lease.state == "queued" and loop.time() < deadline:
        lease.last_seen = loop.time()
        await lease.wait_change(min(5.0, deadline - loop.time()))
    return lease.state == "granted"


def test_starts_in_the_conversation_plan_within_the_device():
    async def body(w):
        await asyncio.sleep(1)
        s = w.scheduler
        assert s.plan == "conversation" and s.ready.is_set()
        assert states(w) == {"vllm": "resident", "sovits": "resident", "whisper": "resident",
                             "comfyui": "stopped", "gen3d": "stopped"}
        v = s.vram()
        assert v["used_mb"] == 15360 + 4096 + 1536 + 400 and v["total_mb"] == 24576
        assert set(v["active_services"]) == {"llm", "tts", "stt"}
        assert await s.conversation_ready() == 0.0

    scenario(body)


def test_a_lease_waits_for_the_idle_window_then_a_live_signal_takes_the_gpu_back():
    async def body(w):
        s, loop = w.scheduler, asyncio.get_running_loop()
        s.live("session.connect")
        t_live = loop.time()
        lease = s.request("job-1", "style", "style")
        assert await granted(lease)
        # granted only after 20 s of quiet, once vLLM slept (its sleep is the switch time)
        assert loop.time() - t_live >= 20.0
        assert states(w)["vllm"] == "asleep" and states(w)["comfyui"] == "resident"
        w.comfy.submit(PROMPT)
        await asyncio.sleep(5)
        assert w.device.processes()["comfyui"] == 12288  # SDXL loaded, sampling
        t0 = loop.time()
        s.live("speech_started")
        assert lease.state == "preempted"
        waited_ms = await s.conversation_ready("turn")
        took = loop.time() - t0
        assert states(w)["vllm"] == "resident" and states(w)["comfyui"] == "stopped"
        assert w.comfy.counters["interrupted"] == 1  # stopped at its next step
        # interrupt (<= 1 step) + unload (~1.1 s) + wake (~1.3 s): the wake time of this plan
        assert 2.0 < took < 2.6 + SDXL_STEP_S and waited_ms == pytest.approx(took * 1000, 1)
        assert s.ledger.peak_mb <= 24576 - 512
        assert w.vllm.counters["crashes"] == 0 and w.vllm.counters["requests_while_asleep"] == 0

    scenario(body)


def test_comfyui_free_is_waited_for_before_vllm_wakes():
    async def body(w):
        s = w.scheduler
        lease = s.request("job-1", "style", "style")
        assert await granted(lease)
        w.comfy.submit(PROMPT)
        await asyncio.sleep(3)
        s.live("input.text")
        await s.conversation_ready()
        log = dict(w.comfy.log) | dict(w.vllm.log)
        # /free returned at once; the models went only after the interrupted prompt ended
        assert log["free_requested"] < log["unloaded"]
        assert log["wake_begin"] >= log["unloaded"]  # vLLM woke only once the room was there

    scenario(body)


def test_a_free_that_never_happens_is_never_assumed():
    async def body(w):
        s, loop = w.scheduler, asyncio.get_running_loop()
        lease = s.request("job-1", "style", "style")
        assert await granted(lease)
        w.comfy.submit(PROMPT)
        await asyncio.sleep(3)
        w.comfy.stuck = True  # /free accepted, never acted on
        t0 = loop.time()
        waited = await s.conversation_ready()
        # the turn gave up waiting (ready_timeout_s) and the wake was never tried: it would OOM
        assert waited >= s.s.ready_timeout_s * 1000 - 1
        assert w.vllm.counters["wakes"] == 0 and states(w)["vllm"] == "asleep"
        assert s.error and "vram_free stayed below" in s.error
        w.comfy.stuck = False
        w.comfy.free(True, True)  # it recovers: the scheduler retries and gets there
        await asyncio.wait_for(s.ready.wait(), 30)
        assert states(w)["vllm"] == "resident" and loop.time() - t0 < 60

    scenario(body, ready_timeout_s=15.0)


def test_backoff_after_a_preemption_and_reset_after_a_completed_stage():
    async def body(w):
        s, loop = w.scheduler, asyncio.get_running_loop()
        lease = s.request("job-1", "style", "a")
        assert await granted(lease)
        s.live("speech_started")
        assert s.backoff == 2.0
        t_live = loop.time()
        again = s.request("job-1", "style", "a")
        assert await granted(again)
        assert loop.time() - t_live >= 40.0  # the idle window doubled
        s.release(again.id, completed=True)
        assert s.backoff == 1.0

    scenario(body)


def test_a_starving_job_gets_a_protected_lease_and_the_turn_waits_at_most_that():
    async def body(w):
        s, loop = w.scheduler, asyncio.get_running_loop()
        stop = asyncio.Event()

        async def chatter():  # a live signal every 10 s, forever: never a 20 s idle window
            while not stop.is_set():
                s.live("input.text")
                await asyncio.sleep(10)

        talk = asyncio.create_task(chatter())
        t0 = loop.time()
        lease = s.request("job-1", "style", "style")
        assert await granted(lease)
        assert loop.time() - t0 >= 600.0  # starve_after_s
        info = lease.to_dict(loop.time())
        assert info["protected"]
        await asyncio.sleep(12)  # a live signal came during the protected lease ...
        assert lease.state == "granted"  # ... and did not preempt it
        t_turn = loop.time()
        waited = await s.conversation_ready()
        assert lease.state == "preempted"  # deferred until the minimum lease ended
        assert waited <= (20.0 - 12 + 3.0) * 1000 and loop.time() - t_turn < 11
        stop.set()
        await talk

    scenario(body)


def test_modes_refuse_what_does_not_fit_and_yield_to_live_signals():
    async def body(w):
        s = w.scheduler
        with pytest.raises(GpuError) as e:
            await s.set_mode("warp")
        assert e.value.code == "VALIDATION_ERROR" and e.value.status == 400
        before = (s.plan, s.mode, states(w), w.device.used_mb())
        with pytest.raises(GpuError) as e:
            await s.set_mode("gen3d")  # 21000 MB sidecar + the resident rest > 24064 MB
        assert e.value.code == "VRAM_INSUFFICIENT" and e.value.status == 507
        assert (s.plan, s.mode, states(w), w.device.used_mb()) == before  # nothing changed
        r = await s.set_mode("style")
        assert r["previous_mode"] == "chat" and r["current_mode"] == "style"
        assert r["switch_time_ms"] > 1000 and s.plan == "style"  # vLLM's sleep
        await s.conversation_ready()  # a user's turn: the pin yields
        assert s.plan == "conversation" and s.mode == "style"
        s.live("turn.end")
        await asyncio.sleep(25)  # idle again: the pinned plan comes back
        assert s.plan == "style"
        r = await s.set_mode("auto")
        await asyncio.sleep(3)
        assert s.plan == "conversation" and r["current_mode"] == "auto"

    scenario(body, gen3d_mb=21000)


def test_speech_holds_the_conversation_until_its_turn_ends():
    async def body(w):
        s, loop = w.scheduler, asyncio.get_running_loop()
        lease = s.request("job-1", "style", "style")
        assert await granted(lease)
        s.live("speech_started")  # preempts; the user speaks on for 25 s with no new signal
        again = s.request("job-1", "style", "style")
        await asyncio.sleep(25)
        assert again.state == "queued"  # not granted mid-utterance, idle window or not
        assert await s.conversation_ready("turn") == 0.0  # ... so the LLM is still awake
        await asyncio.sleep(30)
        assert again.state == "queued"  # the turn is still going (no turn.end yet)
        t_end = loop.time()
        s.live("turn.end")
        assert await granted(again, timeout=60)
        assert loop.time() - t_end >= 2 * 20.0  # the idle window (doubled) after the turn

    scenario(body, lease_ttl_s=600.0)


def test_vllm_is_never_put_to_sleep_with_a_request_in_flight():
    async def body(w):
        s = w.scheduler
        stream = w.vllm.generate("tell me a long story " * 20, max_tokens=2000)
        await stream.__anext__()  # a request in flight that no live signal announced
        lease = s.request("job-1", "style", "style")
        await asyncio.sleep(25)
        assert lease.state == "queued" and states(w)["vllm"] == "resident"
        assert w.vllm.counters["crashes"] == 0
        async for _ in stream:
            pass
        assert await granted(lease, timeout=30)  # once it finished, the switch went through

    scenario(body)


def test_a_lease_nobody_polls_expires_and_its_work_is_stopped():
    async def body(w):
        s = w.scheduler
        lease = s.request("job-1", "style", "style")
        assert await granted(lease)
        w.comfy.submit({**PROMPT, "3": {"class_type": "KSampler", "inputs": {"steps": 400}}})
        await asyncio.sleep(s.s.lease_ttl_s + 1)
        assert lease.state == "expired"  # its worker died: nobody polled for lease_ttl_s
        await asyncio.wait_for(s.ready.wait(), 10)
        assert w.comfy.counters["interrupted"] == 1 and s.plan == "conversation"

    scenario(body)


def test_a_stage_resumes_from_its_checkpoint_after_preemption():
    async def body(w):
        s, loop = w.scheduler, asyncio.get_running_loop()
        client = LocalGpuClient(s.s, scheduler=s)
        finished = []

        async def one_view(done_views):  # one ComfyUI prompt per view; checkpoint = views done
            done_views = [*(done_views or []), await w.comfy.render(PROMPT)]
            finished.append(loop.time())
            return done_views, len(done_views) == 4

        async def talk():  # a user arrives while the second view renders
            while len(finished) < 1:
                await asyncio.sleep(0.5)
            await asyncio.sleep(2)
            await client.conversation_ready("speech_started")

        stats = {}
        talker = asyncio.create_task(talk())
        views = await run_stage(client, "job-1", "style", "style", one_view, stats=stats)
        await talker
        assert len(views) == 4 and len(set(views)) == 4
        assert stats["preempted"] == 1 and stats["units_lost"] == 1 and stats["units"] == 4
        assert w.comfy.counters["prompts"] == 4 and w.comfy.counters["interrupted"] == 1
        await asyncio.wait_for(s.ready.wait(), 10)  # the GPU goes back to the conversation
        assert s.backoff == 1.0 and s.plan == "conversation"

    scenario(body)


def test_gen3d_runs_in_its_own_process_and_is_stopped_on_preemption():
    async def body(w):
        s = w.scheduler
        lease = s.request("job-1", "gen3d", "mesh")
        assert await granted(lease)
        assert states(w)["gen3d"] == "resident" and w.device.processes()["gen3d"] == 15360
        uid = w.gen3d.send({"image": "..."})
        await asyncio.sleep(10)
        assert w.gen3d.status(uid)["status"] == "processing"
        await s.conversation_ready("speech_started")
        assert states(w)["gen3d"] == "stopped" and "gen3d" not in w.device.processes()
        assert s.ledger.peak_mb <= 24576 - 512

    scenario(body)


def test_a_service_failing_its_health_check_after_a_switch_is_service_unavailable():
    async def body(w):
        s = w.scheduler
        comfy = s.services["comfyui"]

        async def sick() -> bool:
            return False

        comfy._health = sick  # ComfyUI stops answering /system_stats
        with pytest.raises(GpuError) as e:
            await s.set_mode("style")
        assert e.value.code == "SERVICE_UNAVAILABLE" and e.value.status == 503
        assert "comfyui" in str(e.value)

    scenario(body)
