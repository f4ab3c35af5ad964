"""Smoke run of benchmarks/claims.py: it seeds claimable encounters with their bills, streams their
dossiers (read, build, validate, sign) at two sizes in fresh processes, and its last line is the
JSON summary with every figure beside its target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs a PostgreSQL server URL")
def test_claims_benchmark_quick_run_reports_rate_queries_and_memory_beside_targets():
    # given a benchmark database of its own, named after this run's database
    base_name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/") or "ehealth"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}

    # when the benchmark runs small: 400 encounters, read 100 at a time (4 chunks in the full
    # stream, 1 in the small one), 5 dossiers through the service
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "claims.py"),
            "--quick",
            "--encounters",
            "400",
            "--patients",
            "1000",
            "--chunk",
            "100",
            "--service-sample",
            "5",
            "--db-name",
            f"{base_name}_claims_smoke",
            "--quiet",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )

    # then it succeeds and the last line is one JSON object with every figure and its target
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    rate = summary["dossiers_per_s"]
    assert rate["target"] == ">=200" and rate["value"] > 0
    assert rate["ok"] == (rate["value"] >= 200)
    # every dossier of the full stream was built, and the seeded records make valid dossiers
    assert rate["dossiers"] == 400 and rate["invalid"] == 0
    queries = summary["queries_per_dossier"]
    assert queries["target"] == "<1" and 0 < queries["value"] < 1
    # one set of queries per chunk, the same at both sizes
    assert queries["per_chunk_small"] == queries["per_chunk_full"] <= 16
    memory = summary["peak_memory_ratio"]
    assert memory["target"] == "<1.1"
    assert (memory["small"]["dossiers"], memory["full"]["dossiers"]) == (80, 400)
    assert memory["value"] == pytest.approx(
        memory["full"]["peak_rss_mb"] / memory["small"]["peak_rss_mb"], abs=0.001
    )
    assert memory["ok"] == (memory["value"] < 1.1)
    assert summary["service_dossiers_per_s"]["dossiers"] == 5
    context = summary["context"]
    assert context["encounters"] == 400 and context["signed"] is True
    # about 25 charge lines per encounter, stays included
    assert 15 <= context["lines_per_encounter"] <= 35 and context["inpatient"] > 0
    assert set(context["stage_ms_per_dossier"]) == {"read", "build", "validate", "sign"}
