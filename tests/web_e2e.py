"""Helpers for the browser-client tests: build client-web once per session (``scripts/web.sh``),
run its Node scripts (``client-web/e2e/*.mjs``: headless Debian Chromium through playwright-core)
and read the JSON they print, make speech WAVs for the fake microphone."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
WEB = REPO / "client-web"
ARTIFACTS = REPO / "var" / "artifacts"
# the browser renders WebGL on the CPU: keep it below the server's engines in priority, so the
# turns measured here are not slowed by the page's own drawing (llama.cpp already runs at +10)
BROWSER_NICE = 15

_built = False


def ensure_web_built() -> Path:
    """``bash scripts/web.sh --test`` (a no-op taking < 1 s when nothing changed): npm packages,
    the production build served at /, and Chromium + Mesa. Failing here fails the test."""
    global _built
    if not _built:
        proc = subprocess.run(["bash", str(REPO / "scripts" / "web.sh"), "--test"], cwd=REPO,
                              capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, f"scripts/web.sh --test failed:\n{proc.stdout}\n{proc.stderr}"
        _built = True
    dist = WEB / "dist"
    assert (dist / "index.html").is_file()
    return dist


def node_bin() -> str:
    found = shutil.which("node") or str(REPO / ".venv" / "bin" / "node")
    assert Path(found).exists(), "Node.js not found (bash scripts/web.sh installs it)"
    return found


def _command(script: str, *args: str) -> list[str]:
    return ["nice", "-n", str(BROWSER_NICE), node_bin(), str(WEB / "e2e" / script), *args]


def run_node(script: str, *args: str, timeout: float = 300) -> dict:
    """Run an e2e script to its end; returns its last JSON line (asserting ``ok``)."""
    proc = subprocess.run(_command(script, *args), cwd=WEB, capture_output=True, text=True,
                          timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"{script} printed no result (rc {proc.returncode}):\n{proc.stderr[-4000:]}"
    result = json.loads(lines[-1])
    assert proc.returncode == 0 and result.get("ok"), (
        f"{script} failed: {result.get('error')}\n--- progress:\n{proc.stderr[-4000:]}")
    return result


class NodeSession:
    """An e2e script driven step by step: it prints ``{"phase": ...}`` lines and waits for lines
    on stdin (the test stops and restarts the server in between)."""

    def __init__(self, script: str, *args: str) -> None:
        self.proc = subprocess.Popen(_command(script, *args), cwd=WEB, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._collect, daemon=True).start()

    @staticmethod
    def _pump(stream, q: queue.Queue) -> None:
        for line in stream:
            q.put(line)
        q.put(None)

    def _collect(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)

    def expect(self, phase: str, timeout: float = 120) -> dict:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {phase!r} within {timeout} s:\n{''.join(self.stderr[-40:])}")
            if line is None:
                raise AssertionError(f"script ended before {phase!r}:\n{''.join(self.stderr[-40:])}")
            if not line.startswith("{"):
                continue
            msg = json.loads(line)
            assert msg.get("ok", True), f"script failed: {msg.get('error')}\n{''.join(self.stderr[-40:])}"
            if msg.get("phase") == phase:
                return msg

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def speech_wav(voice, text: str, path: Path, lead_s: float = 1.0, tail_s: float = 3.0) -> np.ndarray:
    """``text`` spoken by Piper at 16 kHz, padded with silence, written as a PCM16 WAV (what
    Chromium's fake microphone plays). Returns the float samples."""
    from tests.speech import SR, piper_16k

    audio = np.concatenate([np.zeros(int(lead_s * SR), np.float32), piper_16k(voice, text),
                            np.zeros(int(tail_s * SR), np.float32)])
    sf.write(path, audio, SR, subtype="PCM_16")
    return audio


def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
