"""A process in another container that lives exactly as long as a child of gpu_host.

gpu_host may stop only the model processes it started itself (its children: SIGTERM, then
SIGKILL; they die with it). The gen3d sidecar has no unload verb, so stopping its process is the
only way to get its memory back — but in compose it runs in its own container, with its own GPU
reservation and image. This module bridges the two with a dead man's switch, standard library
only (the sidecar image copies this one file):

* in the sidecar's container, ``python hold.py serve --port 8082 -- python api_server.py ...``
  runs the sidecar **only while a holder is connected** to ``GET /hold``; when that connection
  closes for any reason (the holder exits, is killed, its host dies) the sidecar's process group
  gets SIGTERM, then SIGKILL after ``--grace`` seconds;
* in gpu_host's container, ``AVATAR_GPU_GEN3D_COMMAND="python -m gpu_host.hold run
  http://gen3d:8082/hold"`` is the child gpu_host starts and stops: it holds that connection and
  exits when the sidecar ends.

So "gpu_host stopped its child" means "the sidecar is stopped", even on SIGKILL.
"""

from __future__ import annotations

import argparse
import http.client
import os
import select
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HEARTBEAT_S = 1.0


class Sidecar:
    """The held process: one holder at a time."""

    def __init__(self, argv: list[str], grace_s: float) -> None:
        self.argv = argv
        self.grace_s = grace_s
        self.proc: subprocess.Popen | None = None
        self.held = False
        self.lock = threading.Lock()

    def acquire(self) -> bool:
        """Start the sidecar for a new holder (False: someone holds it)."""
        with self.lock:
            if self.held:
                return False
            self.stop()  # a previous run that is still on its way out
            self.proc = subprocess.Popen(self.argv, start_new_session=True)
            self.held = True
            return True

    def release(self) -> None:
        with self.lock:
            self.stop()
            self.held = False

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(self.grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def make_handler(sidecar: Sidecar):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body ends when the connection does

        def log_message(self, fmt, *args) -> None:  # noqa: D401 - quiet
            sys.stderr.write("hold: " + fmt % args + "\n")

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/health":
                self._reply(200, b"held\n" if sidecar.running() else b"idle\n")
            elif self.path == "/hold":
                self._hold()
            else:
                self._reply(404, b"not found\n")

        def _reply(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _hold(self) -> None:
            if not sidecar.acquire():
                self._reply(409, b"already held\n")
                return
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.flush()
                sock = self.connection
                while sidecar.running():
                    readable, _, _ = select.select([sock], [], [], HEARTBEAT_S)
                    if readable and not sock.recv(1024):
                        return  # the holder closed the connection
                    self.wfile.write(b".")
                    self.wfile.flush()
            except OSError:
                return  # the holder is gone
            finally:
                sidecar.release()

    return Handler


def serve(port: int, host: str, argv: list[str], grace_s: float) -> None:
    sidecar = Sidecar(argv, grace_s)
    server = ThreadingHTTPServer((host, port), make_handler(sidecar))
    server.daemon_threads = True

    def shutdown(*_):
        sidecar.release()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, shutdown)
    try:
        server.serve_forever()
    finally:
        sidecar.release()


def run(url: str, timeout_s: float = 10.0) -> int:
    """Hold ``url`` until the sidecar ends (exit 1) or we are told to stop (exit 0)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout_s)
    signal.signal(signal.SIGTERM, lambda *_: (conn.close(), os._exit(0)))
    conn.request("GET", parts.path or "/hold")
    conn.sock.settimeout(3 * HEARTBEAT_S + timeout_s)  # heartbeats arrive every second
    resp = conn.getresponse()
    if resp.status != 200:
        sys.stderr.write(f"hold: {url} answered {resp.status}\n")
        return 1
    try:
        while resp.read(1):
            pass
    except OSError:
        pass
    return 1  # the stream ended: the sidecar is gone


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m gpu_host.hold", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run COMMAND while a holder is connected")
    s.add_argument("--host", default="0.0.0.0")
    s.add_argument("--port", type=int, default=8082)
    s.add_argument("--grace", type=float, default=1.0, help="SIGTERM, then SIGKILL after this")
    s.add_argument("command", nargs=argparse.REMAINDER, help="-- the sidecar's command line")
    r = sub.add_parser("run", help="hold URL until the sidecar ends or SIGTERM")
    r.add_argument("url")
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            ap.error("serve needs the sidecar's command after --")
        serve(args.port, args.host, command, args.grace)
    else:
        sys.exit(run(args.url))


if __name__ == "__main__":
    main()
