"""A child process gpu_host starts and may therefore stop (GPT-SoVITS, the gen3d sidecar), and
the services run that way."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ctypes
import shlex
import signal
import sys
from pathlib import Path

from gpu_host.aio import poll_until
from gpu_host.figures import Need
from gpu_host.services.base import Service, ServiceError, State

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


class ProcessService(Service):
    """A service that gpu_host may run as its own child (``command``): ``resident`` = the
    process runs and answers, ``stopped`` = it does not run. Without a command the process is
    someone else's: it is only probed, never started or stopped."""

    stop_grace_s = 10.0  # SIGTERM, then SIGKILL
    absent = "failed"  # what a service that is not ours and does not answer is

    def __init__(self, name: str, need: Need, url: str, *, command: str = "", log_dir=None,
                 child=None, start_timeout_s: float = 120.0, poll_s: float = 0.1) -> None:
        super().__init__(name, need, url, timeout_s=10.0)
        self.child = child or (ChildProcess(name, command, log_dir) if command else None)
        self.start_timeout_s = start_timeout_s
        self.poll_s = poll_s
        if self.child is not None:
            self.verbs = ("start", "stop", *self.verbs)
            self.reachable = ("resident", "stopped")

    async def aclose(self) -> None:
        if self.child is not None:
            await self.child.stop(self.stop_grace_s)
        await super().aclose()

    async def probe(self) -> State:
        if self.child is not None and not self.child.running:
            return "stopped"
        return "resident" if await self.health() else self.absent

    async def _to(self, target: str) -> None:
        if self.child is None:
            raise ServiceError(f"{self.name} is not started by gpu_host: it is left as it is")
        if target == "stopped":
            await self.child.stop(self.stop_grace_s)
            return
        await self.child.start()
        if not await poll_until(self.health, self.start_timeout_s, self.poll_s):
            raise ServiceError(f"{self.name} did not answer within {self.start_timeout_s:g} s")

    def observed_mb(self, by_holder: dict[str, int]) -> int | None:
        if self.child is not None and self.child.pid is not None:
            return by_holder.get(f"pid:{self.child.pid}", by_holder.get(self.name))
        return by_holder.get(self.name)
