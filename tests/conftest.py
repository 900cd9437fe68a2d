"""Shared fixtures: the real app on real embedded engines, served by uvicorn on loopback."""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime.app import create_app
from realtime.config import Settings
from tests.serving import free_port, serve  # noqa: F401 - re-exported for tests

REPO = Path(__file__).resolve().parent.parent


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

    def session(self, client):
        """The server-side Session of a connected test client."""
        sid = client.ready["session_id"]
        # list(): one atomic copy; the server thread adds and removes sessions meanwhile
        return next(s for s in list(self.services.sessions) if s.id == sid)


@pytest.fixture(scope="session")
def live(tmp_path_factory, redis_server, mongo_server) -> Iterator[Live]:
    """The app with the embedded llama.cpp server, Piper, espeak-ng, Whisper and the production
    stores: a real redis-server and a real MongoDB wire server (started once)."""
    tmp = tmp_path_factory.mktemp("live")
    app = create_app(embedded_settings(tmp, redis_url=redis_server.url,
                                       mongo_url=mongo_server.url, mongo_database="live",
                                       rate_limit_per_minute=0, max_concurrent_sessions=200))
    with serve(app) as url:
        yield Live(url, app)


@pytest.fixture
def second_app(live, tmp_path):
    """Start more apps beside ``live``, sharing its llama.cpp server (no second model load),
    without voice input: ``with second_app(**settings) as (url, app): ...``."""
    import contextlib

    @contextlib.contextmanager
    def start(storage: Path | None = None, **overrides):
        settings = embedded_settings(
            storage or tmp_path, llm_base_url=live.services.llama.base_url, voice_enabled=False,
            **overrides)
        app = create_app(settings)
        with serve(app) as url:
            yield url, app

    return start


@pytest.fixture(scope="session")
def piper_voice():
    """The embedded Piper voice (joe, en-US), loaded once for every test that makes speech."""
    from tests.speech import load_piper_voice

    return load_piper_voice()


def _store_server(kind: str, tmp_path_factory):
    from tests import servers

    server = getattr(servers, kind)(tmp_path_factory.mktemp(kind))
    server.start()
    return server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server (installed by the test command) on a free port."""
    server = _store_server("RedisServer", tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    """A real MongoDB wire-protocol server (nx-27017) on a free port."""
    server = _store_server("MongoWireServer", tmp_path_factory)
    yield server
    server.stop()


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/ws"


@pytest.fixture(scope="session")
async def gltf_validator():
    """The Khronos glTF-Validator (npm gltf-validator, installed by scripts/web.sh) in one Node
    process for the whole run."""
    from avatar_engine.checks.gltf_validator import GltfValidator

    validator = GltfValidator()
    assert validator.available, "run bash scripts/web.sh (node and client-web/node_modules)"
    yield validator
    await validator.aclose()


@pytest.fixture(scope="session")
def gpu_rig(tmp_path_factory):
    """The GPU half on stand-ins (tests/gpu_rig.py): vLLM and ComfyUI stand-ins, `python -m
    gpu_host` (with the GPT-SoVITS stand-in as its child) on a simulated 3090, and the realtime
    server with voice whose LLM is the vLLM stand-in and whose GPU host is that process."""
    from tests.gpu_rig import GpuRig

    rig = GpuRig(tmp_path_factory.mktemp("gpu"))
    try:
        rig.start()
        rig.start_realtime()
        yield rig
    finally:
        rig.stop()
