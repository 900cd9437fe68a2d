"""The web client's own checks, from the one test command: vitest (protocol codec, jitter buffer,
viseme timeline -> mouth weights, microphone resampling, backoff, generated-types freshness) and
the TypeScript type check."""

from __future__ import annotations

import json
import subprocess

from tests.web_e2e import WEB, ensure_web_built, node_bin


def test_vitest_suite_passes(tmp_path):
    ensure_web_built()
    report = tmp_path / "vitest.json"
    proc = subprocess.run([node_bin(), "node_modules/vitest/vitest.mjs", "run", "--reporter=json",
                           f"--outputFile={report}"], cwd=WEB, capture_output=True, text=True,
                          timeout=600)
    assert report.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(report.read_text())
    failed = [t["fullName"] for f in r["testResults"] for t in f["assertionResults"]
              if t["status"] != "passed"]
    assert proc.returncode == 0 and r["success"] and not failed, failed or proc.stderr[-3000:]
    assert r["numPendingTests"] == 0 and r["numTodoTests"] == 0  # nothing skipped
    assert r["numPassedTests"] >= 50
    files = {f["name"].rsplit("/", 1)[-1] for f in r["testResults"]}
    assert {"codec.test.ts", "jitter.test.ts", "visemes.test.ts", "protocol-fresh.test.ts"} <= files


def test_typescript_strict_type_check(tmp_path):
    ensure_web_built()
    tsc = WEB / "node_modules" / "typescript" / "bin" / "tsc"
    for project in ("tsconfig.json", "tsconfig.node.json"):
        proc = subprocess.run([node_bin(), str(tsc), "--noEmit", "-p", project], cwd=WEB,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-4000:]
