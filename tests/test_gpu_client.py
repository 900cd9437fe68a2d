"""The one client interface, both ways: in process (``LocalGpuClient``, the embedded default)
and over HTTP to ``python -m gpu_host`` (``HttpGpuClient``), against the vLLM and ComfyUI
stand-ins. The same scenario runs through each: a live signal, a stage-sized lease granted in
the idle window, a turn that preempts it, the modes, a completed stage, refusals, metrics. Also
the gen3d sidecar as a process gpu_host starts and stops itself."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
import pytest

from gpu_host.client import GpuError, GpuSettings, LocalGpuClient
from tests.gpu_rig import stand_ins
from tests.serving import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def embedded(tmp_path_factory):
    sim = tmp_path_factory.mktemp("gpu-embedded")
    with stand_ins(sim) as ((vllm_app, vllm_url), (comfy_app, comfy_url)):
        port = free_port()
        settings = GpuSettings(
            _env_file=None, device="simulated", sim_dir=sim, vllm_url=vllm_url,
            comfyui_url=comfy_url, idle_window_s=1.0, lease_ttl_s=6.0,
            gen3d_url=f"http://127.0.0.1:{port}",
            gen3d_command=f"{sys.executable} -m tests.stand_ins.gen3d_server --port {port} "
                          f"--sim-dir {sim}")
        client = LocalGpuClient(settings)
        await client.start()
        try:
            yield client, vllm_app.state.engine, comfy_app.state.engine
        finally:
            await client.aclose()


@pytest.fixture(params=["embedded", "http"])
def gpu(request):
    if request.param == "embedded":
        return request.getfixturevalue("embedded")
    rig = request.getfixturevalue("gpu_rig")
    return rig.client(), rig.vllm, rig.comfy


async def test_the_same_scenario_through_either_client(gpu):
    client, vllm, comfy = gpu
    await asyncio.wait_for(_settle(client), 20)
    try:
        await _scenario(client, vllm)
    finally:
        if client.kind == "remote":
            await client.aclose()


async def _scenario(client, vllm) -> None:
    backoff = (await client.status())["policy"]["backoff"]  # (a shared rig may carry some)
    client.live_signal("session.connect")
    lease = await client.request_lease("job-c", "style", "style", est_s=10)
    assert lease.state == "queued"
    assert await asyncio.wait_for(lease.wait_granted(), 30)
    status = await client.status()
    assert status["plan"] == "style" and vllm.state == "asleep"
    svc = next(s for s in status["vram"]["services"] if s["name"] == "vllm")
    assert svc["version"] == svc["pinned_version"] == "0.13.0"  # GET /version checked at start
    assert [le["job_id"] for le in status["leases"] if le["state"] == "granted"] == ["job-c"]
    vram = await client.vram()
    assert {"used_mb", "total_mb", "usage_percent", "active_services", "services"} <= set(vram)
    assert "llm" not in vram["active_services"]
    lease.report(progress=0.5, checkpoint={"views": 1})

    waited = await client.conversation_ready("turn")  # takes the GPU back
    await asyncio.wait_for(lease.ended.wait(), 10)
    assert lease.state == "preempted" and vllm.state == "awake"
    assert 0 < waited < 5000
    client.live_signal("turn.end")
    status = await client.status()
    assert status["plan"] == "conversation" and status["ready"]
    assert status["policy"]["backoff"] == min(2 * backoff, 8.0)  # a preemption doubles it

    r = await client.set_mode("style")
    assert (r["previous_mode"], r["current_mode"]) == ("chat", "style") and vllm.state == "asleep"
    r = await client.set_mode("auto")
    assert r["current_mode"] == "auto"
    again = await client.request_lease("job-c", "style", "style")
    assert await asyncio.wait_for(again.wait_granted(), 30)
    await again.release(completed=True, checkpoint={"views": 4})
    assert again.state == "released"
    assert (await client.status())["policy"]["backoff"] == 1.0  # a completed stage resets it

    with pytest.raises(GpuError) as e:
        await client.request_lease("job-c", "conversation", "style")
    assert e.value.code == "VALIDATION_ERROR"
    with pytest.raises(GpuError) as e:
        await client.set_mode("turbo")
    assert e.value.code == "VALIDATION_ERROR"

    registry = client.metrics_registry()
    if registry is None:  # remote: its own /metrics
        async with httpx.AsyncClient() as http:
            text = (await http.get(client.url + "/metrics")).text
    else:
        from prometheus_client import generate_latest

        text = generate_latest(registry).decode()
    assert 'avatar_gpu_preemptions_total{reason="turn"}' in text
    assert 'avatar_gpu_vram_mb{service="vllm"}' in text and 'avatar_gpu_plan{plan=' in text
    assert "avatar_gpu_lease_wait_seconds_bucket" in text
    await asyncio.wait_for(_settle(client), 20)


async def _settle(client) -> None:
    while True:
        st = await client.status()
        if st["ready"] and not st["switching"] and st["plan"] == "conversation" and not any(
                le["state"] in ("queued", "granted") for le in st["leases"]):
            return
        await asyncio.sleep(0.05)


async def test_the_gen3d_sidecar_is_a_process_gpu_host_starts_and_stops(embedded):
    client, vllm, _ = embedded
    await _settle(client)
    sch = client.scheduler
    gen3d = sch.services["gen3d"]
    assert gen3d.state == "stopped" and not gen3d.child.running
    lease = await client.request_lease("job-g", "gen3d", "mesh")
    assert await asyncio.wait_for(lease.wait_granted(), 60)
    assert gen3d.child.running and vllm.state == "asleep"
    pid = gen3d.child.pid
    assert sch.vram()["services"][-1]["name"] == "gen3d"
    assert sch.ledger.snapshot().by_holder["gen3d"] == 15360
    async with httpx.AsyncClient(base_url=gen3d.url) as http:
        uid = (await http.post("/send", json={"image": "data"})).json()["uid"]
        assert (await http.get(f"/status/{uid}")).json() == {"status": "processing"}
        await client.conversation_ready("speech_started")  # no cancel verb: the process stops
        assert not gen3d.child.running and gen3d.state == "stopped"
        assert "gen3d" not in sch.ledger.snapshot().by_holder  # the driver freed its memory
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # really gone
        with pytest.raises(httpx.ConnectError):
            await http.get(f"/status/{uid}")
    client.live_signal("turn.end")
    await asyncio.wait_for(_settle(client), 20)
    assert lease.state == "preempted" and gen3d.child.starts == 1
    assert not gen3d.child.running  # in the conversation plan the sidecar stays stopped
