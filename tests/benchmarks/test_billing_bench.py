"""Smoke run of benchmarks/billing.py: the engine part runs and its last line is the JSON summary
with every figure beside its target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_billing_benchmark_quick_run_reports_engine_lines_per_second_beside_target():
    # given the benchmark script, engine part (no database needed)
    # when it runs small
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "billing.py"),
            "--quick",
            "--only",
            "engine",
            "--lines",
            "3000",
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # then it succeeds and the last line is one JSON object: the figure, its target, ok
    assert completed.returncode == 0, completed.stderr[-2000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    engine = summary["engine_lines_per_s"]
    assert engine["target"] == ">=50000"
    assert engine["value"] > 0
    assert engine["ok"] == (engine["value"] >= 50_000)
    assert engine["lines"] >= 3000 and engine["visits"] > 0
    assert summary["context"]["parts"] == ["engine"]
    assert summary["context"]["quick"] is True
