"""docs/gpu.md stays true to the code: its compose example parses, every AVATAR_* variable in it
is a real setting (of the realtime server or of gpu_host), and its vLLM image is the pinned
release; the budget table's figures are the defaults."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from gpu_host import figures as F
from gpu_host.config import GpuSettings
from realtime.config import Settings

DOC = (Path(__file__).resolve().parent.parent / "docs" / "gpu.md").read_text()


def compose() -> dict:
    block = re.search(r"```yaml\n(.*?)```", DOC, re.S)
    assert block, "docs/gpu.md has no compose example"
    return yaml.safe_load(block.group(1))


def test_the_compose_example_uses_real_settings_and_the_pinned_vllm():
    doc = compose()
    services = doc["services"]
    assert {"vllm", "comfyui", "sovits", "gpu_host", "realtime"} <= set(services)
    known = {f"AVATAR_{n.upper()}" for n in Settings.model_fields}
    known |= {f"AVATAR_GPU_{n.upper()}" for n in GpuSettings.model_fields}
    for name, svc in services.items():
        for var in svc.get("environment", {}):
            if var.startswith("AVATAR_"):
                assert var in known, f"{name}: {var} is not a setting"
    pinned = GpuSettings(_env_file=None).vllm_version
    assert services["vllm"]["image"] == f"vllm/vllm-openai:v{pinned}"
    assert services["gpu_host"]["environment"]["AVATAR_GPU_VLLM_VERSION"] == pinned
    assert "--enable-sleep-mode" in services["vllm"]["command"]
    assert services["vllm"]["environment"]["VLLM_SERVER_DEV_MODE"] == "1"
    # vLLM's share of the device is its budget line
    share = float(services["vllm"]["command"][services["vllm"]["command"].index(
        "--gpu-memory-utilization") + 1])
    assert abs(share * F.RTX_3090_MB - F.VLLM_MB) < 0.01 * F.RTX_3090_MB


def test_the_budget_table_shows_the_defaults():
    s = GpuSettings(_env_file=None)
    for mb in (s.vllm_mb, s.vllm_asleep_mb, s.sovits_mb, s.comfyui_mb, s.comfyui_idle_mb,
               s.gen3d_mb, F.WHISPER_MB):
        assert f"{mb:,} MiB" in DOC, mb
