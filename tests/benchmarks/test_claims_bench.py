"""Smoke run of benchmarks/claims.py: it seeds claimable encounters with their bills, streams their
dossiers (read, build, validate, sign) at two sizes over two worker processes and once in a single
process, and its last line is the JSON summary with every figure beside its target."""

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

    # when the benchmark runs small over two workers: 400 encounters read 40 at a time (10 chunks
    # in the full stream, 5 per worker; 2 in the small one, 1 per worker), 5 dossiers through the
    # service
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
            "40",
            "--workers",
            "2",
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
    # judged on the parallel stream, the single process beside it
    assert rate["workers"] == 2 and rate["single_process_per_s"] > 0
    assert rate["value"] == pytest.approx(rate["dossiers"] / rate["seconds"], rel=0.01)
    # every dossier of the full stream was built, once, half by each worker, and the seeded
    # records make valid dossiers
    assert rate["dossiers"] == 400 and rate["invalid"] == 0
    assert rate["per_worker_dossiers"] == [200, 200]
    # the workers were released together, and had at most one core each
    assert 0 <= rate["start_skew_s"] < rate["seconds"]
    assert 0 < rate["cores_used"] <= 2.05
    queries = summary["queries_per_dossier"]
    assert queries["target"] == "<1" and 0 < queries["value"] < 1
    # one set of queries per chunk, the same at both sizes and in one process as in two
    assert queries["per_chunk_small"] == queries["per_chunk_full"] == queries["per_chunk_single"]
    assert queries["per_chunk_full"] <= 16
    memory = summary["peak_memory_ratio"]
    assert memory["target"] == "<1.1"
    assert (memory["small"]["dossiers"], memory["full"]["dossiers"]) == (80, 400)
    # one peak per worker at each size; the figure is the largest ratio of a worker's two peaks
    small_peaks, full_peaks = memory["small"]["peak_rss_mb"], memory["full"]["peak_rss_mb"]
    assert len(small_peaks) == len(full_peaks) == 2 and min(small_peaks) > 0
    expected = [round(f / s, 3) for f, s in zip(full_peaks, small_peaks, strict=True)]
    assert memory["per_worker"] == expected and memory["value"] == max(expected)
    assert memory["ok"] == (memory["value"] < 1.1)
    peak = summary["peak_rss_mb"]
    assert peak["per_worker"] == full_peaks and peak["value"] == max(full_peaks)
    assert peak["total_mb"] == pytest.approx(sum(full_peaks), abs=0.2)
    assert peak["single_process_mb"] > 0
    assert summary["service_dossiers_per_s"]["dossiers"] == 5
    context = summary["context"]
    assert context["encounters"] == 400 and context["signed"] is True
    assert context["workers"] == 2
    # seeded by this run (no --reuse), at a measured rate
    assert context["reused"] is False and summary["seed_rate_per_s"]["value"] > 0
    # about 25 charge lines per encounter, stays included
    assert 15 <= context["lines_per_encounter"] <= 35 and context["inpatient"] > 0
    assert set(context["stage_ms_per_dossier"]) == {"read", "build", "validate", "sign"}
