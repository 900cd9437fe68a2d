"""``python -m realtime [--host H] [--port P]``: run the server on the configured engines."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from realtime.app import create_app
from realtime.config import Settings
from realtime.heap import limit_malloc_arenas


def uvicorn_options(settings: Settings | None = None) -> dict:
    """How the server speaks WebSocket: no per-message deflate (PCM barely compresses, and
    inflating every 20 ms microphone frame cost more CPU than the VAD), frames up to 4 MiB,
    the implementation chosen by ``AVATAR_WS_IMPL``."""
    ws = (settings or Settings()).ws_impl
    return {"ws": ws, "ws_max_size": 4 * 1024 * 1024, "ws_per_message_deflate": False}


def main(argv: list[str] | None = None) -> None:
    limit_malloc_arenas()
    settings = Settings()
    parser = argparse.ArgumentParser(prog="python -m realtime", description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--log-level", default=settings.log_level)
    args = parser.parse_args(argv)
    settings = settings.model_copy(update={"host": args.host, "port": args.port})
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=args.host, port=args.port,
                log_level=args.log_level.lower(), **uvicorn_options(settings))


if __name__ == "__main__":
    main()
