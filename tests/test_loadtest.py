"""The load suite's smoke (CI runs only this; loadtest/run.py and loadtest/soak.py are the real
runs): Locust, headless, bounded in users and time, against the live server on loopback, with a
WebSocket typed user, a REST user and a voice user who speaks over every answer. It must finish
with 0 failures and write Locust's CSV and HTML report, the per-request log and the PNG plot."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "loadtest"))

import report  # noqa: E402
import run  # noqa: E402

pytestmark = pytest.mark.slow


def test_a_short_mixed_load_runs_clean_and_writes_its_report(live, tmp_path):
    rc = run.locust(live.url, tmp_path, run.CLASSES["mixed"], users=3, run_time_s=20,
                    barge_in=1.0, max_tokens=40)
    summary = report.main([str(tmp_path), "--steps", "3", "--title", "smoke"])
    assert rc == 0 and summary["failures"] == 0, (tmp_path / "locust_failures.csv").read_text()
    names = set(summary["table"])
    assert {"ws typed: first audio", "ws typed: done", "REST /api/chat",
            "voice: end of speech -> first audio", "voice: barge-in -> interrupted"} <= names, names
    for f in ("locust_stats.csv", "locust_stats_history.csv", "report.html", "requests.csv",
              "summary.json", "report.png"):
        assert (tmp_path / f).stat().st_size > 0, f
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "REST /api/chat" in (tmp_path / "locust_stats.csv").read_text()
