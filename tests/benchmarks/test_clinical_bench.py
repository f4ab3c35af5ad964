"""Smoke run of benchmarks/clinical.py: it seeds, times the doctor's pages, and its last line is the
JSON summary with every figure beside its target."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.db.models import Count

from ehealth.core.models import ClinicRoom, Facility, User
from patients.models import (
    Diagnosis,
    Encounter,
    PatientIdentifier,
    QueueTicket,
    ResultValue,
    VitalSigns,
)

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["worklist", "visit", "patient_page"]


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs a PostgreSQL server URL")
def test_clinical_benchmark_quick_run_reports_page_times_and_query_counts_beside_targets():
    # given a benchmark database of its own, named after this run's database
    base_name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/") or "ehealth"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}

    # when the benchmark runs small (two encounter chunks, so both writer threads run)
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "clinical.py"),
            "--quick",
            "--patients",
            "2000",
            "--encounters",
            "3000",
            "--encounter-chunk",
            "2000",
            "--samples",
            "5",
            "--db-name",
            f"{base_name}_clinical_smoke",
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
    assert summary["seed_rate_per_s"]["target"] == ">=20000"
    assert summary["seed_rate_per_s"]["value"] > 0
    for page in PAGES:
        median = summary[f"{page}_median_ms"]
        assert set(median) == {"value", "target", "ok"}
        assert median["target"] == "<150" and median["value"] > 0
        assert median["ok"] == (median["value"] < 150)
        assert summary[f"{page}_p95_ms"]["value"] >= median["value"]
        queries = summary[f"{page}_queries"]
        # both counts reported; ok only when the page's query count did not grow
        assert queries["target"] == "constant"
        assert queries["with_1"] > 0 and queries["with_50"] > 0
        assert queries["ok"] == (queries["with_1"] == queries["with_50"])
    assert summary["patient_page_50_median_ms"]["target"] == "<150"
    # the probes and the bulk are all there: 3,000 encounters plus 1 + 50 for the probes
    assert summary["context"]["encounters"] == 3000 + 51
    assert summary["context"]["rows"]["diagnosis"] >= summary["context"]["encounters"] // 2
    assert summary["context"]["rows"]["ticket"] >= 51  # room A's queue of 50 and room B's 1


@pytest.mark.django_db
def test_seed_demo_encounters_keep_every_constraint_and_queue_the_demo_doctors_room():
    # given an empty database; when the demo is seeded with encounters
    out = io.StringIO()
    call_command("seed_demo", "--patients", "300", "--encounters", "600", "--seed", "5", stdout=out)

    # then the encounters are all there, each at a facility where the patient has a record number
    assert Encounter.objects.count() == 600
    enrolled = set(
        PatientIdentifier.objects.filter(system="mrn").values_list("patient_id", "facility_id")
    )
    pairs = set(Encounter.objects.values_list("patient_id", "facility_id"))
    assert pairs <= enrolled
    # past visits are concluded and locked, with 1 to 3 distinct diagnoses, one main (rank 0)
    examined = Encounter.objects.filter(status__in=["concluded", "discharged"])
    assert examined.count() >= 500
    per_phase = Counter(
        Diagnosis.objects.filter(encounter__kind="outpatient").values_list("encounter", "rank")
    )
    assert max(per_phase.values()) == 1  # rank unique per encounter (one phase outpatient)
    ranks = (
        Diagnosis.objects.filter(encounter__in=examined, phase="encounter")
        .values("encounter")
        .annotate(n=Count("id"))
    )
    assert {r["n"] for r in ranks} <= {1, 2, 3}
    assert VitalSigns.objects.filter(temperature__gt=42).count() == 0
    assert ResultValue.objects.exclude(flag="").exclude(flag__in=["L", "N", "H"]).count() == 0
    # today's queue of the demo doctor's room is numbered 1..20 in arrival order
    main = Facility.objects.get(name="Bệnh viện Đà Nẵng")
    room = ClinicRoom.objects.filter(department__facility=main).order_by("pk").first()
    tickets = list(QueueTicket.objects.filter(room=room).order_by("number"))
    assert [t.number for t in tickets] == list(range(1, 21))
    assert [t.issued_at for t in tickets] == sorted(t.issued_at for t in tickets)
    assert {t.encounter.status for t in tickets[:3]} == {"concluded"}
    assert tickets[-1].encounter.status == "arrived"
    doctor = User.objects.get(username="bacsi.bvdn")
    assert Encounter.objects.filter(facility=main, attending=doctor).exists()
    # and the id sequences were moved past the ids written with COPY
    fresh = Encounter.objects.create(
        patient_id=tickets[0].encounter.patient_id,
        facility=main,
        kind="outpatient",
        visit_type="01",
        status="arrived",
        arrival_mode="registered",
        started_at=tickets[0].issued_at,
    )
    assert fresh.pk > max(Encounter.objects.exclude(pk=fresh.pk).values_list("pk", flat=True))
    assert "Lượt khám/điều trị: 600" in out.getvalue()
