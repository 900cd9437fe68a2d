"""The Unity bridge (unity-bridge/): its engine-free C# core built with Debian's Mono and tested
with NUnit against the real server, its generated code and test vectors kept in step with the
one protocol definition and the web client, and the console sample (`AvatarConsole.exe`, the
same core) completing a typed and a spoken turn with the server's embedded engines.

The Unity layer is only type-checked (build.sh compiles it against a stub of UnityEngine)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from realtime.auth import mint
from tests.speech import wer
from tests.web_e2e import ensure_web_built, node_bin

REPO = Path(__file__).resolve().parent.parent
BRIDGE = REPO / "unity-bridge"
TOOLS = BRIDGE / "Tools~"
BUILD = BRIDGE / "build"
TOKEN_SECRET = "unity-bridge-test-secret-0123456789abcdef"


def run(cmd: list[str], timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def built() -> Path:
    """``bash unity-bridge/build.sh``: Mono when missing, then the core, tests, console and the
    stub-checked Unity layer. A compile error anywhere fails here."""
    proc = run(["bash", str(BRIDGE / "build.sh")], timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    for name in ("AvatarRealtime.Core.dll", "AvatarRealtime.Tests.dll", "AvatarConsole.exe",
                 "AvatarRealtime.dll", "AvatarRealtime.Vrm.dll", "AvatarRealtime.PlayModeTests.dll"):
        assert (BUILD / name).is_file(), name
    return BUILD


# --------------------------------------------------------------------- one definition, in step
def test_csharp_protocol_types_are_generated_from_the_current_schema():
    proc = run([sys.executable, str(TOOLS / "gen_protocol.py"), "--check"])
    assert proc.returncode == 0, proc.stderr


def test_codec_vectors_are_what_the_python_protocol_writes_today():
    proc = run([sys.executable, str(TOOLS / "make_vectors.py"), "--check"])
    assert proc.returncode == 0, proc.stderr


def test_viseme_vectors_are_what_the_web_client_computes_today():
    ensure_web_built()  # client-web's node_modules (esbuild) bundles its TypeScript
    proc = run([node_bin(), str(TOOLS / "ts_visemes.mjs"), "--check"], cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_package_asset_has_a_unity_meta_file():
    proc = run([sys.executable, str(TOOLS / "gen_meta.py"), "--check"])
    assert proc.returncode == 0, proc.stderr


def test_package_manifest_and_assembly_definitions():
    pkg = json.loads((BRIDGE / "package.json").read_text())
    assert pkg["name"].startswith("com.") and pkg["unity"] >= "2021.3"
    for sample in pkg["samples"]:
        assert (BRIDGE / sample["path"]).is_dir()
    core = json.loads((BRIDGE / "Runtime/Core/AvatarRealtime.Core.asmdef").read_text())
    assert core["noEngineReferences"] is True and core["references"] == []
    runtime = json.loads((BRIDGE / "Runtime/AvatarRealtime.asmdef").read_text())
    assert "AvatarRealtime.Core" in runtime["references"]
    for tests in ("Tests/Editor/AvatarRealtime.Tests.asmdef",
                  "Tests/Runtime/AvatarRealtime.PlayModeTests.asmdef"):
        asm = json.loads((BRIDGE / tests).read_text())
        assert asm["defineConstraints"] == ["UNITY_INCLUDE_TESTS"]
        assert asm["precompiledReferences"] == ["nunit.framework.dll"]
    # the engine-free core really is: no UnityEngine anywhere in it
    for cs in (BRIDGE / "Runtime/Core").rglob("*.cs"):
        assert "UnityEngine" not in cs.read_text(), cs


# --------------------------------------------------------------------- NUnit, against the server
def test_nunit_suite_passes_against_the_real_server(built, live, second_app, capsys):
    """Codec (vectors), JSON, jitter buffer, visemes (vs the web client), microphone path,
    session client vs a stand-in (bad frames, refusals, retry_after, order, close) and vs the
    real server (turn, cancel, resume after a dropped connection, back-off, tokens: a second
    app in token mode)."""
    result = BUILD / "TestResult.xml"
    result.unlink(missing_ok=True)
    with second_app(auth_mode="token", auth_secret=TOKEN_SECRET) as (token_url, _app):
        env = {**os.environ, "AVATAR_TEST_WS_URL": live.ws,
               "AVATAR_TEST_TOKEN_WS_URL": token_url.replace("http://", "ws://") + "/ws",
               "AVATAR_TEST_TOKEN": mint(TOKEN_SECRET, "unity-tester", 600)}
        started = time.monotonic()
        proc = run(["nunit-console", "-nologo", "-noshadow", "AvatarRealtime.Tests.dll",
                    f"-xml={result}"], cwd=BUILD, env=env, timeout=600)
    assert result.is_file(), proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = run([sys.executable, str(TOOLS / "nunit_summary.py"), str(result)])
    with capsys.disabled():
        print(f"\n{summary.stdout.strip()}  (C# core, Mono, {time.monotonic() - started:.1f} s)")
    assert summary.returncode == 0 and proc.returncode == 0, summary.stdout + proc.stdout[-3000:]
    passed = int(summary.stdout.rsplit("NUnit: ", 1)[1].split()[0])
    assert passed >= 90


# --------------------------------------------------------------------- the console sample
def console(built: Path, live, tmp_path: Path, *args: str, timeout: float = 240):
    out, events, mouth = tmp_path / "reply.wav", tmp_path / "events.jsonl", tmp_path / "mouth.csv"
    proc = run(["mono", str(built / "AvatarConsole.exe"), "--url", live.ws, *args, "--out", str(out),
                "--events", str(events), "--mouth", str(mouth)], timeout=timeout)
    assert proc.returncode == 0, f"rc {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    evs = [json.loads(line) for line in events.read_text().splitlines()]
    with mouth.open() as f:
        rows = list(csv.DictReader(f))
    return proc, out, evs, rows


def check_turn(out: Path, evs: list[dict], rows: list[dict], stdout: str) -> dict:
    """The acceptance checks common to both turns; returns the response.done."""
    types = [e["type"] for e in evs]
    done = [e for e in evs if e["type"] == "response.done"]
    assert len(done) == 1 and done[0]["status"] == "completed", done
    rid = done[0]["response_id"]
    audio_done = next(e for e in evs if e["type"] == "response.audio.done")
    frames = [e for e in evs if e["type"] == "audio"]
    assert {"response.visemes", "avatar.animation", "response.audio.done"} <= set(types)
    actions = [e["action"] for e in evs if e["type"] == "avatar.animation"]
    assert actions[0] == "talk_start" and actions[-1] == "talk_end", actions
    # the reply WAV is the answer's audio: its length is what audio.done says, sample for sample
    pcm, rate = sf.read(out, dtype="int16")
    ready = next(e for e in evs if e["type"] == "session.ready")
    assert rate == ready["output_sample_rate"]
    assert len(pcm) == audio_done["total_samples"] == sum(f["samples"] for f in frames)
    assert abs(len(pcm) / rate * 1000 - audio_done["duration_ms"]) < 1.0
    assert all(f["response_id"] == rid for f in frames)
    assert np.abs(pcm.astype(np.int32)).max() > 1000, "the reply is not silence"

    # the core's viseme timeline drove the mouth while the audio played, and rest after
    visemes = [v for e in evs if e["type"] == "response.visemes" for v in e["visemes"]]
    playing = [r for r in rows if r["playback"] == "playing" and r["position_ms"]]
    assert len(playing) > 20, "the virtual device played the answer"

    def in_open_viseme(pos: float) -> bool:
        return any(v["viseme"] != "sil" and v["weight"] >= 0.6 and v["duration_ms"] >= 40
                   and v["t_ms"] + 30 <= pos < v["t_ms"] + v["duration_ms"] for v in visemes)

    mouthing = [r for r in playing if in_open_viseme(float(r["position_ms"]))]
    assert mouthing, "no tick fell inside a viseme"
    moving = sum(float(r["max_weight"]) > 0.1 for r in mouthing) / len(mouthing)
    assert moving >= 0.9, f"mouth open in only {moving:.0%} of the ticks inside visemes"
    assert max(float(r["max_weight"]) for r in playing) > 0.5
    assert sum(r["talking"] == "1" for r in playing) / len(playing) > 0.95
    ended = [r for r in rows if r["playback"] == "ended"]
    assert ended, "playback reached the end of the audio"
    end_ms = float(ended[0]["clock_ms"])
    rest = [r for r in ended if float(r["clock_ms"]) > end_ms + 300]
    assert rest and all(float(r["max_weight"]) < 0.01 and r["talking"] == "0" for r in rest)
    assert float(rows[-1]["max_weight"]) == 0.0, "the mouth is back at rest"
    marks = int(stdout.split("marks sent ")[1].split()[0])
    assert marks >= audio_done["duration_ms"] / 250 * 0.5, stdout
    return done[0]


def test_console_typed_turn(built, live, tmp_path):
    proc, out, evs, rows = console(built, live, tmp_path, "--text", "Hello! How are you today?")
    done = check_turn(out, evs, rows, proc.stdout)
    started = next(e for e in evs if e["type"] == "response.started")
    assert started["source"] == "text" and done["text"]


def test_console_spoken_turn(built, live, piper_voice, tmp_path):
    """A Piper-spoken question as a 22.05 kHz stereo WAV: resampled to 16 kHz and streamed as
    20 ms frames in real time, then silence until the server's VAD ends the turn."""
    question = "What is the capital of France?"
    chunks = list(piper_voice.synthesize(question))
    audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
    assert chunks[0].sample_rate == 22050
    wav = tmp_path / "question.wav"
    sf.write(wav, np.stack([audio, audio * 0.8], axis=1), 22050, subtype="PCM_16")
    proc, out, evs, rows = console(built, live, tmp_path, "--wav", str(wav))
    final = [e for e in evs if e["type"] == "transcript.final"]
    assert len(final) == 1, [e["type"] for e in evs if e["type"] != "audio"]
    assert wer(question, final[0]["text"]) <= 0.34, final[0]["text"]
    started = next(e for e in evs if e["type"] == "response.started")
    assert started["source"] == "voice" and started["utterance_id"] == final[0]["utterance_id"]
    check_turn(out, evs, rows, proc.stdout)
    assert "sent" in proc.stdout and "of speech" in proc.stdout


def test_console_says_what_is_wrong(built, tmp_path):
    proc = run(["mono", str(built / "AvatarConsole.exe"), "--url", "ws://127.0.0.1:9/ws",
                "--out", str(tmp_path / "r.wav")])
    assert proc.returncode == 64 and "exactly one of --text and --wav" in proc.stderr
    proc = run(["mono", str(built / "AvatarConsole.exe"), "--url", "ws://127.0.0.1:9/ws",
                "--text", "hi", "--out", str(tmp_path / "r.wav")], timeout=60)
    assert proc.returncode == 3 and "cannot connect" in proc.stderr, proc.stderr
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    proc = run(["mono", str(built / "AvatarConsole.exe"), "--url", "ws://127.0.0.1:9/ws",
                "--wav", str(bad), "--out", str(tmp_path / "r.wav")])
    assert proc.returncode == 3 and "not a RIFF/WAVE file" in proc.stderr, proc.stderr
