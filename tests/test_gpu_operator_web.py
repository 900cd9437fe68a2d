"""The GPU operator view (client-web ``/operator``) in headless Chromium, against the realtime
server on the GPU stand-ins (tests/gpu_rig.py): the plan in force, VRAM by service as a bar,
sleeping and awake services, the running job, and the mode switch (a refusal, a switch, auto)."""

from __future__ import annotations

import asyncio

import pytest

from tests.web_e2e import NodeSession, ensure_web_built

pytestmark = pytest.mark.slow


async def test_the_operator_view_shows_the_gpu_and_switches_modes(gpu_rig):
    rig = gpu_rig
    await asyncio.to_thread(ensure_web_built)
    await rig.settled()
    gpu = rig.client()
    lease = await gpu.request_lease("job-web", "style", "style", est_s=30)
    assert await asyncio.wait_for(lease.wait_granted(), 30)
    lease.report(progress=0.25)
    session = NodeSession("operator.mjs", rig.url)
    try:
        view = (await asyncio.to_thread(session.expect, "job", 120))["view"]
        assert view["plan"] == "style" and view["mode"] == "auto"
        assert view["services"]["vllm"] == "asleep" and view["services"]["comfyui"] == "resident"
        assert view["services"]["sovits"] == "resident" and view["services"]["gen3d"] == "stopped"
        assert view["leases"]["job-web"]["state"] == "granted"
        assert "running" in view["leases"]["job-web"]["text"]
        seg = view["segments"]
        assert seg["vllm"]["mb"] == 1170 and seg["comfyui"]["mb"] == 400  # asleep; no model yet
        for name in ("vllm", "sovits", "whisper"):  # drawn at their share of the 24 GiB
            assert seg[name]["share"] == pytest.approx(seg[name]["mb"] / 24576, abs=0.01)
        assert "of 24.0 GB" in view["vramText"] and "simulated" in view["vramText"]

        await lease.release(completed=True)
        await rig.settled()
        session.send("released")
        r = await asyncio.to_thread(session.expect, "done", 120)
    finally:
        session.close()
        await gpu.aclose()
    refused = r["refused"]
    assert "507 VRAM_INSUFFICIENT" in refused["result"] and refused["plan"] == "conversation"
    assert refused["services"]["vllm"] == "resident"  # nothing changed
    assert r["style"]["plan"] == "style" and r["style"]["mode"] == "style"
    assert r["style"]["services"]["vllm"] == "asleep" and "chat → style" in r["style"]["result"]
    assert r["back"]["plan"] == "conversation" and r["back"]["mode"] == "auto"
    assert r["back"]["segments"]["vllm"]["mb"] == 15360
    # the browser logs the refused request itself; nothing else went wrong in the page
    assert r["consoleErrors"] == ["Failed to load resource: the server responded with a status "
                                  "of 507 (Insufficient Storage)"]
    assert r["sockets"] == 0  # never a conversation WebSocket (it would be a live signal)
