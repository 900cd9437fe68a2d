"""Run an ASGI app with uvicorn in a background thread on a free loopback port (tests only)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(app, port: int | None = None, timeout: float = 180.0, **config) -> Iterator[str]:
    """Yield the base URL while ``app`` runs; stop it on exit."""
    port = port or free_port()
    from realtime.__main__ import uvicorn_options

    config = {"log_level": "warning", "lifespan": "on", "timeout_graceful_shutdown": 5,
              **uvicorn_options(), **config}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("server failed to start")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
