"""Smoke runs of benchmarks/billing.py: each part runs and its last line is the JSON summary with
every figure beside its target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

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


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs a PostgreSQL server URL")
def test_billing_benchmark_quick_run_times_the_stay_invoice_and_the_receipt_beside_targets():
    # given a benchmark database of its own, named after this run's database
    base_name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/") or "ehealth"

    # when the database parts run small: a 300-line stay, 3 receipts
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "billing.py"),
            "--quick",
            "--only",
            "invoice",
            "--only",
            "receipt",
            "--stay-lines",
            "300",
            "--receipts",
            "3",
            "--db-name",
            f"{base_name}_billing_smoke",
            "--quiet",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # then it succeeds; the stay had its 300 lines, derivation is idempotent, the query count of
    # a 200-line stay equals that of the 300-line one, and the receipt was rendered
    assert completed.returncode == 0, completed.stderr[-2000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    stay = summary["invoice_stay_s"]
    assert stay["target"] == "<1" and stay["lines"] == 300
    assert stay["ok"] == (stay["value"] < 1)
    assert summary["invoice_rerun_s"]["ok"] is True
    queries = summary["invoice_queries"]
    assert queries["ok"] is True
    assert queries["with_200_lines"] == queries["with_300_lines"] == queries["value"]
    receipt = summary["receipt_median_ms"]
    assert receipt["target"] == "<100" and receipt["lines"] == 11 and receipt["bytes"] > 10_000
    assert summary["context"]["parts"] == ["invoice", "receipt"]
