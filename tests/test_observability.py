"""Observability with real parts: Debian's Prometheus and promtool (installed by the test
command). promtool checks compose's Prometheus config and alert rules and runs the rules' unit
tests; a real Prometheus, on that same config with its targets pointed at the live server and a
`python -m gpu_host`, scrapes them while the server serves typed, REST and voice turns, a barge-in
and a bad message; then every query of every Grafana dashboard panel must return data through
Prometheus's HTTP API, and every alert rule must evaluate cleanly on metrics that exist."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from tests.serving import free_port
from tests.speech import piper_16k
from tests.wsclient import Client, Frame

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PROM = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
SR = 16000


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: bash scripts/install.sh --test installs Debian's prometheus"
    return path


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True, timeout=60)


def test_promtool_checks_the_config_the_rules_and_their_unit_tests():
    r = promtool("check", "config", str(PROM / "prometheus.yml"))
    assert r.returncode == 0, r.stdout + r.stderr
    r = promtool("check", "rules", str(PROM / "alerts.yml"))
    assert r.returncode == 0 and "7 rules found" in r.stdout, r.stdout + r.stderr
    r = promtool("test", "rules", str(PROM / "alerts.test.yml"))
    assert r.returncode == 0, r.stdout + r.stderr
    names = {rule["alert"] for g in yaml.safe_load((PROM / "alerts.yml").read_text())["groups"]
             for rule in g["rules"]}
    tested = set(re.findall(r"alertname: (\w+)", (PROM / "alerts.test.yml").read_text()))
    assert names == tested, "every alert has a unit test"
    assert {"LLMDown", "OutboxBacklogGrowing", "VoiceToVoiceP95OverBudget", "VRAMNearFull"} <= names


def test_grafana_provisioning_matches_compose():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    mounts = dict(v.split(":")[:2] for v in compose["grafana"]["volumes"] if v.startswith("./"))
    ds = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    uid = ds["datasources"][0]["uid"]
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/avatar.yml").read_text())
    assert mounts["./deploy/grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    for panel in dashboard()["panels"]:
        assert panel["datasource"]["uid"] == uid
        assert all(t["datasource"]["uid"] == uid for t in panel["targets"])
    mounted = {v.split(":")[1] for v in compose["prometheus"]["volumes"]}
    assert "/etc/prometheus" in mounted  # prometheus.yml and alerts.yml, read-only


def dashboard() -> dict:
    return json.loads((GRAFANA / "dashboards/avatar.json").read_text())


def panel_queries() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in dashboard()["panels"] for t in p["targets"]]


@pytest.fixture(scope="module")
def gpu_host(tmp_path_factory):
    """`python -m gpu_host` on a simulated 3090 holding Whisper's declared memory."""
    port = free_port()
    env = {"AVATAR_GPU_DEVICE": "simulated", "AVATAR_GPU_WHISPER_MB": "1536",
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-m", "gpu_host", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning"], cwd=tmp_path_factory.mktemp("gh"),
                            env={**env, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "gpu_host did not start"
        time.sleep(0.1)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def prometheus(live, gpu_host, tmp_path_factory):
    """Compose's prometheus.yml and alerts.yml, with a 1 s scrape and the targets pointed here."""
    tmp = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROM / f) for f in config["rule_files"]]
    targets = {"realtime": live.url.removeprefix("http://"), "gpu_host": gpu_host}
    assert {job["job_name"] for job in config["scrape_configs"]} == set(targets)
    for job in config["scrape_configs"]:
        job.pop("dns_sd_configs", None)
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen([tool("prometheus"), f"--config.file={tmp / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "log", "wb"))  # noqa: SIM115
    api = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _get(api + "/-/ready") == 200, 30, "Prometheus not ready")
        yield api
    finally:
        proc.terminate()
        proc.wait(15)


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0


def wait_until(pred, timeout: float, what: str, every: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, what
        time.sleep(every)


def query(api: str, expr: str) -> list[dict]:
    r = httpx.get(api + "/api/v1/query", params={"query": expr}, timeout=10)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", (expr, body)
    return body["data"]["result"]


def has_data(result: list[dict]) -> bool:
    return any(np.isfinite(float(s["value"][1])) for s in result)


async def serve_some_turns(live, piper_voice) -> None:
    """A typed turn, a REST turn, a long answer cut by the user's speech (a barge-in) whose
    question then gets its voice answer, and a message the server refuses."""
    async with httpx.AsyncClient(base_url=live.url, timeout=120) as http:
        r = await http.post("/api/chat", json={"messages": [{"role": "user", "content": "Hi!"}],
                                               "max_tokens": 16})
        assert r.status_code == 200, r.text
    c = await Client.connect(live.ws, max_tokens=200, temperature=0.0)
    try:
        assert (await c.turn("Hello there!")).done["status"] == "completed"
        await c.send({"type": "input.text",
                      "text": "Tell me a long story about a dragon and a baker, with many details."})
        samples = 0
        while samples < 1.0 * c.rate:  # an answer is playing
            item = await c.recv(60)
            samples += len(item.pcm) if isinstance(item, Frame) else 0
        question = np.concatenate([np.zeros(int(0.1 * SR), np.float32),
                                   piper_16k(piper_voice, "Wait, stop. What is your name?"),
                                   np.zeros(int(1.2 * SR), np.float32)])
        sender = asyncio.create_task(c.stream_audio(question))
        await c.expect("response.interrupted", timeout=30)
        statuses = []
        while "completed" not in statuses:  # the cut answer, then the spoken question's answer
            statuses.append((await c.expect("response.done", timeout=90))["status"])
        await sender
        assert statuses[0] == "interrupted", statuses
        await c.send({"type": "no.such.event"})
        assert (await c.expect("error", timeout=10))["code"]
    finally:
        await c.close()


async def test_every_dashboard_panel_returns_data_from_a_real_prometheus(
        live, piper_voice, prometheus):
    api = prometheus
    wait_until(lambda: len([s for s in query(api, "up") if s["value"][1] == "1"]) == 2, 30,
               "Prometheus does not scrape both targets")
    await serve_some_turns(live, piper_voice)
    # two more scrapes after the last turn, then one rule evaluation
    wait_until(lambda: has_data(query(api, "sum(avatar_barge_ins_total)")), 15, "no scrape")
    time.sleep(2.5)

    empty = []
    for title, expr in panel_queries():
        result = query(api, expr.replace("$__rate_interval", "1m"))
        if not has_data(result):
            empty.append((title, expr))
    assert not empty, f"panels without data: {empty}"

    # every alert rule evaluates, on metrics the server and gpu_host really export
    r = httpx.get(api + "/api/v1/rules", timeout=10).json()
    rules = [rule for g in r["data"]["groups"] for rule in g["rules"]]
    assert len(rules) == 7 and all(rule["health"] == "ok" for rule in rules), rules
    for rule in rules:
        for name in set(re.findall(r"\b(avatar_[a-z_]+|up)\b", rule["query"])):
            assert query(api, f"count({{__name__=\"{name}\"}})"), f"{rule['name']}: no {name}"
    firing = [a["labels"]["alertname"] for a in
              httpx.get(api + "/api/v1/alerts", timeout=10).json()["data"]["alerts"]]
    assert not {"LLMDown", "RealtimeDown", "TurnsFailing"} & set(firing), firing
