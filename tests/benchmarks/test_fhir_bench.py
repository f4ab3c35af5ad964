"""Smoke run of benchmarks/fhir.py: it seeds patients and clinical records, serves the API with
gunicorn, loads every phase over keep-alive connections, and its last line is the JSON summary
with every figure beside its target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
PHASES = ["bare", "read", "search_name", "search_identifier", "create", "transaction"]


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs a PostgreSQL server URL")
def test_fhir_benchmark_quick_run_reports_rates_latencies_and_targets():
    # given a benchmark database of its own, named after this run's database
    base_name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/") or "ehealth"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}

    # when the benchmark runs small: 1,000 patients, 6,000 resources, one second per phase
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "fhir.py"),
            "--quick",
            "--patients",
            "1000",
            "--resources",
            "6000",
            "--seconds",
            "1",
            "--warmup",
            "0.2",
            "--connections",
            "2",
            "--bundle-size",
            "10",
            "--samples",
            "200",
            "--db-name",
            f"{base_name}_fhir_smoke",
            "--quiet",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    # then it succeeds and the last line is one JSON object with every figure and its target
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    ratio = summary["read_bare_ratio"]
    assert ratio["target"] == ">=0.6" and ratio["read_rps"] > 0 and ratio["bare_rps"] > 0
    assert ratio["value"] == pytest.approx(ratio["read_rps"] / ratio["bare_rps"], abs=0.002)
    assert ratio["ok"] == (ratio["value"] >= 0.6)
    for phase in ("search_name", "search_identifier"):
        search = summary[f"{phase}_p95_ms"]
        assert search["target"] == "<100" and search["value"] > 0
        assert search["ok"] == (search["value"] < 100)
        # every search found its seeded patient
        assert search["found"] == search["requests"]
    ingest = summary["transaction_resources_per_s"]
    assert ingest["target"] == ">=1000" and ingest["value"] > 0
    assert ingest["ok"] == (ingest["value"] >= 1000) and ingest["bundle_size"] == 10
    for phase in PHASES:
        figure = summary[f"{phase}_rps"]
        assert figure["value"] > 0 and figure["requests"] > 0
        assert figure["p50_ms"] <= figure["p95_ms"] <= figure["p99_ms"]
        assert set(figure["cpu_ms_per_request"]) == {"gunicorn", "postgres", "load"}
    # no refused or failed request in any phase
    assert summary["non_2xx"] == {
        "value": 0,
        "target": "=0",
        "ok": True,
        "per_phase": summary["non_2xx"]["per_phase"],
    }
    assert set(PHASES) <= set(summary["non_2xx"]["per_phase"])
    assert 0 < summary["machine_cpu_busy"]["value"] <= 1
    context = summary["context"]
    assert context["patients"] >= 1000 and context["resources"] >= 6000
    assert set(context["resources_by_type"]) >= {"Patient", "Encounter", "Observation"}
    assert context["server"]["workers"] == 4 and context["connections"] == 2
