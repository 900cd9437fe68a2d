"""``python -m avatar_engine.worker``: a worker process for avatar jobs, beside the server.

It reads the server's settings (``AVATAR_*``): the Redis queue it shares with the servers and
other workers (``AVATAR_REDIS_URL``, required), the long-term store holding the jobs and their
files (``AVATAR_MONGO_URL``), and the GPU host (``AVATAR_GPU_HOST_URL``: with GPU services a
worker must not embed a scheduler of its own). Run as many as the hosts allow; SIGTERM lets the
job in flight stop at its checkpoint (another worker resumes it).

    AVATAR_REDIS_URL=redis://redis:6379/0 AVATAR_MONGO_URL=mongodb://mongo:27017 \\
        python -m avatar_engine.worker
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

log = logging.getLogger("avatar_engine.worker")


async def serve(settings) -> int:
    from avatar_engine.service import AvatarJobs
    from gpu_host.client import GpuSettings, build_gpu_client
    from realtime.store import build_long_term

    gpu_settings = GpuSettings()
    if not settings.gpu_host_url and (gpu_settings.comfyui_url or gpu_settings.gen3d_url):
        log.error("GPU services are configured: set AVATAR_GPU_HOST_URL to `python -m gpu_host` "
                  "(a worker must not run a GPU scheduler of its own)")
        return 2
    store = build_long_term(settings)
    await store.start()
    gpu = build_gpu_client(settings.gpu_host_url, gpu_settings)
    await gpu.start()
    jobs = AvatarJobs(settings, store, gpu, worker=True, handle_signals=True)
    try:
        await jobs.start()
        await jobs.warm()  # a worker exists to run jobs: its processes start now
        log.info("avatar worker ready (queue %s, store %s)", jobs.queue.kind, store.name)
        await jobs.queue.run_forever()  # until SIGTERM / SIGINT
    finally:
        await jobs.stop()
        await gpu.aclose()
        await store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    from realtime.config import Settings

    p = argparse.ArgumentParser(prog="python -m avatar_engine.worker", description=__doc__.split(
        "\n\n")[0])
    p.add_argument("--concurrency", type=int, default=None, help="jobs at once (default "
                                                                  "AVATAR_AVATAR_WORKER_CONCURRENCY)")
    args = p.parse_args(argv)
    settings = Settings()
    if args.concurrency:
        settings = settings.model_copy(update={"avatar_worker_concurrency": args.concurrency})
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not settings.redis_url:
        log.error("a separate worker needs AVATAR_REDIS_URL (the queue it shares with the "
                  "server); without Redis the server runs the jobs itself")
        return 2
    return asyncio.run(serve(settings))


if __name__ == "__main__":
    sys.exit(main())
