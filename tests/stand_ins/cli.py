"""The command line the simulated stand-ins share: ``--host --port --sim-dir`` and their
latencies (``--wake-s`` ...), then uvicorn."""

from __future__ import annotations

import argparse


def serve_stand_in(doc: str, create_app, **latencies: float) -> None:
    import uvicorn

    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sim-dir", required=True)
    for name, default in latencies.items():
        p.add_argument("--" + name.replace("_", "-"), type=float, default=default)
    a = p.parse_args()
    app = create_app(a.sim_dir, **{name: getattr(a, name) for name in latencies})
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
