"""A child process gpu_host starts and may therefore stop (GPT-SoVITS, the gen3d sidecar)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ctypes
import shlex
import signal
import sys
from pathlib import Path

log = logging.getLogger(__name__)


class ChildProcess:
    def __init__(self, name: str, command: str, log_dir: Path | None = None) -> None:
        self.name = name
        self.argv = shlex.split(command)
        self.log_dir = log_dir
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running else None

    async def start(self) -> None:
        if self.running:
            return
        out = asyncio.subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{self.name}.log", "ab")  # noqa: SIM115 - child's
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdout=out, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        finally:
            if out is not asyncio.subprocess.DEVNULL:
                out.close()  # the child has its own copy
        self.starts += 1
        log.info("%s started (pid %s)", self.name, self.proc.pid)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``: only ever our own child."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            async with asyncio.timeout(timeout_s):
                await proc.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        log.info("%s stopped (exit %s)", self.name, proc.returncode)


def _die_with_parent() -> None:
    """In the child: SIGTERM when gpu_host dies, even by SIGKILL (Linux PR_SET_PDEATHSIG), so a
    model process never outlives the host that owns it and nobody else may stop it."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
