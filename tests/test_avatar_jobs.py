"""Avatar jobs through the real server (Redis queue with SAQ, MongoDB wire server, the job
process): a photo becomes a validated, rigged, talking avatar whose colours are the photo's;
bad uploads get clear errors; progress reaches the owner's WebSocket; cancel stops the work;
style transforms; jobs are private to their owner."""

from __future__ import annotations

import asyncio
import io
import json

import httpx
import numpy as np
import orjson
import pytest
import websockets
from PIL import Image

from avatar_engine.checks import rules
from avatar_engine.checks.read import load
from realtime.store.long_mongo import MongoLongTermStore
from tests import avatar_photos as photos

STEPS = ["style", "build", "rig", "face", "clips", "export", "check", "thumbnail"]


async def _events_until_done(ws, job_id: str, timeout: float = 150.0) -> list[dict]:
    seen = []
    async with asyncio.timeout(timeout):
        while True:
            msg = orjson.loads(await ws.recv())
            if msg.get("job_id") != job_id:
                continue
            seen.append(msg)
            if msg["type"] == "job.done":
                return seen


async def _post(url: str, photo: bytes, options: dict | None = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as http:
        files = {"image": ("photo.png", photo, "image/png")}
        form = {"options": json.dumps(options)} if options is not None else {}
        return await http.post(url, files=files, data=form)


async def test_astronaut_becomes_a_validated_avatar_with_her_colours(live, gltf_validator,
                                                                   mongo_server, tmp_path):
    async with websockets.connect(live.ws) as ws:
        assert orjson.loads(await ws.recv())["type"] == "session.ready"
        r = await _post(live.url + "/api/generate", photos.astronaut(),
                        {"style": "cartoon", "vrm": True, "hair": "short"})
        assert r.status_code == 202, r.text
        accepted = r.json()["data"]
        job_id = accepted["job_id"]
        assert accepted["status_url"] == f"/api/generate/status/{job_id}"
        assert accepted["estimated_time"] > 0
        events = await _events_until_done(ws, job_id)
    steps = [e["current_step"] for e in events if e["type"] == "job.progress"]
    assert [s for s in dict.fromkeys(steps)] == STEPS  # every step, in order, pushed live
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 100
    assert events[-1]["status"] == "completed"
    assert events[-1]["result_url"] == f"/api/models/{job_id}.glb"

    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        status = (await http.get(accepted["status_url"])).json()["data"]
        assert status["status"] == "completed" and status["error"] is None
        assert status["steps_done"] == ["validate", "detect", *STEPS]
        assert any("toon filter" in n for n in status["notes"])  # says what it did
        glb = (await http.get(status["result_url"])).content
        vrm = (await http.get(status["result"]["vrm_url"])).content
        thumb = await http.get(status["result"]["thumbnail_url"])
    for name, blob in (("job.glb", glb), ("job.vrm", vrm)):
        (tmp_path / name).write_bytes(blob)
        report = await gltf_validator.validate(tmp_path / name)
        assert (report["errors"], report["warnings"]) == (0, 0), report["messages"]
        verdict = rules.check(blob, vrm=name.endswith("vrm"))
        assert verdict["ok"], verdict["problems"]
        assert verdict["stats"]["bytes"] <= 5 * 2**20 and verdict["stats"]["triangles"] <= 32000
    assert thumb.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(thumb.content)).size == (256, 256)

    # her colours: the skin texture's plain skin and the Hair material vs patches of the photo
    gl = load(glb)
    hair = next(m for m in gl.materials if m.name == "Hair").pbrMetallicRoughness.baseColorFactor
    hair_srgb = np.where(np.array(hair[:3]) <= 0.0031308, np.array(hair[:3]) * 12.92,
                         1.055 * np.array(hair[:3]) ** (1 / 2.4) - 0.055)
    bv = gl.bufferViews[gl.images[0].bufferView]
    tex = np.asarray(Image.open(io.BytesIO(gl.binary_blob()[bv.byteOffset:bv.byteOffset
                                                             + bv.byteLength])).convert("RGB"))
    skin_srgb = tex[2, 2] / 255.0  # the rim: plain skin
    photo_skin, photo_hair = photos.patch_colour(photos.SKIN_PATCHES), \
        photos.patch_colour(photos.HAIR_PATCHES)
    assert photos.delta_e(skin_srgb, photo_skin) < 6.0
    assert photos.delta_e(hair_srgb, photo_hair) < 10.0
    # ... and not the defaults they replaced
    assert photos.delta_e((0.36, 0.22, 0.16), photo_hair) > 20.0
    assert photos.delta_e(skin_srgb, photo_skin) < photos.delta_e((0.98, 0.80, 0.68), photo_skin)

    # the photo and every intermediate are gone; the results stay
    store = MongoLongTermStore(mongo_server.url, database="live")
    try:
        for name in ("photo", "face.json", "styled.png", "avatar"):
            assert await store.get_blob(f"{job_id}/{name}") is None, name
        assert await store.get_blob(f"{job_id}/model.glb") == glb
    finally:
        await store.close()


