"""docs/gpu.md stays true to the code: the budget table's figures are the defaults. (The compose
file it points to is checked by tests/test_compose.py: real settings, the pinned vLLM.)"""

from __future__ import annotations

from pathlib import Path

from gpu_host import figures as F
from gpu_host.config import GpuSettings

DOC = (Path(__file__).resolve().parent.parent / "docs" / "gpu.md").read_text()


def test_the_budget_table_shows_the_defaults():
    s = GpuSettings(_env_file=None)
    for mb in (s.vllm_mb, s.vllm_asleep_mb, s.sovits_mb, s.comfyui_mb, s.comfyui_idle_mb,
               s.gen3d_mb, F.WHISPER_MB):
        assert f"{mb:,} MiB" in DOC, mb
