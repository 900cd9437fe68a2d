"""The VRAM ledger: what the device says is used, attributed to services, checked before acting.

Two devices with one interface (``total_mb``, ``used_mb()``, ``processes()``):

* :class:`NvmlDevice`: the real GPU through NVML (``nvidia-ml-py``): device memory and the
  compute processes with their memory, as ``nvidia-smi`` shows them.
* :class:`SimulatedDevice`: no GPU. Allocations are declared by whoever "holds" memory: the
  simulated services in process, or the stand-ins in other processes through a shared directory
  (one small JSON file per holder; a holder whose process died frees its memory, as the driver
  does). ComfyUI's stand-in reads it back for ``/system_stats``, as ComfyUI reads CUDA's.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class Device(Protocol):
    name: str
    kind: str  # "nvml" | "simulated"
    total_mb: int

    def used_mb(self) -> int: ...

    def processes(self) -> dict[str, int]:
        """Holder -> MB: ``pid:<n>`` (NVML) or the holder's declared name (simulated)."""
        ...


class NvmlDevice:
    kind = "nvml"

    def __init__(self, index: int = 0) -> None:
        import pynvml  # nvidia-ml-py

        self._nvml = pynvml
        pynvml.nvmlInit()
        self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        name = pynvml.nvmlDeviceGetName(self._handle)
        self.name = name.decode() if isinstance(name, bytes) else str(name)
        self.total_mb = int(pynvml.nvmlDeviceGetMemoryInfo(self._handle).total // 2**20)

    def used_mb(self) -> int:
        return int(self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used // 2**20)

    def processes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle):
            used = p.usedGpuMemory
            if used is not None:  # None: not readable (another container's process)
                out[f"pid:{p.pid}"] = int(used // 2**20)
        return out


class SimulatedDevice:
    """A GPU that is not there: ``total_mb`` of memory that holders declare they use."""

    kind = "simulated"

    def __init__(self, total_mb: int, directory: Path | None = None,
                 name: str = "simulated RTX 3090") -> None:
        self.name = name
        self.total_mb = total_mb
        self.directory = Path(directory) if directory else None
        self._local: dict[str, int] = {}
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def set(self, holder: str, mb: int) -> None:
        """Declare that ``holder`` now uses ``mb`` (0 frees it)."""
        mb = max(0, int(mb))
        if self.directory is None:
            if mb:
                self._local[holder] = mb
            else:
                self._local.pop(holder, None)
            return
        path = self.directory / f"{holder}.json"
        if not mb:
            path.unlink(missing_ok=True)
            return
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"holder": holder, "pid": os.getpid(), "mb": mb}))
        tmp.replace(path)  # atomic: a reader sees the old or the new figure, never half

    def processes(self) -> dict[str, int]:
        if self.directory is None:
            return dict(self._local)
        out: dict[str, int] = {}
        for path in self.directory.glob("*.json"):
            try:
                doc = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # replaced or removed while we read it
            if _alive(int(doc.get("pid", 0))):
                out[str(doc["holder"])] = int(doc["mb"])
            else:
                path.unlink(missing_ok=True)  # the holder died: the driver frees its memory
        return out

    def used_mb(self) -> int:
        return sum(self.processes().values())


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_device(kind: str, index: int, sim_total_mb: int, sim_dir: Path | None) -> Device:
    """``auto``: NVML when a GPU answers, else the simulated device."""
    if kind in ("auto", "nvml"):
        try:
            return NvmlDevice(index)
        except Exception as exc:  # noqa: BLE001 - no driver, no GPU, no library
            if kind == "nvml":
                raise RuntimeError(f"NVML unavailable: {exc}") from exc
            log.info("no GPU through NVML (%s): using the simulated device", exc)
    return SimulatedDevice(sim_total_mb, sim_dir)


@dataclass
class Snapshot:
    total_mb: int
    used_mb: int
    by_holder: dict[str, int]

    @property
    def free_mb(self) -> int:
        return max(0, self.total_mb - self.used_mb)


class Ledger:
    """Reads the device; every plan and every step is checked against it before it is tried."""

    def __init__(self, device: Device, headroom_mb: int) -> None:
        self.device = device
        self.headroom_mb = headroom_mb
        self.peak_mb = 0

    def snapshot(self) -> Snapshot:
        procs = self.device.processes()
        used = self.device.used_mb() if self.device.kind == "nvml" else sum(procs.values())
        self.peak_mb = max(self.peak_mb, used)
        return Snapshot(self.device.total_mb, used, procs)

    @property
    def budget_mb(self) -> int:
        """What plans may use: the device less the headroom."""
        return self.device.total_mb - self.headroom_mb

    def room_mb(self) -> int:
        """Free memory now, less the headroom: what one more step may take."""
        return self.snapshot().free_mb - self.headroom_mb