@pytest.mark.parametrize("photo,status,code", [
    (b"%PDF-1.7 not an image at all", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b"\xff\xd8\xff" + bytes(11 * 2**20), 413, "PAYLOAD_TOO_LARGE"),
    ("truncated", 400, "INVALID_IMAGE"),
    ("garbled", 400, "INVALID_IMAGE"),
    ("bomb", 413, "IMAGE_TOO_LARGE"),
    ("chelsea", 422, "NO_FACE_DETECTED"),
    ("two_faces", 422, "MULTIPLE_FACES"),
])
async def test_bad_uploads_get_clear_errors(live, photo, status, code):
    data = getattr(photos, photo)() if isinstance(photo, str) else photo
    r = await _post(live.url + "/api/generate", data)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    assert r.json()["success"] is False


async def test_bad_requests(live):
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        r = await http.post("/api/generate", content=photos.astronaut(),
                            headers={"content-type": "image/png"})
        assert (r.status_code, r.json()["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
        r = await http.post("/api/generate", files={"image": ("a.png", photos.astronaut())},
                            data={"options": '{"style": "watercolour"}'})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
        r = await http.post("/api/generate", files={"photo": ("a.png", photos.astronaut())})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
        r = await http.post("/api/style/transform", files={"image": ("a.png", b"GIF89a....")},
                            data={"style_preset": "anime"})
        assert (r.status_code, r.json()["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
        r = await http.post("/api/style/transform", files={"image": ("a.png", photos.astronaut())},
                            data={"style_preset": "oil-painting"})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
        for path in ("/api/generate/status/" + "0" * 32, "/api/models/" + "0" * 32 + ".glb",
                     "/api/style/status/" + "0" * 32):
            r = await http.get(path)
            assert (r.status_code, r.json()["error"]["code"]) == (404, "NOT_FOUND"), path


async def test_cancel_stops_the_work_and_cleans_up(live, mongo_server):
    async with websockets.connect(live.ws) as ws:
        assert orjson.loads(await ws.recv())["type"] == "session.ready"
        r = await _post(live.url + "/api/generate", photos.astronaut(), {"style": "anime"})
        job_id = r.json()["data"]["job_id"]
        async with asyncio.timeout(60):
            while True:  # cancel as soon as the worker has started on it
                msg = orjson.loads(await ws.recv())
                if msg.get("job_id") == job_id and msg["type"] == "job.progress":
                    break
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            r = await http.delete(f"/api/generate/status/{job_id}")
            assert r.status_code == 200 and r.json()["data"]["status"] == "cancelled"
            done = (await _events_until_done(ws, job_id))[-1]
            assert done["status"] == "cancelled"
            status = (await http.get(f"/api/generate/status/{job_id}")).json()["data"]
            assert status["status"] == "cancelled" and status["result_url"] is None
            assert "thumbnail" not in status["steps_done"]
            assert (await http.get(f"/api/models/{job_id}.glb")).status_code == 404
            # cancelling again, or after the end, changes nothing
            assert (await http.delete(f"/api/generate/status/{job_id}")).json()["data"][
                "status"] == "cancelled"
    store = MongoLongTermStore(mongo_server.url, database="live")
    try:
        doc = await store.get_job(job_id)
        assert doc["stopped_at"] >= doc["cancel_requested_at"]  # the worker confirmed the stop
        for name in ("photo", "face.json", "styled.png", "avatar", "model.glb"):
            assert await store.get_blob(f"{job_id}/{name}") is None, name
    finally:
        await store.close()


async def test_style_transform_makes_a_png(live):
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        r = await http.post("/api/style/transform", files={"image": ("a.png", photos.astronaut())},
                            data={"style_preset": "chibi", "strength": "0.9"})
        assert r.status_code == 202, r.text
        url = r.json()["data"]["status_url"]
        assert url.startswith("/api/style/status/")
        while True:
            job = (await http.get(url)).json()["data"]
            if job["status"] not in ("queued", "processing"):
                break
            await asyncio.sleep(0.1)
        assert job["status"] == "completed", job
        assert job["options"]["style_preset"] == "chibi"
        png = await http.get(job["result_url"])
        img = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGB"))
        assert img.shape == (512, 512, 3)
        # a styled image: fewer colours than the photo (quantised), same layout
        assert len(np.unique(img.reshape(-1, 3), axis=0)) < len(np.unique(
            np.asarray(Image.open(io.BytesIO(photos.astronaut()))).reshape(-1, 3), axis=0)) / 2
        page = (await http.get("/api/style/jobs", params={"limit": 5})).json()["data"]
        assert job["job_id"] in [j["job_id"] for j in page["items"]]


def test_jobs_are_invisible_to_other_users_and_paged(second_app, tmp_path):
    """Token mode, SQLite and the in-process queue: A's jobs do not exist for B."""
    from realtime.auth import mint

    secret = "s" * 40
    with second_app(tmp_path, auth_mode="token", auth_secret=secret,
                    rate_limit_per_minute=0) as (url, app):
        a = {"authorization": f"Bearer {mint(secret, 'alice', 600)}"}
        b = {"authorization": f"Bearer {mint(secret, 'bob', 600)}"}
        with httpx.Client(base_url=url, timeout=60) as http:
            ids = []
            for _ in range(2):
                r = photos.post_photo(http, "/api/generate", photos.astronaut(), {}, **a)
                assert r.status_code == 202, r.text
                ids.append(r.json()["data"]["job_id"])
            job = photos.wait_job(http, f"/api/generate/status/{ids[0]}", **a)
            assert job["status"] == "completed"
            assert http.post("/api/generate", files={"image": ("a.png", b"x")}).status_code == 401
            for path in (f"/api/generate/status/{ids[0]}", f"/api/models/{ids[0]}.glb"):
                r = http.get(path, headers=b)
                assert (r.status_code, r.json()["error"]["code"]) == (404, "NOT_FOUND")
            r = http.delete(f"/api/generate/status/{ids[1]}", headers=b)
            assert r.status_code == 404
            assert http.get("/api/generate/jobs", headers=b).json()["data"]["items"] == []
            # the owner reaches the model with a header, or ?token= for loaders without headers
            assert http.get(f"/api/models/{ids[0]}.glb", headers=a).status_code == 200
            token = a["authorization"].split()[1]
            assert http.get(f"/api/models/{ids[0]}.glb", params={"token": token}).status_code \
                == 200
            first = http.get("/api/generate/jobs", params={"limit": 1}, headers=a).json()["data"]
            assert [j["job_id"] for j in first["items"]] == [ids[1]]
            second = http.get("/api/generate/jobs", params={"limit": 1,
                                                            "before": first["next_before"]},
                              headers=a).json()["data"]
            assert [j["job_id"] for j in second["items"]] == [ids[0]]
            assert second["next_before"] is None
            photos.wait_job(http, f"/api/generate/status/{ids[1]}", **a)


def test_exif_orientation_is_applied_and_metadata_dropped():
    from avatar_engine.photo.image import decode

    rgb = np.zeros((80, 120, 3), np.uint8)
    rgb[:, :60] = 255  # left half white
    out, clean = decode(photos.jpeg(rgb, exif_orientation=6))  # "rotate 90 CW to display"
    assert out.shape[:2] == (120, 80)  # turned upright
    assert out[5, 40].mean() > 200 and out[-5, 40].mean() < 50  # white on top after turning
    assert b"Exif" not in clean[:200]
