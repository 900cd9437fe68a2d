"""Settings: .env.example documents every field; env vars and .env are read; bad values fail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from gpu_host.config import GpuSettings
from realtime.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_documents_every_setting():
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*AVATAR_([A-Z0-9_]+)=", text, re.M))
    fields = {name.upper() for name in Settings.model_fields}
    fields |= {f"GPU_{name.upper()}" for name in GpuSettings.model_fields}  # gpu_host's own
    assert fields - documented == set(), "undocumented settings"
    assert documented - fields == set(), "documented settings that do not exist"


def test_env_example_loads(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    s = Settings()
    assert s.port == 8000 and s.embedded_llm and s.llm_models[0].id == s.llm_default_model
    g = GpuSettings()
    assert g.listen_port == 8090 and g.idle_window_s == 20.0 and not g.vllm_url


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AVATAR_LLM_BASE_URL", "http://gpu:8001/v1")
    monkeypatch.setenv("AVATAR_OUTPUT_SAMPLE_RATE", "48000")
    s = Settings()
    assert not s.embedded_llm and s.output_sample_rate == 48000


@pytest.mark.parametrize("field,value", [("output_sample_rate", 12345), ("audio_chunk_ms", 500),
                                         ("ws_impl", "uvloop")])
def test_bad_values_rejected(field, value):
    with pytest.raises(ValidationError):
        Settings(_env_file=None, **{field: value})


def test_import_has_no_side_effects():
    import subprocess
    import sys

    code = ("import threading, realtime.app, realtime.services, realtime.pipeline.turn;"
            "import sys; sys.exit(threading.active_count() != 1)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_token_mode_needs_a_long_secret():
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="32 bytes"):
        Settings(_env_file=None, auth_mode="token", auth_secret="too-short-0123456789")
    Settings(_env_file=None, auth_mode="token", auth_secret="x" * 32)
