"""The edge proxy with a real Caddy (Debian's, installed by the test command) on compose's own
Caddyfile: TLS from Caddy's local CA, https to the API, the WebSocket upgrade on /ws (a typed turn
with its audio frames) and on /v1/realtime (the OpenAI Realtime handshake) through it."""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import orjson
import pytest
import websockets

from tests.serving import free_port
from tests.wsclient import Client

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
CADDYFILE = ROOT / "deploy" / "caddy" / "Caddyfile"


def caddy() -> str:
    path = shutil.which("caddy")
    assert path, "caddy is missing: bash scripts/install.sh --test installs Debian's caddy"
    return path


def env_for(tmp: Path, live_url: str, https_port: int) -> dict[str, str]:
    host, port = live_url.removeprefix("http://").split(":")
    return {**os.environ, "SITE_DOMAIN": "localhost", "HTTP_PORT": str(free_port()),
            "HTTPS_PORT": str(https_port), "CADDY_ADMIN": f"127.0.0.1:{free_port()}",
            "REALTIME_HOST": host, "REALTIME_PORT": port, "HOME": str(tmp),
            "XDG_DATA_HOME": str(tmp / "data"), "XDG_CONFIG_HOME": str(tmp / "config")}


@pytest.fixture(scope="module")
def edge(live, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("caddy")
    port = free_port()
    env = env_for(tmp, live.url, port)
    ok = subprocess.run([caddy(), "validate", "--config", str(CADDYFILE), "--adapter",
                         "caddyfile"], env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr[-2000:]
    proc = subprocess.Popen([caddy(), "run", "--config", str(CADDYFILE), "--adapter",
                             "caddyfile"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(tmp / "caddy.log", "wb"))  # noqa: SIM115
    root = tmp / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    ctx = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if root.exists() and proc.poll() is None:
            ctx = ssl.create_default_context(cafile=str(root))
            try:
                if httpx.get(f"https://localhost:{port}/api/health", verify=ctx,
                             timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    else:
        proc.terminate()
        pytest.fail("Caddy did not serve https: " + (tmp / "caddy.log").read_text()[-2000:])
    yield f"localhost:{port}", ctx
    proc.terminate()
    proc.wait(15)


async def test_https_and_a_typed_turn_over_wss(edge):
    host, ctx = edge
    async with httpx.AsyncClient(base_url=f"https://{host}", verify=ctx, timeout=30) as http:
        r = await http.get("/api/health")
        assert r.status_code == 200 and r.json()["success"]
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert (await http.get("/api/chat/models")).json()["data"]["models"]
    ws = await websockets.connect(f"wss://{host}/ws", ssl=ctx, max_size=8 * 1024 * 1024)
    c = Client(ws)
    c.ready = await c.next_json()
    assert c.ready["type"] == "session.ready"
    await c.send({"type": "session.update", "max_tokens": 24})
    await c.expect("session.updated")
    turn = await c.turn("Hello over TLS!")
    assert turn.done["status"] == "completed" and turn.frames, "no audio through the proxy"
    await c.close()


async def test_openai_realtime_upgrade_through_the_proxy(edge):
    host, ctx = edge
    async with websockets.connect(f"wss://{host}/v1/realtime?model=gpt-realtime",
                                  ssl=ctx) as ws:
        first = orjson.loads(await asyncio.wait_for(ws.recv(), 15))
        assert first["type"] == "session.created", first
