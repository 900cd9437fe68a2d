"""On a machine with an NVIDIA GPU: does gpu_host's NVML ledger read what ``nvidia-smi`` reads?

    .venv/bin/python bench/gpu_nvml_check.py [--mb 2048] [--device 0]

Reads device memory and per-process memory through ``gpu_host.ledger.NvmlDevice`` and through
``nvidia-smi`` at three moments: at rest, while this process holds ``--mb`` MiB allocated with
the CUDA driver API (``libcuda``: no framework needed), and after freeing it. Prints both
readings side by side and the differences; exits non-zero if they disagree by more than
``--tolerance-mb`` or if the allocation does not show up in the ledger. Not run in CI (no GPU
there); written for the device machine issue 10 may be lent.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gpu_host.ledger import NvmlDevice  # noqa: E402


def smi(index: int) -> tuple[int, int, dict[str, int]]:
    """(total MiB, used MiB, {pid:N: MiB}) from nvidia-smi."""
    q = subprocess.run(["nvidia-smi", f"--id={index}", "--query-gpu=memory.total,memory.used",
                        "--format=csv,noheader,nounits"], capture_output=True, text=True,
                       check=True).stdout.strip().splitlines()[0]
    total, used = (int(x) for x in q.split(","))
    apps = subprocess.run(["nvidia-smi", f"--id={index}", "--query-compute-apps=pid,used_memory",
                           "--format=csv,noheader,nounits"], capture_output=True, text=True,
                          check=True).stdout.strip().splitlines()
    procs = {}
    for line in apps:
        if line.strip():
            pid, mb = (x.strip() for x in line.split(","))
            if mb.isdigit():
                procs[f"pid:{pid}"] = int(mb)
    return total, used, procs


class CudaAlloc:
    """``mb`` MiB held through the CUDA driver API for as long as the object lives."""

    def __init__(self, index: int, mb: int) -> None:
        self.cuda = ctypes.CDLL("libcuda.so.1")
        self._ok(self.cuda.cuInit(0), "cuInit")
        dev, ctx, ptr = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_uint64()
        self._ok(self.cuda.cuDeviceGet(ctypes.byref(dev), index), "cuDeviceGet")
        self._ok(self.cuda.cuCtxCreate_v2(ctypes.byref(ctx), 0, dev), "cuCtxCreate")
        self.ctx = ctx
        self._ok(self.cuda.cuMemAlloc_v2(ctypes.byref(ptr), ctypes.c_size_t(mb * 2**20)),
                 "cuMemAlloc")
        self.ptr = ptr
        self._ok(self.cuda.cuMemsetD8_v2(ptr, 1, ctypes.c_size_t(mb * 2**20)), "cuMemset")
        self._ok(self.cuda.cuCtxSynchronize(), "cuCtxSynchronize")

    @staticmethod
    def _ok(rc: int, what: str) -> None:
        if rc != 0:
            raise RuntimeError(f"{what} failed with CUresult {rc}")

    def free(self) -> None:
        self._ok(self.cuda.cuMemFree_v2(self.ptr), "cuMemFree")
        self._ok(self.cuda.cuCtxDestroy_v2(self.ctx), "cuCtxDestroy")


def reading(dev: NvmlDevice, index: int, label: str) -> dict:
    time.sleep(0.5)  # let the driver's accounting settle
    total, used, procs = smi(index)
    mine = f"pid:{os.getpid()}"
    row = {"moment": label, "nvml_total": dev.total_mb, "smi_total": total,
           "nvml_used": dev.used_mb(), "smi_used": used,
           "nvml_this_process": dev.processes().get(mine), "smi_this_process": procs.get(mine)}
    print("  ".join(f"{k}={v}" for k, v in row.items()))
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", type=int, default=0)
    p.add_argument("--mb", type=int, default=2048)
    p.add_argument("--tolerance-mb", type=int, default=64)
    a = p.parse_args()
    dev = NvmlDevice(a.device)
    print(f"device {a.device}: {dev.name}, {dev.total_mb} MiB (NVML)")
    rows = [reading(dev, a.device, "rest")]
    alloc = CudaAlloc(a.device, a.mb)
    rows.append(reading(dev, a.device, f"holding {a.mb} MiB"))
    alloc.free()
    rows.append(reading(dev, a.device, "freed"))
    bad = []
    for r in rows:
        if r["nvml_total"] != r["smi_total"]:
            bad.append(f"{r['moment']}: total differs")
        if abs(r["nvml_used"] - r["smi_used"]) > a.tolerance_mb:
            bad.append(f"{r['moment']}: used differs by {r['nvml_used'] - r['smi_used']} MiB")
    grew = rows[1]["nvml_used"] - rows[0]["nvml_used"]
    print(f"the allocation moved NVML's used memory by {grew} MiB (asked {a.mb}, plus the "
          f"CUDA context); this process as NVML sees it: {rows[1]['nvml_this_process']} MiB")
    if grew < a.mb:
        bad.append(f"the ledger saw only {grew} MiB of a {a.mb} MiB allocation")
    if rows[1]["nvml_this_process"] is None:
        bad.append("NVML did not list this process (containers hide other pids, not ours)")
    print("PASS" if not bad else "FAIL: " + "; ".join(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
