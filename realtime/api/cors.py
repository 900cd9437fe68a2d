"""CORS by origin: listed origins may send credentials, ``*`` lets any other origin in without.

Browsers refuse a credentialed response (``credentials: 'include'``, as the seeds' frontend sends,
000:1052) that says ``Access-Control-Allow-Origin: *``; a listed origin gets its own name back
with ``Access-Control-Allow-Credentials: true``. Starlette's ``CORSMiddleware`` does one or the
other for all origins, so each request goes to the one its ``Origin`` calls for.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

# headers a page on another origin may read (session id of an SSE turn, audio facts, limits)
EXPOSE = ["X-Session-Id", "Retry-After", "X-Audio-Duration", "X-Sample-Rate", "X-Language",
          "Content-Disposition"]


class CorsByOrigin:
    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        listed = [o for o in origins if o != "*"]
        self.listed = set(listed)
        self.trusted = CORSMiddleware(app, allow_origins=listed, allow_credentials=True,
                                      allow_methods=["*"], allow_headers=["*"],
                                      expose_headers=EXPOSE) if listed else None
        self.anyone = CORSMiddleware(app, allow_origins=["*"], allow_methods=["*"],
                                     allow_headers=["*"],
                                     expose_headers=EXPOSE) if "*" in origins else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            origin = Headers(scope=scope).get("origin")
            if origin is not None:
                if origin in self.listed:
                    return await self.trusted(scope, receive, send)  # type: ignore[misc]
                # not listed: "*" (no credentials), else refused (preflight 400, no CORS headers)
                handler = self.anyone or self.trusted
                if handler is not None:
                    return await handler(scope, receive, send)
        await self.app(scope, receive, send)
