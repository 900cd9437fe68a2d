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
def live(tmp_path_factory) -> Iterator[Live]:
    """The app with the embedded llama.cpp server, Piper and espeak-ng (started once)."""
    tmp = tmp_path_factory.mktemp("live")
    app = create_app(embedded_settings(tmp))
    with serve(app) as url:
        yield Live(url, app)


@pytest.fixture(scope="session")
def piper_voice():
    """The embedded Piper voice (joe, en-US), loaded once for every test that makes speech."""
    from tests.speech import load_piper_voice

    return load_piper_voice()


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/ws"
