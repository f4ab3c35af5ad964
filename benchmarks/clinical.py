"""Clinical benchmark: seed N patients and M encounters, then time the doctor's pages.

    .venv/bin/python benchmarks/clinical.py [--quick] [--patients N] [--encounters M] [--samples S]

- Database: a dedicated one, `ehealth_bench_clinical` (`--db-name`), prepared by
  `benchmarks/registry.py` (created and migrated when missing, reference data and demo staff
  loaded, patient tables emptied with TRUNCATE ... CASCADE, which empties the clinical tables too).
- Seed: patients with `benchmarks.registry.seed` (COPY, the same code as `seed_demo`), then
  encounters with `patients.clinical.demo.encounters_seed` (COPY in chunks, the same code as
  `seed_demo --encounters`): diagnoses, vitals, orders with results, prescriptions with items,
  today's queues. The reported rate (encounters/s) covers generation, COPY, index maintenance
  and ANALYZE; a VACUUM ANALYZE follows outside the timing.
- Two probe patients at the main demo hospital: one with exactly 1 encounter (today, alone in
  room B) and one with exactly 50 (49 past visits, and one today in room A, whose queue holds 50
  tickets). Both of today's visits are in examination with the same content (3 diagnoses, vitals,
  a resulted lab and imaging order, a 3-drug prescription).
- Pages, as the main hospital's doctor (`bacsi.bvdn`, logged in through the Django test client):
  `clinic:worklist` (`?room=` room A), `clinic:visit` (encounters of the hospital, sampled) and
  the patient page: `patients:detail` plus the city-wide record it loads into itself with HTMX
  (`clinic:patient_record`), timed and counted together (patients of the hospital, sampled; and
  the 50-encounter probe on its own). Server time = the test client's requests, after a warm-up;
  S page views per page (default 100).
- Query counts (CaptureQueriesContext): each page for the 1-encounter probe and for the
  50-encounter one (for the worklist: room B, 1 ticket, against room A, 50 tickets). `ok` only if
  both counts are equal. `--explain` prints EXPLAIN ANALYZE of each page's slowest query.
- Output: readable lines, then as the LAST line one JSON object: each figure beside its target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path, where benchmarks/fhir.py would shadow the
# `fhir` package (fhir.resources): the project root takes its place.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

from benchmarks.registry import prepare, seed, setup_django  # noqa: E402

DOCTOR = "bacsi.bvdn"
PAGE_TARGET_MS = 150
SEED_TARGET_PER_S = 20_000
WARM_UP = 5


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


def seed_encounters(*, encounters: int, chunk: int, verbose: bool):
    """Encounters over the seeded patients, with the two probes at the main hospital."""
    from django.db import connection

    from ehealth.core.demo import MAIN_HOSPITAL
    from ehealth.core.models import ClinicRoom, Facility
    from patients.clinical.demo import TABLES, ProbePlan, clinic_rooms_ensure, encounters_seed
    from patients.models import PatientIdentifier

    main = Facility.objects.get(name=MAIN_HOSPITAL)
    room_ids = clinic_rooms_ensure()[main.pk]
    room_a, room_b = ClinicRoom.objects.get(pk=room_ids[0]), ClinicRoom.objects.get(pk=room_ids[1])
    # Two patients with a record number here and nowhere else (so nothing else is seeded for them).
    enrolled = (
        PatientIdentifier.objects.filter(system="mrn", facility=main, voided_at__isnull=True)
        .order_by("patient_id")
        .values_list("patient_id", flat=True)[:200]
    )
    elsewhere = set(
        PatientIdentifier.objects.filter(system="mrn", patient_id__in=list(enrolled))
        .exclude(facility=main)
        .values_list("patient_id", flat=True)
    )
    one, fifty = [p for p in enrolled if p not in elsewhere][:2]
    probes = [
        ProbePlan(patient_id=one, facility_id=main.pk, past=0, today_room_id=room_b.pk),
        ProbePlan(patient_id=fifty, facility_id=main.pk, past=49, today_room_id=room_a.pk),
    ]

    def progress(done: int, seconds: float) -> None:
        if verbose:
            print(f"  encounters {done:,} ({done / seconds:,.0f}/s)", flush=True)

    result = encounters_seed(
        count=encounters,
        seed=2026,
        focus_room=room_a,
        focus_queue=50,
        room_queues={room_b.pk: 1},
        probes=probes,
        chunk_size=chunk,
        progress=progress,
    )
    with connection.cursor() as cursor:  # untimed post-load maintenance
        for _, model, _ in TABLES:
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")  # noqa: S608
    rows = ", ".join(f"{k} {v:,}" for k, v in result.rows.items() if k != "encounter")
    print(
        f"Seeded {result.encounters:,} encounters in {result.seconds:.1f} s: "
        f"{result.rate:,.0f} encounters/s ({rows})",
        flush=True,
    )
    return result, probes, room_a, room_b, main


class Pages:
    """The doctor's browser: a logged-in Django test client, timed and query-counted."""

    def __init__(self, username: str):
        from django.conf import settings
        from django.test import Client

        from ehealth.core.models import User

        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        self.user = User.objects.get(username=username)
        self.client = Client()
        self.client.force_login(self.user)

    def get(self, view: tuple[str, ...]) -> float:
        """Server time of one page view: the page, then the fragments it loads with HTMX."""
        elapsed = 0.0
        for i, url in enumerate(view):
            headers = {"HX-Request": "true"} if i else {}
            start = time.perf_counter()
            response = self.client.get(url, headers=headers)
            elapsed += time.perf_counter() - start
            if response.status_code != 200:
                raise RuntimeError(f"GET {url}: HTTP {response.status_code}")
        return elapsed

    def queries(self, view: tuple[str, ...]) -> tuple[int, list[dict]]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self.get(view)  # warm: caches of the session, permissions, templates
        with CaptureQueriesContext(connection) as ctx:
            self.get(view)
        return len(ctx.captured_queries), list(ctx.captured_queries)

    def time(self, views: list[tuple[str, ...]]) -> dict[str, float]:
        for view in views[:WARM_UP]:
            self.get(view)
        times = [self.get(view) for view in views]
        return {"median_ms": _ms(statistics.median(times)), "p95_ms": _ms(_p95(times))}


