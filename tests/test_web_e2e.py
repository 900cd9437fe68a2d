"""The browser client end to end: Debian's Chromium (headless, through playwright-core) against
the real server on the embedded engines (llama.cpp SmolLM2, Piper, Whisper tiny.en, Silero VAD).
The page's test hook (``?test``: ``window.__avatarTest``) reports what really happened in it:
samples handed to and played out by the AudioContext, the avatar's mouth morph values, states.
A screenshot of the page mid-answer is kept in ``var/artifacts/web-mid-answer.png``."""

from __future__ import annotations

import contextlib

import pytest

from realtime.app import create_app
from tests.conftest import embedded_settings
from tests.serving import free_port, serve
from tests.speech import wer
from tests.web_e2e import NodeSession, artifacts_dir, ensure_web_built, run_node, speech_wav

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def web(live):
    ensure_web_built()
    return live


def test_typed_message_streams_plays_and_moves_the_mouth(web):
    shot = artifacts_dir() / "web-mid-answer.png"
    shot.unlink(missing_ok=True)
    r = run_node("typed.mjs", web.url, str(shot), timeout=360)
    assert r["consoleErrors"] == [] and r["errors"] == []

    # the answer streamed into the page: the bubble grew while the response was still running
    answer = r["assistant"]
    assert answer["status"] == "completed" and answer["text"].strip()
    lengths = r["streamed"][str(answer["responseId"])]
    assert len([n for n in lengths if n > 0]) >= 3, lengths
    assert answer["text"].splitlines()[0] in r["bubbleText"]

    # every sample the server announced reached the AudioContext and played to its end
    audio, total = r["audio"], r["counters"]["audioDone"][str(answer["responseId"])]
    assert total > 24000 * 0.5  # at least half a second of speech
    assert audio["samplesScheduled"] == total and audio["samplesPlayed"] == total, (audio, total)
    assert audio["outputPeak"] > 0.05  # and was audible at the output (AnalyserNode)
    assert audio["context"] == "running" and audio["flushes"] == 0
    assert r["counters"]["marksSent"] >= 2  # playback.mark while playing

    # the mouth moved during playback (morph values on the model) and rests afterwards
    assert r["restBefore"] == 0
    assert r["maxMouth"] > 0.6 and r["shotJaw"] >= 0.45
    assert r["mouthAfter"] < 0.02 and max(r["morphsAfter"].values()) < 0.02, r["morphsAfter"]
    assert r["rig"] == {"kind": "glb", "mouth": "15 viseme morphs", "clips": ["idle", "talk"],
                        "vrm": None}
    assert r["activityMid"] == "speaking" and r["activityAfter"] == "idle"
    assert r["latency"]["serverMs"] > 0 and r["latency"]["heardMs"] >= r["latency"]["serverMs"] - 50
    assert shot.is_file() and shot.stat().st_size > 20_000

    # the stop button (response.cancel) silences a playing answer at once and closes the mouth
    stop = r["stop"]
    before, after = stop["beforeStop"], stop["afterStop"]
    assert before["playing"] and not after["playing"] and after["flushes"] == 1
    cut = after["lastFlush"]
    assert cut["responseId"] == stop["stopped"]["responseId"] and cut["droppedSamples"] > 0
    # what played of the stopped answer ends where the stop was: no queued chunk played after it
    played = after["samplesPlayed"] - total
    assert 0 < played <= cut["positionSamples"], (played, cut)
    assert stop["mouthAfterStop"] < 0.05
    assert stop["stopped"]["status"] == "interrupted"
    assert stop["counters"]["events"].get("response.interrupted") == 1


def test_spoken_question_from_a_fake_microphone_is_answered(web, piper_voice, tmp_path):
    question = "What is the capital of France?"
    wav = tmp_path / "question.wav"
    speech_wav(piper_voice, question, wav)
    r = run_node("voice.mjs", web.url, str(wav), timeout=300)
    assert r["errors"] == [] and r["consoleErrors"] == [], (r["errors"], r["consoleErrors"])
    assert r["mic"]["state"] == "on"
    # 20 ms frames went out, the level meter moved, the server heard speech and transcribed it
    assert r["counters"]["micFramesSent"] > 100
    assert r["micLevelMax"] > 0.3
    assert r["counters"]["events"].get("vad.speech_started", 0) >= 1
    assert wer(question, r["transcript"]) <= 0.25, r["transcript"]
    assert r["transcript"] in r["userBubble"]
    # the avatar answered aloud
    assert r["answer"]["status"] == "completed" and r["answer"]["text"].strip()
    assert r["audio"]["samplesPlayed"] > 24000 * 0.5
    assert r["maxMouth"] > 0.5
    assert r["latency"]["source"] == "voice" and r["latency"]["serverMs"] > 0
    # the states a person saw, in order
    seen = r["activities"]
    for a, b in [("listening", "user_speaking"), ("user_speaking", "thinking"), ("thinking", "speaking")]:
        assert a in seen and b in seen[seen.index(a):], seen


