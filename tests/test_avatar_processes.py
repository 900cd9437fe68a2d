"""The avatar job processes (photo analysis, the template builder) start at the first upload,
not with the server: a server nobody makes avatars on does not keep them resident. With
AVATAR_AVATAR_WARM_AT_START they start with it."""

from __future__ import annotations

import asyncio
import multiprocessing

import pytest

from avatar_engine.errors import JobError
from avatar_engine.service import AvatarJobs
from realtime.config import Settings
from realtime.store.long_sqlite import SqliteLongTermStore


def _running(jobs: AvatarJobs) -> list:
    return [s for s in [*jobs.pool.slots, jobs.pool.uploads] if s._pool is not None]  # noqa: SLF001


@pytest.mark.parametrize("warm_at_start", [False, True])
async def test_job_processes_start_at_the_first_upload(tmp_path, warm_at_start):
    store = SqliteLongTermStore(tmp_path / "h.sqlite3")
    await store.start()
    before = set(multiprocessing.active_children())
    jobs = AvatarJobs(Settings(_env_file=None, storage_dir=tmp_path,
                               avatar_warm_at_start=warm_at_start), store)
    await jobs.start()
    try:
        if not warm_at_start:
            assert _running(jobs) == [] and set(multiprocessing.active_children()) == before
            with pytest.raises(JobError) as err:  # any upload, even a bad one, starts them
                await jobs.submit("generate", "u1", b"not an image at all", {})
            assert err.value.code == "UNSUPPORTED_MEDIA_TYPE"
        assert len(_running(jobs)) == 2  # a job slot and the uploads' slot
        assert all(await jobs.pool.warm)  # each imported MediaPipe and the template builder
        assert len(set(multiprocessing.active_children()) - before) == 2
    finally:
        await jobs.stop()
        await store.close()


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _stopped(pids: list[int]) -> bool:
    """Whether every process is stopped, once the signals have been delivered (a running
    process takes a moment to stop; "T" is stopped)."""
    import time

    for _ in range(100):
        states = {_state(p) for p in pids}
        if states == {"T"} or "T" not in states:
            time.sleep(0.02)  # settled? read again
            if {_state(p) for p in pids} == states:
                return states == {"T"}
        time.sleep(0.01)
    raise AssertionError(f"processes neither stopped nor running: {states}")


async def test_job_processes_pause_while_a_live_turn_runs(tmp_path):
    """Wired as the server does (realtime/avatar_jobs.py): LiveWork held -> SIGSTOP."""
    from realtime.pipeline.live import LiveWork

    store = SqliteLongTermStore(tmp_path / "h.sqlite3")
    await store.start()
    jobs = AvatarJobs(Settings(_env_file=None, storage_dir=tmp_path), store)
    await jobs.start()
    live = LiveWork(window_s=1.0)
    live.subscribe(jobs.live)
    try:
        await jobs.warm()
        assert all(await jobs.pool.warm)
        job_pids = [pid for slot in jobs.pool.slots for pid in slot.pids()]
        upload_pids = jobs.pool.uploads.pids()
        assert job_pids and upload_pids
        with live.hold():  # a turn
            assert _stopped(job_pids)
            assert not _stopped(upload_pids)  # an upload is still answered
            with pytest.raises(JobError):
                await jobs.submit("generate", "u1", b"not an image at all", {})
        assert not _stopped(job_pids)
        live.poke("speech_started")  # a live signal: paused for its window, then running
        assert _stopped(job_pids)
        await asyncio.sleep(1.5)
        assert not _stopped(job_pids)
    finally:
        await jobs.stop()
        await store.close()


def test_job_processes_leave_when_their_server_is_killed(tmp_path):
    """A SIGKILLed server (OOM killer, a crashed container) must not leave its job processes
    behind, each holding MediaPipe (~180 MB): they notice and exit."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "server.py"
    script.write_text(
        "import asyncio\n"
        "from avatar_engine.cpu import CpuPool\n"
        "async def main():\n"
        "    pool = CpuPool()\n"
        "    await pool.start()\n"
        "    await pool.warm\n"
        "    print(' '.join(str(p) for s in [*pool.slots, pool.uploads] for p in s.pids()),\n"
        "          flush=True)\n"
        "    await asyncio.sleep(600)\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n")
    from tests.web_e2e import REPO

    server = subprocess.Popen([sys.executable, str(script)], cwd=REPO, stdout=subprocess.PIPE,
                              text=True)
    try:
        pids = [int(p) for p in server.stdout.readline().split()]
        assert len(pids) == 2 and all(os.path.exists(f"/proc/{p}") for p in pids)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()

    def alive(pid: int) -> bool:
        try:
            return _state(pid) != "Z"
        except FileNotFoundError:
            return False
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in pids), "job processes outlived their server"
