"""compose.yaml, without a Docker engine: valid against the Compose Specification JSON schema
(the copy check-jsonschema vendors), its profiles, healthchecks and dependencies as
docs/deploy.md describes them, every AVATAR_ variable it sets a real setting documented in
.env.example, every variable it reads from .env documented there, no secret written in it, the
GPU services reserved, read-only on their models and unpublished, and the pins (vLLM, GPT-SoVITS)
the ones the code was checked against."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gpu_host.config import GpuSettings
from realtime.config import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"
DOC = yaml.safe_load(COMPOSE.read_text())
SERVICES: dict[str, dict] = DOC["services"]
PROFILES = {
    None: {"realtime", "redis", "mongo"},
    "gpu": {"gpu_host", "vllm", "gpt-sovits", "comfyui", "avatar-worker"},
    "gen3d": {"gen3d"},
    "observability": {"prometheus", "grafana"},
    "edge": {"caddy"},
}
GPU_SERVICES = {"vllm", "gpt-sovits", "comfyui", "gen3d"}
VOLUME = re.compile(r"^(\$\{[^}]*\}[^:]*|[^:]+):([^:]+)(?::(\w+))?$")  # source:target[:mode]


def check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run([str(exe if exe.exists() else shutil.which("check-jsonschema")),
                           "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_valid_against_the_compose_specification(tmp_path):
    ok = check_jsonschema(COMPOSE)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # the validator does reject what the specification does not allow
    broken = COMPOSE.read_text().replace("condition: service_healthy", "condition: healthy", 1)
    (tmp_path / "compose.yaml").write_text(broken)
    bad = check_jsonschema(tmp_path / "compose.yaml")
    assert bad.returncode != 0 and "healthy" in bad.stdout + bad.stderr


def test_profiles():
    seen = {}
    for name, svc in SERVICES.items():
        profiles = svc.get("profiles") or [None]
        assert len(profiles) == 1, name
        seen.setdefault(profiles[0], set()).add(name)
    assert seen == PROFILES


def _available(profile: str | None) -> set[str]:
    return PROFILES[None] | (PROFILES[profile] if profile else set())


def test_every_service_is_health_checked_and_waits_for_healthy_dependencies():
    for name, svc in SERVICES.items():
        profile = (svc.get("profiles") or [None])[0]
        if name != "avatar-worker":  # a queue consumer: no port to probe; restart policy instead
            hc = svc.get("healthcheck")
            assert hc and hc["test"][0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
        assert svc.get("restart") == "unless-stopped", name
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert cond == {"condition": "service_healthy"}, (name, dep)
            # a dependency is there whenever the dependent is (a default service never waits for
            # a profile's); the gpu profile's services may use the default ones
            assert dep in _available(profile) | (PROFILES["gpu"] if profile == "gen3d" else set())
            assert SERVICES[dep].get("healthcheck"), f"{name} waits on {dep}, never healthy"
    assert set(SERVICES["realtime"]["depends_on"]) == {"redis", "mongo"}
    assert "/api/health" in " ".join(SERVICES["realtime"]["healthcheck"]["test"])


def test_named_volumes_and_read_only_models():
    declared = set(DOC["volumes"])
    used = set()
    for name, svc in SERVICES.items():
        for vol in svc.get("volumes", []):
            source, target, mode = VOLUME.match(vol).groups()
            if not source.startswith((".", "/", "$")):
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
            elif name in GPU_SERVICES or "/deploy/" in source or source.startswith("./deploy"):
                assert mode == "ro", f"{name}: {vol} must be read-only"
    assert used == declared
    for name in GPU_SERVICES:
        assert any(v.endswith(":ro") and "MODELS_DIR" in v for v in SERVICES[name]["volumes"])


def test_gpu_services_are_reserved_and_internal_only():
    for name in GPU_SERVICES | {"gpu_host"}:
        svc = SERVICES[name]
        devices = svc["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
        assert "ports" not in svc, f"{name} must not be published"
        assert svc["networks"] == ["backend"] or set(svc["networks"]) == {"backend"}
    assert DOC["networks"]["backend"]["internal"] is True
    published = {n for n, s in SERVICES.items() if "ports" in s}
    assert published == {"realtime", "grafana", "caddy"}
    for name in ("realtime", "grafana"):  # loopback unless the operator opens it
        for port in SERVICES[name]["ports"]:
            assert port.startswith("${") and ":-127.0.0.1:" in port, port


def _environment(svc: dict) -> dict:
    env = svc.get("environment") or {}
    return env if isinstance(env, dict) else dict(e.split("=", 1) for e in env)


def _documented() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.M))


def test_avatar_variables_are_settings_and_documented():
    known = {f"AVATAR_{n.upper()}" for n in Settings.model_fields}
    known |= {f"AVATAR_GPU_{n.upper()}" for n in GpuSettings.model_fields}
    documented = _documented()
    seen = set()
    for name, svc in SERVICES.items():
        for var in _environment(svc):
            if var.startswith("AVATAR_"):
                seen.add(var)
                assert var in known, f"{name}: {var} is not a setting"
                assert var in documented, f"{name}: {var} is not in .env.example"
    assert {"AVATAR_REDIS_URL", "AVATAR_MONGO_URL", "AVATAR_GPU_VLLM_URL"} <= seen
    # every variable compose reads from .env is documented there
    read = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert read - documented == set(), "compose reads undocumented variables"


def test_no_secret_is_written_in_the_file():
    secret = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY", re.I)
    for name, svc in SERVICES.items():
        for var, value in _environment(svc).items():
            if secret.search(var):
                assert str(value).startswith("${"), f"{name}: {var} is written in compose.yaml"
        for arg in svc.get("command") or []:
            if secret.search(arg):
                assert "${" in arg, f"{name}: a secret in its command"
    text = COMPOSE.read_text()
    assert not re.search(r"://[^/\s:$]+:[^@\s$]+@", text), "credentials in a URL"


def test_the_pins_are_the_ones_the_code_was_checked_against():
    pinned = GpuSettings(_env_file=None).vllm_version
    vllm = SERVICES["vllm"]
    assert vllm["image"] == f"vllm/vllm-openai:v{pinned}"
    assert _environment(SERVICES["gpu_host"])["AVATAR_GPU_VLLM_VERSION"] == pinned
    assert "--enable-sleep-mode" in vllm["command"]
    assert _environment(vllm)["VLLM_SERVER_DEV_MODE"] == "1"
    share = float(vllm["command"][vllm["command"].index("--gpu-memory-utilization") + 1])
    gpu = GpuSettings(_env_file=None)
    assert abs(share * gpu.sim_total_mb - gpu.vllm_mb) < 0.01 * gpu.sim_total_mb  # its budget line
    sovits = (ROOT / "deploy/gpt-sovits/Dockerfile").read_text()
    source = (ROOT / "realtime/engines/tts/sovits.py").read_text()
    commit = re.search(r"SOVITS_COMMIT=([0-9a-f]{40})", sovits).group(1)
    assert commit.startswith(re.search(r"upstream ``([0-9a-f]{7})``", source).group(1))
    assert '"api_v2.py"' in sovits
    assert SERVICES["gpt-sovits"]["build"] == "deploy/gpt-sovits"
    assert SERVICES["avatar-worker"]["command"] == ["python", "-m", "avatar_engine.worker"]
    assert SERVICES["gpu_host"]["command"][:3] == ["python", "-m", "gpu_host"]


@pytest.mark.parametrize("path", ["Dockerfile", "deploy/gpt-sovits/Dockerfile",
                                  "deploy/comfyui/Dockerfile", "deploy/gen3d/Dockerfile"])
def test_images_run_as_a_user_with_a_healthcheck(path):
    text = (ROOT / path).read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK ", text, re.M)
    if path == "Dockerfile":
        assert len(re.findall(r"^FROM ", text, re.M)) >= 2, "multi-stage"
        assert "/api/health" in text
        dockerignore = (ROOT / ".dockerignore").read_text().split()
        assert ".env" in dockerignore and ".venv" in dockerignore  # no secrets, no local venv
