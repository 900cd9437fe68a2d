"""The gen3d sidecar in its own container, stopped by gpu_host all the same (gpu_host/hold.py):
gpu_host's own gen3d adapter starts its child (`python -m gpu_host.hold run URL`), the hold
server runs the sidecar (the Hunyuan3D-contract stand-in) while that child lives, and the sidecar
is gone when gpu_host stops the child — or when the child is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gpu_host.figures import Need
from gpu_host.services.gen3d import Gen3dService
from tests.serving import free_port

REPO = Path(__file__).resolve().parent.parent


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(pred, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


@pytest.fixture
def hold_server(tmp_path):
    sidecar_port, hold_port = free_port(), free_port()
    sidecar = [sys.executable, "-m", "tests.stand_ins.gen3d_server", "--port", str(sidecar_port),
               "--sim-dir", str(tmp_path)]
    proc = subprocess.Popen([sys.executable, "-m", "gpu_host.hold", "serve", "--host",
                             "127.0.0.1", "--port", str(hold_port), "--", *sidecar], cwd=REPO)
    assert wait_for(lambda: listening(hold_port), 15)
    yield sidecar_port, hold_port
    proc.terminate()
    proc.wait(10)
    assert not listening(sidecar_port)  # the hold server takes its sidecar with it


async def test_gpu_host_stops_a_sidecar_in_another_container(hold_server):
    sidecar_port, hold_port = hold_server
    svc = Gen3dService(f"http://127.0.0.1:{sidecar_port}", Need(15360),
                       command=f"{sys.executable} -m gpu_host.hold run "
                               f"http://127.0.0.1:{hold_port}/hold")
    try:
        assert not listening(sidecar_port)  # nothing runs until someone holds it
        await svc.to("resident")
        assert svc.state == "resident" and await svc.health()
        await svc.to("stopped")
        assert wait_for(lambda: not listening(sidecar_port), 5), "the sidecar outlived its holder"

        await svc.to("resident")  # held again: started again
        assert await svc.health()
        os.kill(svc.child.pid, signal.SIGKILL)  # the holder dies without a word
        assert wait_for(lambda: not listening(sidecar_port), 5), "SIGKILL left the sidecar running"
        assert await svc.probe() == "stopped"
    finally:
        await svc.aclose()
