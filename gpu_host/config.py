"""``GpuSettings``: environment variables with the prefix ``AVATAR_GPU_`` (and ``.env``).

The same variables configure ``python -m gpu_host`` and the scheduler the realtime server embeds
when ``AVATAR_GPU_HOST_URL`` is empty. A service whose URL is empty is not there (a laptop has
none: every plan is then trivially ready). ``.env.example`` documents each field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gpu_host import figures as F


class GpuSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVATAR_GPU_", env_file=".env",
                                      env_file_encoding="utf-8", extra="ignore")

    # --- the service (python -m gpu_host) ------------------------------------------------------
    listen_host: str = "127.0.0.1"
    listen_port: int = 8090
    log_level: str = "info"

    # --- the device ----------------------------------------------------------------------------
    device: Literal["auto", "nvml", "simulated"] = "auto"  # auto: NVML if a GPU answers
    device_index: int = 0
    sim_total_mb: int = F.RTX_3090_MB
    sim_dir: Path | None = None  # shared with stand-ins in other processes; None: in memory
    headroom_mb: int = 512  # never plan the last MB (fragmentation, the display)

    # --- services (empty URL: not deployed) ---------------------------------------------------
    vllm_url: str = ""  # e.g. http://vllm:8000 (the server root, not /v1)
    vllm_mb: int = F.VLLM_MB
    vllm_asleep_mb: int = F.VLLM_ASLEEP_MB
    vllm_sleep_level: int = Field(1, ge=1, le=2)
    vllm_version: str = "0.13.0"  # the release sleep mode was checked on (docs/gpu.md); "" = any
    comfyui_url: str = ""
    comfyui_mb: int = F.COMFYUI_MB
    comfyui_idle_mb: int = F.COMFYUI_IDLE_MB
    comfyui_free_timeout_s: float = 10.0  # /free is asynchronous: poll /system_stats this long
    comfyui_free_tolerance_mb: int = 500  # "freed" = vram_free back within this of its baseline
    sovits_url: str = ""
    sovits_mb: int = F.SOVITS_MB
    sovits_command: str = ""  # set: gpu_host starts and supervises api_v2 itself
    whisper_mb: int = 0  # faster-whisper on CUDA in the realtime process (AVATAR_STT_DEVICE=cuda)
    gen3d_url: str = ""
    gen3d_mb: int = F.GEN3D_MB
    gen3d_command: str = ""  # the sidecar process gpu_host starts and stops (needed to preempt)

    # --- policy --------------------------------------------------------------------------------
    idle_window_s: float = Field(20.0, ge=0)  # no live signal this long: background may borrow
    backoff_factor: float = Field(2.0, ge=1)  # each preemption multiplies the idle window
    backoff_max: float = Field(8.0, ge=1)
    speech_hold_s: float = Field(35.0, gt=0)  # speech started: live until its turn (or this)
    turn_hold_s: float = Field(120.0, gt=0)  # a turn: live until it ends (or this)
    starve_after_s: float = Field(1800.0, gt=0)  # a job waiting this long gets a protected lease
    min_lease_s: float = Field(30.0, ge=0)  # ... live signals do not preempt for its stage's
    max_protected_s: float = Field(150.0, ge=0)  # est_s, at least min_lease_s, at most this
    starved_gap_s: float = Field(2.0, ge=0)  # ... granted after this much quiet
    lease_ttl_s: float = Field(30.0, gt=0)  # a lease nobody polls for this long is dropped
    ready_timeout_s: float = Field(180.0, gt=0)  # the longest a turn waits (> max_protected_s)
    switch_timeout_s: float = Field(120.0, gt=0)  # one service transition
    poll_s: float = Field(0.05, gt=0)  # ledger and /system_stats polling

    # --- the client (realtime -> gpu_host over HTTP) ------------------------------------------
    client_timeout_s: float = Field(0.5, gt=0)  # connect and signal calls
    client_down_retry_s: float = Field(5.0, gt=0)  # after a failure, local fallback this long

    @field_validator("sim_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, v):
        return None if v in ("", None) else v
