"""Real store servers for the tests: ``redis-server`` and ``nx-27017`` (a MongoDB wire-protocol
server on SQLite, MIT) on free loopback ports, restartable on the same port and data."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.serving import free_port


def _wait_port(port: int, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


class ServerProcess:
    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        """The child's environment (None: ours)."""
        return None

    def start(self) -> None:
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(self.command(), cwd=self.workdir, stdout=log,
                                     stderr=subprocess.STDOUT, env=self.env())
        _wait_port(self.port, 30, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


class RedisServer(ServerProcess):
    """No persistence: a restart comes back empty, like a cache node that was replaced."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        return [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.workdir)]


class MongoWireServer(ServerProcess):
    """nx-27017: one SQLite file per database (isolated like mongod's), kept across restarts."""

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        exe = Path(sys.executable).with_name("nx-27017")
        return [str(exe), "--data-dir", str(self.workdir / "data"), "--host", "127.0.0.1",
                "-p", str(self.port), "--log-file", str(self.workdir / "nx.log"),
                "--pid-file", str(self.workdir / "nx.pid")]
