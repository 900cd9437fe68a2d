"""The browser client (``client-web/dist``, built by ``scripts/web.sh``) at ``/``.

Files under the build directory are served as they are (hashed ``/assets/*`` cached for a year,
everything else revalidated). A browser navigating to any other path that is not the server's own
(``/api``, ``/ws``, ``/docs``, ``/redoc``, ``/media``, ``/metrics``) gets ``index.html``, so
client-side routes work; other clients (no ``text/html`` in ``Accept``) get the usual 404.
Without a build, ``/`` says how to make one. The directory can be moved with the setting
``web_dist_dir`` (``AVATAR_WEB_DIST_DIR``) where the settings define it.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT_DIST = REPO / "client-web" / "dist"
# the server's own paths: a miss under these is a real 404, never the web app
RESERVED = ("api", "ws", "docs", "redoc", "media", "metrics", "openapi.json")

router = APIRouter(include_in_schema=False)


def dist_dir(request: Request) -> Path:
    services = getattr(request.app.state, "services", None)
    settings = getattr(services, "settings", None)
    configured = getattr(settings, "web_dist_dir", None) or os.environ.get("AVATAR_WEB_DIST_DIR")
    return Path(configured) if configured else DEFAULT_DIST


def _not_built(dist: Path) -> HTMLResponse:
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Avatar server - web client not built</title></head>
<body style="font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;line-height:1.5">
<h1>The web client is not built</h1>
<p>The server is running, but <code>{html.escape(str(dist))}</code> has no
<code>index.html</code>. Build it with</p>
<pre>bash scripts/web.sh</pre>
<p>(or start everything with <code>bash scripts/run.sh</code>, which builds it), then reload.
Node.js 20.19 or newer is needed to build.</p>
<p>Meanwhile: the API docs are at <a href="/docs">/docs</a>, the WebSocket at <code>/ws</code>.</p>
</body></html>"""
    return HTMLResponse(body, status_code=503, headers={"Cache-Control": "no-store"})


def _index(dist: Path) -> Response:
    index = dist / "index.html"
    if not index.is_file():
        return _not_built(dist)
    return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/", response_model=None)
async def web_index(request: Request) -> Response:
    return _index(dist_dir(request))


@router.get("/{path:path}", response_model=None)
async def web_file(path: str, request: Request) -> Response:
    parts = path.split("/")
    if parts[0] in RESERVED:
        raise HTTPException(status_code=404, detail=f"no such path /{path}")
    if any(p.startswith(".") for p in parts if p):
        raise HTTPException(status_code=404, detail=f"no such file /{path}")  # build stamps, ..
    dist = dist_dir(request)
    root = dist.resolve()
    target = (dist / path).resolve()
    if target.is_relative_to(root) and target.is_file():
        immutable = path.startswith("assets/")
        cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
        return FileResponse(target, headers={"Cache-Control": cache})
    if "." in path.rsplit("/", 1)[-1] or "text/html" not in request.headers.get("accept", ""):
        # a missing file (a stale asset name, a typo), or not a page load: 404, not the app's HTML
        raise HTTPException(status_code=404, detail=f"no such path /{path}")
    return _index(dist)