def test_page_reconnects_when_the_server_comes_back(tmp_path):
    ensure_web_built()
    port = free_port()
    session = None
    with contextlib.ExitStack() as stack:
        first = contextlib.ExitStack()
        url = first.enter_context(serve(create_app(embedded_settings(tmp_path)), port=port))
        session = NodeSession("reconnect.mjs", url)
        stack.callback(session.close)
        session.expect("ready", timeout=60)
        first.close()  # the server stops mid-session
        session.send("stopped")
        down = session.expect("reconnecting", timeout=60)
        assert "reconnecting" in down["reconnectingText"].lower(), down
        assert "unreachable" in down["reconnectingText"].lower(), down
        assert "OFFLINE" in down["errorText"]  # typed while offline: refused visibly
        assert down["attemptsWhileDown"] >= 2  # it keeps trying (exponential backoff)
        stack.enter_context(serve(create_app(embedded_settings(tmp_path)), port=port))
        session.send("restarted")
        done = session.expect("done", timeout=180)
    assert done["link"]["state"] == "open" and done["link"]["attempt"] == 0
    assert done["reconnectMs"] < 15_000  # backoff is capped at 10 s
    assert any("Reconnected" in n for n in done["notes"]), done["notes"]
    assert done["answer"]["text"].strip()
    assert done["counters"]["events"]["session.ready"] == 2
    # the only console errors: connections refused while the server was down (the WebSocket's
    # retries, and a load the page had begun, e.g. the avatar model, as the server went away)
    assert all("WebSocket" in e or "ERR_CONNECTION_REFUSED" in e
               for e in done["consoleErrors"]), done["consoleErrors"]


def test_vrm_avatar_loads_and_speaks_through_vrm_expressions(web, tmp_path):
    import subprocess
    import sys

    from tests.web_e2e import REPO

    subprocess.run([sys.executable, "-m", "avatar_engine.template", str(tmp_path), "--vrm"],
                   check=True, capture_output=True, timeout=120, cwd=REPO)
    r = run_node("vrm.mjs", web.url, str(tmp_path / "default.vrm"), timeout=180)
    assert r["consoleErrors"] == []
    rig = r["rig"]
    assert {k: rig[k] for k in ("kind", "mouth")} == {
        "kind": "vrm", "mouth": "VRM expressions aa ih ou ee oh"}
    assert rig["clips"] == ["idle", "talk"]
    # three-vrm found the humanoid's required bones and the mouth and blink expressions
    assert {"hips", "spine", "head", "leftUpperArm", "rightUpperLeg"} <= set(rig["vrm"]["bones"])
    assert {"aa", "ih", "ou", "ee", "oh", "blink"} <= set(rig["vrm"]["expressions"])
    assert r["shapes"]["aa"]["aa"] > 0.8 and r["shapes"]["aa"]["oh"] < 0.05
    assert r["shapes"]["oh"]["oh"] > 0.8 and r["shapes"]["oh"]["aa"] < 0.05
    # E maps to ee 0.8 + aa 0.2 (docs/visemes.md, Oculus -> VRM)
    assert r["shapes"]["E"]["ee"] == pytest.approx(0.8, abs=0.05)
    assert r["shapes"]["E"]["aa"] == pytest.approx(0.2, abs=0.05)
    assert max(r["rest"].values()) < 0.02
    assert "default.vrm" in r["status"]


def test_korean_renders_as_hangul_and_the_model_language_is_told(web):
    """Headless Chromium has no CJK font: Hangul comes from the bundled Noto Sans KR subset (two
    different syllables draw differently; with the system fonts alone they are the same empty
    box). The embedded model answers well only in English, and the page says so for a Korean
    character instead of pretending."""
    r = run_node("korean.mjs", web.url, timeout=180)
    g = r["glyphs"]
    assert "Noto Sans KR" in g["family"] and g["loaded"], g
    assert g["pageDiffers"] and g["pageInk"] > 20, g
    assert not g["bareDiffers"], "this machine has a CJK font: the check above proves nothing"
    assert r["note"] and "English" in r["note"] and "Korean" in r["note"], r["note"]
    assert r["consoleErrors"] == []
