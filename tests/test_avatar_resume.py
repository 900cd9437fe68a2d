"""Durable jobs: a job survives its server and its worker. Embedded (SQLite, in-process queue):
the service stops mid-job and a new one resumes it after its last finished step. With Redis
(SAQ): `python -m avatar_engine.worker` is killed (SIGKILL) mid-job and another worker process
takes the job over and finishes it from its checkpoint."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid

from avatar_engine.service import AvatarJobs
from realtime.config import Settings
from realtime.store.long_mongo import MongoLongTermStore
from realtime.store.long_sqlite import SqliteLongTermStore
from tests import avatar_photos as photos
from tests.web_e2e import REPO

LATE = ("face", "clips", "export", "check", "thumbnail")


def _until(events: list, predicate):
    hit = asyncio.Event()

    def on(ev: dict) -> None:
        events.append(ev)
        if predicate(ev):
            hit.set()
    return hit, on


async def test_a_restarted_server_resumes_the_job_after_its_last_step(tmp_path):
    settings = Settings(_env_file=None, storage_dir=tmp_path)
    store = SqliteLongTermStore(tmp_path / "h.sqlite3")
    await store.start()
    first = AvatarJobs(settings, store)
    await first.start()
    events: list[dict] = []
    at_rig, on = _until(events, lambda e: e.get("current_step") == "rig")
    first.events.subscribe(on)
    doc = await first.submit("generate", "u1", photos.astronaut(), {"style": "none"})
    async with asyncio.timeout(60):
        await at_rig.wait()
    await first.stop()  # the server goes down while the job is at "rig"
    stopped = await store.get_job(doc["_id"])
    assert stopped["status"] == "processing" and "build" in stopped["steps_done"]
    assert "thumbnail" not in stopped["steps_done"]

    second = AvatarJobs(settings, store)
    done = asyncio.Event()
    second.events.subscribe(lambda e: done.set() if e["type"] == "job.done" else None)
    await second.start()  # finds the job unfinished and resumes it
    async with asyncio.timeout(60):
        await done.wait()
    job = await store.get_job(doc["_id"])
    await second.stop()
    await store.close()
    assert job["status"] == "completed" and job["attempts"] == 2
    assert job["step_attempts"]["build"] == 1  # not redone
    assert all(job["step_attempts"][s] == 2 for s in LATE)
    assert set(job["steps_done"]) >= {"build", "rig", *LATE}


def _worker(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "avatar_engine.worker"], env=env, cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT)


async def test_a_killed_worker_process_is_taken_over_by_another(redis_server, mongo_server,
                                                                tmp_path):
    tag = uuid.uuid4().hex[:8]
    cfg = {"AVATAR_REDIS_URL": redis_server.url, "AVATAR_REDIS_PREFIX": f"w{tag}:",
           "AVATAR_MONGO_URL": mongo_server.url, "AVATAR_MONGO_DATABASE": f"w{tag}",
           "AVATAR_STORAGE_DIR": str(tmp_path), "AVATAR_AVATAR_JOB_HEARTBEAT_S": "2"}
    env = {**os.environ, **cfg, "PYTHONPATH": str(REPO)}
    settings = Settings(_env_file=None, **{k[7:].lower(): v for k, v in cfg.items()})
    store = MongoLongTermStore(mongo_server.url, database=f"w{tag}")
    await store.start()
    client = AvatarJobs(settings, store, worker=False)  # the server side: queues, no worker
    await client.start()
    events: list[dict] = []
    at_face, on = _until(events, lambda e: e.get("current_step") == "face")
    client.events.subscribe(on)
    done = asyncio.Event()
    client.events.subscribe(lambda e: done.set() if e["type"] == "job.done" else None)
    logs = [open(tmp_path / f"worker{i}.log", "w") for i in (1, 2)]
    first = _worker(env, logs[0])
    second = None
    try:
        doc = await client.submit("generate", "u1", photos.astronaut(), {"style": "none"})
        async with asyncio.timeout(120):
            await at_face.wait()
        first.send_signal(signal.SIGKILL)  # no goodbye: the job is left "active" in Redis
        first.wait(10)
        second = _worker(env, logs[1])
        async with asyncio.timeout(120):
            await done.wait()
        job = await store.get_job(doc["_id"])
        assert job["status"] == "completed", job
        assert job["step_attempts"]["build"] == 1 and job["step_attempts"]["thumbnail"] == 2
        assert await store.get_blob(f"{doc['_id']}/model.glb") is not None
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for f in logs:
            f.close()
        await client.stop()
        await store.close()
