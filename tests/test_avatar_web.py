"""Avatar creation in the browser, end to end (one Chromium run): a real photo is dropped on the
page, a style picked, every step watched, the result previewed with its clips, a viseme and a
blink, given to a new character and talked to; the job's VRM loads in @pixiv/three-vrm with its
humanoid bones and expressions, without warnings. A screenshot of the preview is kept in
``var/artifacts/web-avatar-preview.png``."""

from __future__ import annotations

import pytest

from tests import avatar_photos as photos
from tests.web_e2e import artifacts_dir, ensure_web_built, run_node

pytestmark = pytest.mark.slow
VRM_REQUIRED = {"hips", "spine", "head", "leftUpperArm", "leftLowerArm", "leftHand",
                "rightUpperArm", "rightLowerArm", "rightHand", "leftUpperLeg", "leftLowerLeg",
                "leftFoot", "rightUpperLeg", "rightLowerLeg", "rightFoot"}


def test_photo_to_avatar_to_conversation_in_the_browser(live, tmp_path):
    ensure_web_built()
    photo = tmp_path / "astronaut.png"
    photo.write_bytes(photos.astronaut())
    shot = artifacts_dir() / "web-avatar-preview.png"
    shot.unlink(missing_ok=True)
    r = run_node("create.mjs", live.url, str(photo), str(shot), timeout=420)
    assert r["consoleErrors"] == [] and r["vrmErrors"] == []

    job = r["created"]["job"]
    assert job["status"] == "completed" and job["resultUrl"] == f"/api/models/{job['jobId']}.glb"
    assert r["created"]["steps"] == ["style", "build", "rig", "face", "clips", "export", "check",
                                     "thumbnail"], r["created"]["steps"]
    assert r["stepShown"] == "done" and job["progress"] == 100 and job["thumbnailUrl"]

    # previewed in the stage: the file's clips, a held viseme, a blink
    assert r["rig"]["kind"] == "glb" and r["rig"]["mouth"] == "15 viseme morphs"
    assert set(r["rig"]["clips"]) >= {"idle", "talk"}
    assert r["talkMouth"] > 0.3  # the talk clip moves the mouth morphs
    assert r["aa"]["viseme_aa"] > 0.8 and r["aa"]["viseme_O"] < 0.05
    assert r["preview"]["blink"] is True and shot.is_file()

    # a new character wears it, and talking to it moves its mouth
    session, avatar = r["character"]["session"], r["character"]["avatar"]
    assert session["character_name"] == "Eileen" and avatar["url"] == job["resultUrl"]
    assert r["assistant"]["status"] == "completed" and r["assistant"]["text"].strip()
    assert r["answerMouth"] > 0.3

    # the VRM: three-vrm finds the humanoid and the expressions, and says nothing
    vrm = r["vrm"]
    assert vrm["avatar"]["status"] == "ready", vrm
    assert vrm["rig"]["kind"] == "vrm" and vrm["rig"]["mouth"] == "VRM expressions aa ih ou ee oh"
    assert VRM_REQUIRED <= set(vrm["rig"]["vrm"]["bones"])
    assert {"aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight"} <= set(
        vrm["rig"]["vrm"]["expressions"])
    vrm_said = [w for w in r["vrmWarnings"] if "VRM" in w or "vrm" in w]
    assert vrm_said == [], vrm_said
