"""Shared by the benchmarks: percentiles, starting the server, waiting for it, /metrics."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.wsclient import Client  # noqa: E402


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def row(name: str, values: list[float], width: int = 40, fmt: str = "8.1f") -> str:
    return (f"{name:{width}s} {pct(values, 50):{fmt}} {pct(values, 90):{fmt}} "
            f"{pct(values, 99):{fmt}}   (n={len(values)})")


def start_server(**env_overrides: str) -> tuple[subprocess.Popen, str]:
    """``python -m realtime`` on a free port with the embedded engines (+ ``AVATAR_*`` overrides)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "AVATAR_STORAGE_DIR": tempfile.mkdtemp(prefix="bench-")}
    voice = ROOT / "var" / "models" / "en_US-joe-medium.aligned.onnx"
    if voice.exists():
        env["AVATAR_TTS_PIPER_VOICE_PATH"] = str(voice)
    whisper = ROOT / "var" / "models" / "whisper-base-ct2"
    if whisper.is_dir():  # (assembled by the install step; else the server joins it again)
        env["AVATAR_STT_MULTILINGUAL_MODEL"] = str(whisper)
    env.update({f"AVATAR_{k.upper()}": v for k, v in env_overrides.items()})
    proc = subprocess.Popen([sys.executable, "-m", "realtime", "--port", str(port),
                             "--log-level", "warning"], cwd=ROOT, env=env)
    return proc, f"ws://127.0.0.1:{port}/ws"


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (the embedded llama.cpp server is
    a child), in MB, from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


def rss_split(pid: int) -> tuple[float, float]:
    """(the process's own RSS, its descendants'), in MB."""
    total = rss_mb(pid)
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            own = int(line.split()[1]) / 1024
            return own, total - own
    return 0.0, total


def stop_server(proc: subprocess.Popen | None) -> None:
    if proc is not None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def serve_and_run(url: str, run, **server_env: str) -> None:
    """``run(url)`` (a coroutine function) against ``url``, or, when it is empty, against a
    server started here (``python -m realtime`` with ``AVATAR_*`` overrides) and stopped after."""
    proc = None
    if not url:
        proc, url = start_server(**server_env)
    try:
        asyncio.run(wait_up(url))
        asyncio.run(run(url))
    finally:
        stop_server(proc)


async def wait_up(url: str, timeout: float = 180) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            c = await Client.connect(url)
            await c.close()
            return
        except Exception:  # noqa: BLE001 - not up yet
            if time.monotonic() > end:
                raise
            await asyncio.sleep(0.5)


async def stream_frames(c: Client, pcm: np.ndarray, frame: int, marked: int,
                        rate: int = 16000) -> float:
    """Send int16 ``pcm`` as real-time binary frames of ``frame`` samples; returns the send time
    (perf_counter) of the frame holding sample ``marked`` (e.g. the first or last voiced one)."""
    t0 = time.perf_counter()
    t_mark = t0
    for i, a in enumerate(range(0, len(pcm), frame)):
        delay = t0 + i * frame / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await c.ws.send(pcm[a:a + frame].tobytes())
        if a <= marked < a + frame:
            t_mark = time.perf_counter()
    return t_mark


def http_url(ws_url: str) -> str:
    return ws_url.replace("ws://", "http://").removesuffix("/ws")
