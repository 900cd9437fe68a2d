"""Published figures the defaults, the stand-ins and the simulated services are built from.

Every number here is either a published figure (source given) or derived from one (how, given);
none is a measurement of ours. Replace them with measurements on the 3090 when one is at hand
(``docs/gpu.md`` says how). MB are MiB.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- the device ---------------------------------------------------------------------------------
RTX_3090_MB = 24576  # 24 GiB GDDR6X (NVIDIA spec); the seeds' /api/system/vram example: 24576

# --- VRAM needs (the 3090 budget table of docs/gpu.md) -------------------------------------------
# vLLM, Gemma-3-27B-IT 4-bit: seeds 000 §8.2 (~13-15 GB). vLLM takes what
# --gpu-memory-utilization allows (weights + KV cache), so 15 GiB is also that flag: 0.62.
VLLM_MB = 15360
# vLLM asleep (level 1): what stays on the GPU (CUDA context, buffers). vllm-project/vllm#32714:
# "v0.13.0 sleep level 1 with 4x3090 and qwen3 30b ... 1.14Gb used on each GPU after sleep".
VLLM_ASLEEP_MB = 1170
# GPT-SoVITS api_v2: seeds 000 §8.2 (~3-4 GB, conda or docker alike).
SOVITS_MB = 4096
# faster-whisper on CUDA inside the realtime process: issue 10 (~1-2 GB).
WHISPER_MB = 1536
# ComfyUI with SDXL + IP-Adapter: ~10-13 GB (shared/research/avatar-creation.md: SDXL >= 8 GB per
# InvokeAI #6723, InstantID ~13 GB); seeds 000 §8.2 say 8-12 GB for the style mode.
COMFYUI_MB = 12288
# A ComfyUI process with its models unloaded still holds its CUDA context. Not published for
# ComfyUI; ~300-500 MB is the usual size of a PyTorch CUDA context on Ampere (an estimate).
COMFYUI_IDLE_MB = 400
# gen3d: seeds 000 §8.2 (~12-15 GB); Hunyuan3D-2mini shape 6 GB, 16 GB with Paint (research note).
GEN3D_MB = 15360

# --- switch latencies -------------------------------------------------------------------------
# vLLM sleep mode, blog.vllm.ai 2025-10-26 "Zero-Reload Model Switching with vLLM Sleep Mode"
# (A100, vLLM 0.11.0, level 1): wake 0.26 s for Qwen3-0.6B (~1.2 GB bf16) and 0.82 s for
# Phi-3-vision (~8.3 GB bf16). A straight line through both: 0.17 s + 0.079 s per GB copied.
WAKE_BASE_S = 0.17
WAKE_S_PER_GB = 0.079


def copy_s(mb: float) -> float:
    """Seconds to move ``mb`` of weights between host and GPU memory (the line above)."""
    return WAKE_BASE_S + WAKE_S_PER_GB * mb / 1024.0


VLLM_WAKE_S = round(copy_s(VLLM_MB - VLLM_ASLEEP_MB), 2)   # ~1.26 s for the 27B at 4 bit
VLLM_SLEEP_S = VLLM_WAKE_S  # level 1 copies the same weights the other way (assumed symmetric)
# ComfyUI /free unloads the models to the CPU (comfy.model_management.unload_all_models) and
# empties the cache: the same copy, the other way.
COMFYUI_UNLOAD_S = round(copy_s(COMFYUI_MB - COMFYUI_IDLE_MB), 2)
COMFYUI_LOAD_S = COMFYUI_UNLOAD_S
# One SDXL 1024x1024 sampling step with IP-Adapter: IP-Adapter's maintainer reports two
# 1024x1024 images in ~15 s on a V100 at the default 30 steps (tencent-ailab/IP-Adapter#7):
# 7.5 s / 30 = 0.25 s per step; a 3090 is close to a V100 at fp16 (an assumption).
SDXL_STEP_S = 0.25
SDXL_STEPS = 30
# The seeds' strict policy: stop the others, wait 2 s, start the target, check health; their own
# example answer reports switch_time_ms 8500 (000 §5.8, §8.3).
STRICT_SWITCH_S = 8.5
# gen3d: the research note's target (<= 120 s per run on the 3090, not yet measured) and a model
# load at the same copy rate as above.
GEN3D_RUN_S = 120.0
GEN3D_LOAD_S = round(copy_s(GEN3D_MB), 2)
# Gemma-3-27B 4-bit decode on a 3090: not published by vLLM; ~30 tokens/s is an estimate.
LLM_TOKENS_PER_S = 30.0
LLM_FIRST_TOKEN_S = 0.25  # prefill of a short chat prompt (estimate)


@dataclass(frozen=True)
class Need:
    """A service's VRAM in each of its states (MB)."""

    resident: int
    asleep: int = 0  # vLLM level-1 sleep; a ComfyUI with its models unloaded
    stopped: int = 0  # the process is not running (or holds nothing)
