"""The web client at / (realtime/api/web.py): the build is served, client-side routes fall back to
index.html, and nothing of the server's own (/api, /ws, /docs, /media, /metrics) is shadowed."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
import websockets

from tests.web_e2e import ensure_web_built

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(live):
    dist = ensure_web_built()
    return live.url, dist


def test_index_and_assets_are_served(site):
    url, dist = site
    r = httpx.get(url + "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.text == (dist / "index.html").read_text()
    assert r.headers["cache-control"] == "no-cache"
    scripts = re.findall(r'src="(/assets/[^"]+\.js)"', r.text)
    assert scripts
    js = httpx.get(url + scripts[0])
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "immutable" in js.headers["cache-control"]
    glb = httpx.get(url + "/avatars/default.glb")
    assert glb.status_code == 200 and glb.content[:4] == b"glTF"


BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_client_routes_fall_back_to_the_app(site):
    url, dist = site
    for path in ("/chat", "/characters/mina", "/settings/"):
        r = httpx.get(url + path, headers=BROWSER)
        assert r.status_code == 200 and '<div id="root">' in r.text, path
        # only page loads: an API client asking for a missing path gets a 404
        assert httpx.get(url + path).status_code == 404, path


def test_server_paths_are_not_shadowed(site):
    url, _ = site
    health = httpx.get(url + "/api/health")
    assert health.status_code == 200 and health.json()["success"] is True
    for path in ("/api/nope", "/api/", "/ws", "/media/audio/none.wav", "/metrics/x", "/docs/x"):
        r = httpx.get(url + path, headers=BROWSER)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("application/json"), path
        assert r.json()["success"] is False and r.json()["error"]["code"] == "NOT_FOUND", path
    assert httpx.get(url + "/docs").status_code == 200 and "swagger" in httpx.get(url + "/docs").text.lower()
    assert httpx.get(url + "/metrics").status_code == 200
    assert "openapi" in httpx.get(url + "/api/openapi.json").json()


def test_missing_files_and_hidden_paths_are_404(site):
    url, dist = site
    assert httpx.get(url + "/assets/missing-1234.js", headers=BROWSER).status_code == 404
    assert httpx.get(url + "/nope.png", headers=BROWSER).status_code == 404
    stamps = [p.name for p in dist.iterdir() if p.name.startswith(".avatar-build-")]
    assert stamps and httpx.get(f"{url}/{stamps[0]}").status_code == 404
    # no way out of the build directory
    for raw in ("/%2e%2e/pyproject.toml", "/assets/%2e%2e/%2e%2e/pyproject.toml", "/..%2fpyproject.toml"):
        r = httpx.get(url + raw)
        assert "[project]" not in r.text, raw


async def test_websocket_still_works_beside_the_app(site):
    url, _ = site
    async with websockets.connect(url.replace("http://", "ws://") + "/ws") as ws:
        ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ready["type"] == "session.ready"


def test_without_a_build_the_root_says_how_to_make_one(site, tmp_path, monkeypatch):
    url, _ = site
    monkeypatch.setenv("AVATAR_WEB_DIST_DIR", str(tmp_path / "empty"))
    r = httpx.get(url + "/")
    assert r.status_code == 503
    assert "bash scripts/web.sh" in r.text and "not built" in r.text
    assert httpx.get(url + "/api/health").status_code == 200
