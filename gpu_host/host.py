"""Build the scheduler of a deployment from :class:`GpuSettings`: the device, one adapter per
configured service, the ledger."""

from __future__ import annotations

from gpu_host.config import GpuSettings
from gpu_host.figures import Need
from gpu_host.ledger import Ledger, open_device
from gpu_host.scheduler import Scheduler
from gpu_host.services.base import Service
from gpu_host.services.comfyui import ComfyUIService
from gpu_host.services.gen3d import Gen3dService
from gpu_host.services.resident import SovitsService, WhisperService
from gpu_host.services.vllm import VllmService


def build_services(s: GpuSettings, log_dir=None) -> dict[str, Service]:
    out: dict[str, Service] = {}
    if s.vllm_url:
        out["vllm"] = VllmService(s.vllm_url, Need(s.vllm_mb, asleep=s.vllm_asleep_mb),
                                  level=s.vllm_sleep_level, timeout_s=s.switch_timeout_s,
                                  pinned_version=s.vllm_version)
    if s.sovits_url:
        out["sovits"] = SovitsService(s.sovits_url, Need(s.sovits_mb), command=s.sovits_command,
                                      log_dir=log_dir)
    if s.whisper_mb:
        out["whisper"] = WhisperService(Need(s.whisper_mb))
    if s.comfyui_url:
        out["comfyui"] = ComfyUIService(
            s.comfyui_url, Need(s.comfyui_mb, stopped=s.comfyui_idle_mb),
            free_timeout_s=s.comfyui_free_timeout_s, tolerance_mb=s.comfyui_free_tolerance_mb,
            poll_s=s.poll_s)
    if s.gen3d_url:
        out["gen3d"] = Gen3dService(s.gen3d_url, Need(s.gen3d_mb), command=s.gen3d_command,
                                    log_dir=log_dir)
    return out


def build_scheduler(s: GpuSettings, log_dir=None) -> Scheduler:
    device = open_device(s.device, s.device_index, s.sim_total_mb, s.sim_dir)
    return Scheduler(s, build_services(s, log_dir), Ledger(device, s.headroom_mb))