def patient_page(patient_id: int) -> tuple[str, ...]:
    """The patient page and the city-wide record it loads into itself (HTMX, on load)."""
    from django.urls import NoReverseMatch, reverse

    page = reverse("patients:detail", args=[patient_id])
    try:
        return (page, reverse("clinic:patient_record", kwargs={"patient_id": patient_id}))
    except NoReverseMatch:
        return (page,)


def explain(queries: list[dict], label: str) -> None:
    """EXPLAIN ANALYZE of the slowest SELECT of a page (for the owners of a slow page)."""
    from django.db import connection

    selects = [q for q in queries if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))]
    if not selects:
        return
    slowest = max(selects, key=lambda q: float(q["time"]))
    print(f"--- {label}: slowest query ({float(slowest['time']) * 1000:.1f} ms)\n{slowest['sql']}")
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
        print("\n".join(row[0] for row in cursor.fetchall()), flush=True)


def sample_targets(*, facility_id: int, samples: int, rng: random.Random) -> dict[str, list[int]]:
    """Encounters of the facility (today's queue and past visits) and patients enrolled there."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM patients_encounter TABLESAMPLE SYSTEM (5) WHERE facility_id = %s "
            "LIMIT %s",
            [facility_id, samples * 5],
        )
        encounters = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            "SELECT DISTINCT patient_id FROM patients_patientidentifier TABLESAMPLE SYSTEM (5) "
            "WHERE system = 'mrn' AND facility_id = %s LIMIT %s",
            [facility_id, samples * 5],
        )
        patients = [r[0] for r in cursor.fetchall()]
    rng.shuffle(encounters)
    rng.shuffle(patients)
    return {"encounters": encounters[:samples], "patients": patients[:samples]}


def _figure(value: float, target: str | None) -> dict:
    """A figure beside its target ('<150', '>=20000'); no target: ok is None."""
    if target is None:
        return {"value": value, "target": None, "ok": None}
    if target.startswith(">="):
        ok = value >= float(target[2:])
    else:
        ok = value < float(target[1:])
    return {"value": value, "target": target, "ok": ok}


def _queries_figure(one: int, fifty: int) -> dict:
    return {
        "value": fifty,
        "target": "constant",
        "ok": one == fifty,
        "with_1": one,
        "with_50": fifty,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 patients, 60,000 encounters.")
    parser.add_argument("--patients", type=int, help="Patients to seed (default 1,000,000).")
    parser.add_argument("--encounters", type=int, help="Encounters to seed (default 3,000,000).")
    parser.add_argument("--samples", type=int, default=100, help="Timed requests per page.")
    parser.add_argument("--chunk", type=int, default=50_000, help="Patients per COPY chunk.")
    parser.add_argument("--encounter-chunk", type=int, default=20_000, help="Encounters per chunk.")
    parser.add_argument("--db-name", default="ehealth_bench_clinical", help="Benchmark database.")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE slowest queries.")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only the result lines.")
    args = parser.parse_args(argv)
    patients = args.patients or (20_000 if args.quick else 1_000_000)
    encounters = args.encounters or (60_000 if args.quick else 3_000_000)
    verbose = not args.quiet

    setup_django(args.db_name)
    from django.urls import reverse

    prepare(verbose=verbose)
    patient_rate = seed(patients=patients, chunk=args.chunk, verbose=verbose)
    result, probes, room_a, room_b, main_hospital = seed_encounters(
        encounters=encounters, chunk=args.encounter_chunk, verbose=verbose
    )
    one, fifty = probes

    pages = Pages(DOCTOR)
    targets = sample_targets(
        facility_id=main_hospital.pk, samples=args.samples, rng=random.Random(11)
    )
    worklist = reverse("clinic:worklist")
    urls = {
        "worklist": ((f"{worklist}?room={room_b.pk}",), (f"{worklist}?room={room_a.pk}",)),
        "visit": (
            (reverse("clinic:visit", args=[one.encounter_ids[-1]]),),
            (reverse("clinic:visit", args=[fifty.encounter_ids[-1]]),),
        ),
        "patient_page": (patient_page(one.patient_id), patient_page(fifty.patient_id)),
    }
    if len(urls["patient_page"][0]) == 1:
        print("clinic:patient_record not found: the patient page is timed without its record")
    counts: dict[str, tuple[int, int]] = {}
    for page, (small, large) in urls.items():
        n_small, _ = pages.queries(small)
        n_large, captured = pages.queries(large)
        counts[page] = (n_small, n_large)
        print(
            f"{page:<13} queries: {n_small} (1 encounter) / {n_large} (50 encounters)", flush=True
        )
        if args.explain:
            explain(captured, page)

    timed_urls = {
        "worklist": [urls["worklist"][1]] * args.samples,
        "visit": [(reverse("clinic:visit", args=[pk]),) for pk in targets["encounters"]],
        "patient_page": [patient_page(pk) for pk in targets["patients"]],
        "patient_page_50": [urls["patient_page"][1]] * args.samples,
    }
    timings = {}
    for page, page_urls in timed_urls.items():
        timings[page] = pages.time(page_urls)
        t = timings[page]
        print(
            f"{page:<16} median {t['median_ms']:8.2f} ms  p95 {t['p95_ms']:8.2f} ms "
            f"({len(page_urls)} requests)",
            flush=True,
        )

    target = f"<{PAGE_TARGET_MS}"
    summary = {
        "seed_rate_per_s": _figure(round(result.rate), f">={SEED_TARGET_PER_S}"),
        "patient_seed_rate_per_s": _figure(round(patient_rate), None),
    }
    for page in ("worklist", "visit", "patient_page"):
        summary[f"{page}_median_ms"] = _figure(timings[page]["median_ms"], target)
        summary[f"{page}_p95_ms"] = _figure(timings[page]["p95_ms"], None)
        summary[f"{page}_queries"] = _queries_figure(*counts[page])
    summary["patient_page_50_median_ms"] = _figure(timings["patient_page_50"]["median_ms"], target)
    summary["patient_page_50_p95_ms"] = _figure(timings["patient_page_50"]["p95_ms"], None)
    summary["context"] = {
        "patients": patients,
        "encounters": result.encounters,
        "rows": result.rows,
        "samples": args.samples,
        "database": args.db_name,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
