"""One command for a headless load run: start the embedded server on loopback (or use --url),
run Locust in steps of concurrent users, write its CSV and HTML report, our per-request log,
a summary and a PNG plot of latency percentiles and errors against users.

    .venv/bin/python loadtest/run.py --users typed --steps 2,4,6,8 --step-s 60
    .venv/bin/python loadtest/run.py --users voice --steps 1,2,4 --step-s 60
    .venv/bin/python loadtest/run.py --users mixed --steps 3 --step-s 30 --url http://127.0.0.1:8000

Users: ``typed`` (WsTextUser: WebSocket typed turns), ``voice`` (VoiceUser: real-time PCM,
barge-in now and then), ``rest`` (RestTextUser), ``mixed`` (all three, weights 3:1:1). Output:
``--out`` (default ``var/loadtest/<users>-<time>/``): ``locust_stats.csv``,
``locust_stats_history.csv``, ``locust_failures.csv``, ``report.html`` (Locust's), ``requests.csv``,
``summary.json``, ``report.png``. Exit status 1 when a request failed.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
import speech  # noqa: E402

CLASSES = {"typed": ["WsTextUser"], "voice": ["VoiceUser"], "rest": ["RestTextUser"],
           "mixed": ["WsTextUser", "RestTextUser", "VoiceUser"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(**env_overrides: str) -> tuple[subprocess.Popen, str]:
    """``python -m realtime`` with the embedded engines on a free loopback port, without the
    per-user limits (every load user is the same anonymous user)."""
    port = free_port()
    storage = Path(tempfile.mkdtemp(prefix="load-"))
    models = ROOT / "var" / "loadtest" / "models"  # the requantized LLM, kept between runs
    models.mkdir(parents=True, exist_ok=True)
    (storage / "models").symlink_to(models)
    env = {**os.environ, "AVATAR_STORAGE_DIR": str(storage),
           "AVATAR_RATE_LIMIT_PER_MINUTE": "0", "AVATAR_MAX_CONCURRENT_SESSIONS": "1000"}
    voice = ROOT / "var" / "models" / "en_US-joe-medium.aligned.onnx"
    if voice.exists():
        env["AVATAR_TTS_PIPER_VOICE_PATH"] = str(voice)
    env.update(env_overrides)
    proc = subprocess.Popen([sys.executable, "-m", "realtime", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning"], cwd=ROOT, env=env)
    return proc, f"http://127.0.0.1:{port}"


def wait_up(url: str, proc: subprocess.Popen | None = None, timeout: float = 240) -> None:
    """Until /api/health says every engine is healthy (the LLM loaded, Whisper started)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            r = httpx.get(url + "/api/health", timeout=5)
            if r.status_code == 200 and r.json()["data"]["status"] == "healthy":
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the server did not start")
        time.sleep(0.3)


def stop_server(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def locust(url: str, out: Path, classes: list[str], *, steps: str | None = None,
           step_s: float = 30, users: int | None = None, run_time_s: float | None = None,
           barge_in: float = 0.2, max_tokens: int = 60) -> int:
    """Run Locust headless (steps via ``LoadShape``, or a fixed number of users for a time);
    returns its exit status (1 when a request failed)."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LOAD_LOG": str(out / "requests.csv"), "LOAD_BARGE_IN": str(barge_in),
           "LOAD_MAX_TOKENS": str(max_tokens), "PYTHONPATH": str(ROOT)}
    cmd = [str(Path(sys.executable).with_name("locust")), "-f", str(HERE / "locustfile.py"),
           "--headless", "--host", url, "--csv", str(out / "locust"), "--csv-full-history",
           "--html", str(out / "report.html"), "--only-summary", "--loglevel", "WARNING",
           "--stop-timeout", "90"]
    if steps:
        env.update({"LOAD_STEPS": steps, "LOAD_STEP_S": str(step_s)})
    else:
        env.pop("LOAD_STEPS", None)
        cmd += ["--users", str(users), "--spawn-rate", str(users), "--run-time",
                f"{int(run_time_s)}s"]
    return subprocess.run([*cmd, *classes], env=env, cwd=ROOT).returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", choices=sorted(CLASSES), default="mixed")
    ap.add_argument("--steps", default="2,4,6", help="concurrent users per step")
    ap.add_argument("--step-s", type=float, default=30.0, help="seconds per step")
    ap.add_argument("--barge-in", type=float, default=0.2, help="share of voice turns cut")
    ap.add_argument("--max-tokens", type=int, default=60)
    ap.add_argument("--budget-ms", type=float, default=2000.0)
    ap.add_argument("--url", default="", help="a running server (else one is started here)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    out = args.out or ROOT / "var" / "loadtest" / f"{args.users}-{time.strftime('%Y%m%d-%H%M%S')}"
    speech.questions(), speech.interjection(), speech.story()  # made (cached) before the clock
    proc, url = (None, args.url) if args.url else start_server()
    try:
        wait_up(url, proc)
        t0 = time.time()
        load0 = os.getloadavg()
        rc = locust(url, out, CLASSES[args.users], steps=args.steps, step_s=args.step_s,
                    barge_in=args.barge_in, max_tokens=args.max_tokens)
        perf = httpx.get(url + "/api/performance", timeout=10).json()["data"]
    finally:
        stop_server(proc)
    load1 = os.getloadavg()
    print(f"\n{args.users} users, steps {args.steps} x {args.step_s:g} s, {os.cpu_count()} cores, "
          f"{time.time() - t0:.0f} s; load average (1/5/15 min) at the start "
          f"{'/'.join(f'{x:.2f}' for x in load0)}, at the end {'/'.join(f'{x:.2f}' for x in load1)}")
    print(f"server /api/performance: {perf}")
    summary = report.main([str(out), "--budget-ms", str(args.budget_ms), "--steps", args.steps,
                           "--title",
                           f"{args.users} users on {os.cpu_count()} cores (embedded engines)"])
    print(f"report: {out}/report.html, {out}/report.png")
    return 1 if rc or summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
