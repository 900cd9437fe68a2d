"""The soak: mixed users for a long while against the embedded server, watching the server
process. Passes when there were **0 errors**, the server's **RSS grew by less than 10 %** from the
first third of the load after the warm-up to the last (medians of the samples), and once every
user has left the event loop has **no more tasks** and the process **no more file descriptors**
than before the load (no leak).

    .venv/bin/python loadtest/soak.py --minutes 10 --users 5     # 3 typed : 1 REST : 1 voice

Writes to ``--out`` (default ``var/loadtest/soak-<time>/``): Locust's CSV and HTML,
``requests.csv``, ``samples.csv`` (every 10 s: RSS of the server and of its llama.cpp child,
event-loop tasks, open descriptors, sessions), ``soak.json`` (the verdict) and ``soak.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
import run  # noqa: E402
import speech  # noqa: E402


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", text, re.M).group(1)) / 1024.0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def loop_tasks(url: str) -> int:
    text = httpx.get(url + "/metrics", timeout=10).text
    return int(float(re.search(r"^avatar_event_loop_tasks (\S+)", text, re.M).group(1)))


def sessions(url: str) -> int:
    return httpx.get(url + "/api/performance", timeout=10).json()["data"]["active_connections"]


class Sampler(threading.Thread):
    def __init__(self, url: str, pid: int, llama_pid: int | None, every_s: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.url, self.pid, self.llama_pid, self.every_s = url, pid, llama_pid, every_s
        self.rows: list[dict] = []
        self.stop_at = threading.Event()
        self.t0 = time.monotonic()

    def sample(self) -> dict:
        row = {"s": round(time.monotonic() - self.t0, 1), "rss_mb": round(rss_mb(self.pid), 1),
               "llama_rss_mb": round(rss_mb(self.llama_pid), 1) if self.llama_pid else None,
               "tasks": loop_tasks(self.url), "fds": open_fds(self.pid),
               "sessions": sessions(self.url), "load1": round(os.getloadavg()[0], 2)}
        self.rows.append(row)
        return row

    def run(self) -> None:
        while not self.stop_at.wait(self.every_s):
            try:
                self.sample()
            except (httpx.HTTPError, OSError):
                pass


def settle(url: str, timeout_s: float = 60.0) -> None:
    """Until every session has closed on the server, then a few seconds for its clean-up."""
    deadline = time.monotonic() + timeout_s
    while sessions(url) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(5.0)


def plot(rows: list[dict], warm_s: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = [r["s"] / 60 for r in rows]
    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    a.plot(s, [r["rss_mb"] for r in rows], label="server RSS (MiB)")
    if rows and rows[0]["llama_rss_mb"] is not None:
        a.plot(s, [r["llama_rss_mb"] for r in rows], label="llama.cpp RSS (MiB)")
    a.axvline(warm_s / 60, color="grey", linestyle=":", label="end of warm-up")
    a.set_ylabel("MiB")
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
    b.plot(s, [r["tasks"] for r in rows], label="event-loop tasks")
    b.plot(s, [r["fds"] for r in rows], label="open descriptors")
    b.plot(s, [r["sessions"] for r in rows], label="sessions")
    b.set_xlabel("minutes")
    b.legend(fontsize=8)
    b.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--users", type=int, default=5, help="mixed, weights 3 typed : 1 REST : 1 voice")
    ap.add_argument("--warm-up-s", type=float, default=60.0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    out = args.out or run.ROOT / "var" / "loadtest" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    speech.questions(), speech.interjection(), speech.story()
    proc, url = run.start_server()
    try:
        run.wait_up(url, proc)
        health = httpx.get(url + "/api/health", timeout=10).json()["data"]
        llama_pid = (health.get("llm_embedded") or {}).get("pid")
        sampler = Sampler(url, proc.pid, llama_pid)
        before = sampler.sample()  # idle, before any user
        sampler.start()
        rc = run.locust(url, out, run.CLASSES["mixed"], users=args.users,
                        run_time_s=args.minutes * 60)
        settle(url)
        sampler.stop_at.set()
        after = sampler.sample()
        perf = httpx.get(url + "/api/performance", timeout=10).json()["data"]
    finally:
        run.stop_server(proc)

    rows = sampler.rows
    during = [r for r in rows[1:-1] if r["s"] >= before["s"] + args.warm_up_s]
    warm, end = (during[0], during[-1]) if during else (before, after)
    # RSS under load swings with the work in flight (Piper's arena, Whisper's buffers) and
    # drops when they are given back at idle moments (realtime/heap.py): single samples say
    # where in that swing they fell. Growth compares the median of the first third of the
    # samples after the warm-up with the median of the last third.
    third = max(1, len(during) // 3)
    first_mb = statistics.median(r["rss_mb"] for r in during[:third]) if during else warm["rss_mb"]
    last_mb = statistics.median(r["rss_mb"] for r in during[-third:]) if during else end["rss_mb"]
    growth = (last_mb - first_mb) / first_mb
    summary = report.summarize(report.load(out / "requests.csv"), 2000.0, [args.users])
    errors = summary["failures"] + perf["failed_requests"] + (1 if rc else 0)
    verdict = {
        "minutes": args.minutes, "users": args.users, "cores": os.cpu_count(),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "load_average_1min_mean": round(sum(r["load1"] for r in rows) / len(rows), 2),
        "turns": perf["total_requests"], "requests": summary["requests"], "errors": errors,
        "rss_mb": {"idle": before["rss_mb"], "after_warm_up": warm["rss_mb"],
                   "end_of_load": end["rss_mb"], "after": after["rss_mb"],
                   "median_first_third": round(first_mb, 1),
                   "median_last_third": round(last_mb, 1),
                   "min_during": min(r["rss_mb"] for r in during) if during else None,
                   "max_during": max(r["rss_mb"] for r in during) if during else None},
        "rss_growth": round(growth, 4),
        "rss_growth_single_samples": round((end["rss_mb"] - warm["rss_mb"]) / warm["rss_mb"], 4),
        "llama_rss_mb": {"after_warm_up": warm["llama_rss_mb"], "end": end["llama_rss_mb"]},
        "tasks": {"idle_before": before["tasks"], "after": after["tasks"],
                  "max_during": max(r["tasks"] for r in rows)},
        "fds": {"idle_before": before["fds"], "after": after["fds"],
                "max_during": max(r["fds"] for r in rows)},
        "latency_ms": summary["table"],
    }
    ok = {"0 errors": errors == 0, "RSS growth < 10 %": growth < 0.10,
          "no leaked tasks": after["tasks"] <= before["tasks"],
          "no leaked descriptors": after["fds"] <= before["fds"]}
    verdict["checks"] = ok
    (out / "soak.json").write_text(json.dumps(verdict, indent=2))
    with open(out / "samples.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plot(rows, before["s"] + args.warm_up_s, out / "soak.png")
    report.print_table(summary)
    print(json.dumps({k: v for k, v in verdict.items() if k != "latency_ms"}, indent=2))
    print("soak:", "PASSED" if all(ok.values()) else "FAILED", ok, f"-> {out}")
    return 0 if all(ok.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
