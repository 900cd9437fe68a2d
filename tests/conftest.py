"""Shared fixtures: the real app on real embedded engines, served by uvicorn on loopback."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from realtime.app import create_app
from realtime.config import Settings

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(app, port: int | None = None, timeout: float = 180.0) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread; yield its base URL; stop it on exit."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ws_max_size=4 * 1024 * 1024, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("server failed to start")
        if time.monotonic() > deadline:
            raise TimeoutError("server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def embedded_settings(tmp: Path, **overrides) -> Settings:
    voice = REPO / "var" / "models" / "en_US-joe-medium.aligned.onnx"
    base = dict(storage_dir=tmp, llm_max_tokens=60)
    if voice.exists():
        base["tts_piper_voice_path"] = voice
    base.update(overrides)
    return Settings(_env_file=None, **base)


@dataclass
class Live:
    url: str
    app: object

    @property
    def ws(self) -> str:
        return ws_url(self.url)

    @property
    def services(self):
        return self.app.state.services


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Iterator[Live]:
    """The app with the embedded llama.cpp server, Piper and espeak-ng (started once)."""
    tmp = tmp_path_factory.mktemp("live")
    app = create_app(embedded_settings(tmp))
    with serve(app) as url:
        yield Live(url, app)


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/ws"
