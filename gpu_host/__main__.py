"""``python -m gpu_host [--host H] [--port P]``: the GPU host as its own service."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from gpu_host.app import create_app
from gpu_host.config import GpuSettings


def main(argv: list[str] | None = None) -> None:
    settings = GpuSettings()
    parser = argparse.ArgumentParser(prog="python -m gpu_host", description=__doc__)
    parser.add_argument("--host", default=settings.listen_host)
    parser.add_argument("--port", type=int, default=settings.listen_port)
    parser.add_argument("--log-level", default=settings.log_level)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=args.host, port=args.port,
                log_level=args.log_level.lower())


if __name__ == "__main__":
    main()
