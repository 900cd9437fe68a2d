"""Run the GPT-SoVITS ``api_v2`` stand-in (``sovits_api_v2.py``) as a process of its own, so
gpu_host can start and stop it as it would the real ``api_v2.py``; it declares the 4 GiB the
seeds give GPT-SoVITS (000 §8.2) on the simulated device while it runs.

    python -m tests.stand_ins.sovits_launch --port 9880 --sim-dir var/gpu_sim
"""

from __future__ import annotations

import argparse

import uvicorn

from gpu_host import figures as F
from gpu_host.ledger import SimulatedDevice
from tests.stand_ins.sovits_api_v2 import create_stand_in


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sim-dir", required=True)
    a = p.parse_args()
    device = SimulatedDevice(F.RTX_3090_MB, a.sim_dir)
    device.set("sovits", F.SOVITS_MB)  # freed by the driver (the pid check) when we exit
    try:
        uvicorn.run(create_stand_in(), host=a.host, port=a.port, log_level="warning")
    finally:
        device.set("sovits", 0)


if __name__ == "__main__":
    main()
