"""The load run's figures against concurrent users, from the per-request log the locustfile
writes (``requests.csv``: t, name, ms, ok, users): a table, the capacity (the most users at which
the turn p95 stays under the budget with no error at all), and a PNG plot (latency percentiles
and errors against users).

    python loadtest/report.py OUT_DIR [--budget-ms 2000]
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

# the turn latency a person feels: first answer audio after a typed question, or after the end of
# their speech (the metrics the capacity is judged on)
TURN_METRICS = ("ws typed: first audio", "voice: end of speech -> first audio")


def load(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{"t": float(r["t"]), "name": r["name"], "ms": float(r["ms"]), "ok": r["ok"] == "1",
                 "users": int(r["users"])} for r in csv.DictReader(f)]


def summarize(rows: list[dict], budget_ms: float, steps: list[int] | None = None) -> dict:
    """Per step of concurrent users (``steps``: the run's levels; requests that ended while
    users were being started or stopped between them are left out)."""
    if steps:
        rows = [r for r in rows if r["users"] in steps]
    by = defaultdict(list)
    errors = defaultdict(int)
    for r in rows:
        if r["ok"]:
            by[(r["name"], r["users"])].append(r["ms"])
        else:
            errors[r["users"]] += 1
    levels = sorted({r["users"] for r in rows if r["users"] > 0})
    names = sorted({r["name"] for r in rows})
    table = {}
    for name in names:
        for users in levels:
            v = by.get((name, users))
            if v:
                table.setdefault(name, {})[users] = {
                    "n": len(v), "p50": float(np.percentile(v, 50)),
                    "p95": float(np.percentile(v, 95)), "max": float(max(v))}
    held = None
    for users in levels:
        turns = [table[n][users] for n in TURN_METRICS if users in table.get(n, {})]
        if turns and errors.get(users, 0) == 0 and all(t["p95"] < budget_ms for t in turns):
            held = users
        else:
            break  # capacity: every step up to it held
    return {"levels": levels, "table": table, "errors": {u: errors.get(u, 0) for u in levels},
            "budget_ms": budget_ms, "capacity_users": held, "requests": len(rows),
            "failures": sum(errors.values())}


def plot(summary: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = summary["levels"]
    fig, (ax, ax_err) = plt.subplots(2, 1, figsize=(8, 7), sharex=True,
                                     gridspec_kw={"height_ratios": [3, 1]})
    for name, per in sorted(summary["table"].items()):
        xs = [u for u in levels if u in per]
        if not xs:
            continue
        line, = ax.plot(xs, [per[u]["p95"] / 1000 for u in xs], marker="o", label=f"{name} p95")
        ax.plot(xs, [per[u]["p50"] / 1000 for u in xs], marker=".", linestyle="--",
                color=line.get_color(), label=f"{name} p50")
    ax.axhline(summary["budget_ms"] / 1000, color="red", linewidth=1, linestyle=":",
               label=f"budget {summary['budget_ms'] / 1000:g} s")
    ax.set_ylabel("latency (s)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    ax_err.bar(levels, [summary["errors"][u] for u in levels], color="firebrick", width=0.6)
    ax_err.set_ylabel("errors")
    ax_err.set_xlabel("concurrent users")
    ax_err.set_xticks(levels)
    ax_err.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_table(summary: dict) -> None:
    print(f"{'request':40s} {'users':>5s} {'n':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}")
    for name, per in sorted(summary["table"].items()):
        for users, s in sorted(per.items()):
            print(f"{name:40s} {users:5d} {s['n']:5d} {s['p50']:8.0f} {s['p95']:8.0f} "
                  f"{s['max']:8.0f}")
    print("errors per step:", summary["errors"])
    cap = summary["capacity_users"]
    print(f"capacity: {cap if cap is not None else 'none of the steps'} concurrent users with turn "
          f"p95 < {summary['budget_ms']:.0f} ms and 0 errors")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--budget-ms", type=float, default=2000.0)
    ap.add_argument("--title", default="Avatar server under load")
    ap.add_argument("--steps", default="", help="the run's user counts, e.g. 2,4,6")
    args = ap.parse_args(argv)
    steps = [int(n) for n in args.steps.split(",") if n]
    summary = summarize(load(args.out / "requests.csv"), args.budget_ms, steps)
    plot(summary, args.out / "report.png", args.title)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print_table(summary)
    return summary


if __name__ == "__main__":
    main()
