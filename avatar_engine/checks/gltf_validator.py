"""The Khronos glTF-Validator (npm ``gltf-validator``, Apache-2.0) in a long-lived Node process
(``validate.mjs``): one validation is a line each way (~60 ms for a 1 MB GLB once warm), not a
Node start-up per file.

Node and the package come with the web client (``bash scripts/web.sh``: ``client-web/
node_modules``). :func:`find_validator` says whether they are there; ``AVATAR_AVATAR_VALIDATOR``
decides what the ``check`` step does without them (``auto``: our own rules only, logged;
``required``: the job fails).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
from pathlib import Path

SCRIPT = Path(__file__).with_name("validate.mjs")
REPO = Path(__file__).resolve().parents[2]


class ValidatorUnavailable(Exception):
    pass


def find_validator(modules: Path | None = None) -> tuple[str, Path] | None:
    """(node executable, node_modules directory holding gltf-validator), or None."""
    node = shutil.which("node") or (str(REPO / ".venv" / "bin" / "node")
                                    if (REPO / ".venv" / "bin" / "node").exists() else None)
    modules = modules or REPO / "client-web" / "node_modules"
    if node is None or not (modules / "gltf-validator").is_dir():
        return None
    return node, modules


class GltfValidator:
    def __init__(self, modules: Path | None = None) -> None:
        self._found = find_validator(modules)
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)

    @property
    def available(self) -> bool:
        return self._found is not None

    async def _start(self) -> asyncio.subprocess.Process:
        if self._found is None:
            raise ValidatorUnavailable("node or client-web/node_modules/gltf-validator is "
                                       "missing (run bash scripts/web.sh)")
        node, modules = self._found
        env = {**os.environ, "NODE_PATH": str(modules)}
        return await asyncio.create_subprocess_exec(  # at nice 19, like the job processes
            "nice", "-n", "19", node, str(SCRIPT), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
            limit=2**22)

    async def validate(self, path: Path, timeout_s: float = 60.0) -> dict:
        """The report summary: ``{errors, warnings, infos, hints, messages: [...]}``."""
        async with self._lock:
            if self._proc is None or self._proc.returncode is not None:
                self._proc = await self._start()
            proc = self._proc
            rid = next(self._ids)
            proc.stdin.write(json.dumps({"id": rid, "path": str(path)}).encode() + b"\n")
            try:
                async with asyncio.timeout(timeout_s):
                    await proc.stdin.drain()
                    line = await proc.stdout.readline()
            except BaseException:
                await self._kill()  # a late answer must not be read as the next one's
                raise
            if not line:
                await self._kill()
                raise ValidatorUnavailable("the validator process ended")
            answer = json.loads(line)
            if answer.get("id") != rid or "error" in answer:
                raise ValidatorUnavailable(f"validator: {answer.get('error', answer)}")
            return answer

    async def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.kill()
            with contextlib.suppress(Exception):
                await proc.wait()

    async def aclose(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.stdin.close()
            try:
                async with asyncio.timeout(2.0):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


def clean(report: dict, vrm: bool = False) -> bool:
    """0 errors and 0 warnings (infos are fine: a VRM's own extension is one)."""
    return report["errors"] == 0 and report["warnings"] == 0
