"""Smoke run of benchmarks/registry.py: it runs end to end and its last line is the JSON summary."""

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
def test_benchmark_quick_run_prints_every_figure_beside_its_target():
    # given a benchmark database of its own, named after this run's database
    base_name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/") or "ehealth"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}

    # when the benchmark runs small (two COPY chunks, so the writer thread runs too)
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "registry.py"),
            "--quick",
            "--patients",
            "2000",
            "--chunk",
            "1000",
            "--queries",
            "20",
            "--db-name",
            f"{base_name}_bench_smoke",
            "--quiet",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # then it succeeds and the last line is one JSON object with every figure and its target
    assert completed.returncode == 0, completed.stderr[-2000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    for key in [
        "seed_rate_per_s",
        "name_search_median_ms",
        "name_search_ratio",
        "cccd_lookup_median_ms",
        "cccd_lookup_ratio",
        "card_lookup_median_ms",
        "card_lookup_ratio",
    ]:
        assert set(summary[key]) == {"value", "target", "ok"}
        assert summary[key]["target"] and summary[key]["value"] > 0
    assert summary["context"]["patients"] == 2000
    # every sampled query found its patient through the selector
    assert completed.stdout.count("20/20 found") == 3
