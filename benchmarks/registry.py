"""Registry benchmark: seed N patients, then time search through the selector beside its bare SQL.

    .venv/bin/python benchmarks/registry.py [--quick] [--patients N] [--queries Q]

- Database: a dedicated one, `ehealth_bench` (`--db-name`), on the server of `DATABASE_URL` (or of
  the embedded server when unset); created and migrated when missing. Its patient tables are
  emptied (TRUNCATE ... CASCADE) before each run, so runs are comparable; no other database is
  touched.
- Seed: `ehealth.core.demo.patients_seed` (COPY in chunks, the same code as `seed_demo`). The rate
  covers generation, COPY, index maintenance, and ANALYZE; a VACUUM follows outside the timing, as
  after any bulk load.
- Queries: for each of name search without diacritics ("nguyen van an"), CCCD and card lookup,
  Q values (default 200) of patients enrolled at the main demo hospital, searched by its
  receptionist. "selector" = `patients.selectors.patient_search(user=..., query=...)`: permission
  check, query, and its audit entries. "bare" = `cursor.execute` + fetchall of exactly the SQL of
  `patient_search_queryset(user=..., query=...)` with the selector's page size (50). Each value is
  timed both ways, interleaved, after a warm-up. (When the selector hands back a RawQuerySet, its
  SQL already carries the page limit.)
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
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path, where benchmarks/fhir.py would shadow the
# `fhir` package (fhir.resources): the project root takes its place.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

TARGETS = {
    "seed_rate_per_s": (">=", 20_000),
    "name_search_median_ms": ("<", 50),
    "cccd_lookup_median_ms": ("<", 5),
    "card_lookup_median_ms": ("<", 5),
    "name_search_ratio": ("<", 3),
    "cccd_lookup_ratio": ("<", 3),
    "card_lookup_ratio": ("<", 3),
}


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _ensure_database(url: str, name: str) -> None:
    import psycopg2
    from psycopg2 import sql

    maintenance = _with_database(url, "postgres")
    conn = psycopg2.connect(_libpq_dsn(maintenance))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def _libpq_dsn(url: str) -> str:
    """postgres://user@/db?host=/socket (embedded) is not a libpq URI: turn it into key=value."""
    from urllib.parse import parse_qs, unquote

    parts = urlsplit(url)
    options = {k: v[0] for k, v in parse_qs(parts.query).items()}
    dsn = {
        "dbname": parts.path.lstrip("/"),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "host": parts.hostname or options.get("host", ""),
        "port": str(parts.port or ""),
    }
    return " ".join(f"{k}={v}" for k, v in dsn.items() if v)


def setup_django(db_name: str) -> str:
    """Point Django at the benchmark database (created if missing) and set it up."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "ehealth.settings.local"
    os.environ["DEBUG"] = "False"  # no query log: time the code, not the debug toolbar of Django
    base = os.environ.get("DATABASE_URL")
    if not base:
        from ehealth.embedded import embedded_database_url

        base = embedded_database_url()
    url = _with_database(base, db_name)
    _ensure_database(base, db_name)
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()
    return url


def prepare(*, verbose: bool):
    """Migrate, load reference data and demo staff; empty the patient tables."""
    from django.core.management import call_command
    from django.db import connection

    from ehealth.core.demo import departments_seed, staff_seed
    from ehealth.core.reference import reference_load_all
    from patients.models import Patient, PatientIdentifier, RecordNumberCounter

    call_command("migrate", interactive=False, verbosity=0)
    loaded = reference_load_all()
    departments_seed(loaded.facilities)
    staff_seed(rng=random.Random(1))
    with connection.cursor() as cursor:
        tables = [Patient, PatientIdentifier, RecordNumberCounter]
        cursor.execute(
            f"TRUNCATE {', '.join(m._meta.db_table for m in tables)} RESTART IDENTITY CASCADE"
        )
    if verbose:
        print("Database ready; patient tables emptied.", flush=True)


def seed(*, patients: int, chunk: int, verbose: bool) -> float:
    from django.db import connection

    from ehealth.core.demo import enrollment_facilities, patients_seed
    from patients.models import Patient, PatientIdentifier

    def progress(done: int, seconds: float) -> None:
        if verbose:
            print(f"  seeded {done:,} ({done / seconds:,.0f}/s)", flush=True)

    result = patients_seed(
        count=patients,
        seed=2026,
        facilities=enrollment_facilities(),
        chunk_size=chunk,
        progress=progress,
    )
    with connection.cursor() as cursor:  # untimed post-load maintenance
        cursor.execute(f"VACUUM ANALYZE {Patient._meta.db_table}")
        cursor.execute(f"VACUUM ANALYZE {PatientIdentifier._meta.db_table}")
    print(
        f"Seeded {result.patients:,} patients and {result.identifiers:,} identifiers in "
        f"{result.seconds:.1f} s: {result.rate:,.0f} patients/s",
        flush=True,
    )
    return result.rate


def sample_queries(*, facility_id: int, count: int, rng: random.Random) -> dict[str, list[str]]:
    """Names (folded, no diacritics), CCCDs and cards of patients enrolled at the facility."""
    from django.db import connection

    from patients.normalize import fold

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.full_name, "
            "(SELECT value FROM patients_patientidentifier c WHERE c.patient_id = p.id "
            " AND c.system = 'cccd' LIMIT 1), "
            "(SELECT value FROM patients_patientidentifier b WHERE b.patient_id = p.id "
            " AND b.system = 'bhyt' LIMIT 1) "
            "FROM patients_patientidentifier m JOIN patients_patient p ON p.id = m.patient_id "
            "WHERE m.system = 'mrn' AND m.facility_id = %s AND m.id %% 7 = 3 LIMIT %s",
            [facility_id, count * 20],
        )
        rows = cursor.fetchall()
    rng.shuffle(rows)
    names = [fold(r[0]) for r in rows[:count]]
    cccds = [r[1] for r in rows if r[1]][:count]
    cards = [r[2] for r in rows if r[2]][:count]
    return {"name_search": names, "cccd_lookup": cccds, "card_lookup": cards}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def bare_sql(queryset, page: int) -> tuple[str, object]:
    """Exactly the SQL and parameters behind `patient_search_queryset` (raw or ORM)."""
    from django.db.models.query import RawQuerySet

    if isinstance(queryset, RawQuerySet):  # hand-written SQL: already limited to the page
        return queryset.raw_query, queryset.params
    return queryset[:page].query.sql_with_params()


def time_queries(*, user, values: list[str], page: int = 50) -> dict[str, float]:
    """Median and p95 of the selector and of its bare SQL, interleaved per value."""
    from django.db import connection

    from patients.selectors import patient_search, patient_search_queryset

    def selector(value: str) -> tuple[float, int]:
        start = time.perf_counter()
        found = patient_search(user=user, query=value)
        return time.perf_counter() - start, len(found)

    def bare(value: str) -> float:
        sql, params = bare_sql(patient_search_queryset(user=user, query=value), page)
        with connection.cursor() as cursor:
            start = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            return time.perf_counter() - start

    for value in values[:10]:  # warm-up: caches, plans, the user's permission map
        selector(value)
        bare(value)
    selector_times, bare_times, found = [], [], 0
    for value in values:
        elapsed, hits = selector(value)
        selector_times.append(elapsed)
        bare_times.append(bare(value))
        found += bool(hits)
    p95 = lambda xs: sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)]  # noqa: E731
    return {
        "median_ms": _ms(statistics.median(selector_times)),
        "p95_ms": _ms(p95(selector_times)),
        "bare_median_ms": _ms(statistics.median(bare_times)),
        "bare_p95_ms": _ms(p95(bare_times)),
        "found": found,
        "queries": len(values),
    }


def _figure(key: str, value: float) -> dict:
    op, target = TARGETS[key]
    ok = value >= target if op == ">=" else value < target
    return {"value": value, "target": f"{op}{target}", "ok": ok}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 patients (smoke run).")
    parser.add_argument("--patients", type=int, help="Patients to seed (default 1,000,000).")
    parser.add_argument("--queries", type=int, default=200, help="Queries per kind (>= 200).")
    parser.add_argument("--chunk", type=int, default=50_000, help="Patients per COPY chunk.")
    parser.add_argument("--db-name", default="ehealth_bench", help="Benchmark database name.")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only the result lines.")
    args = parser.parse_args(argv)
    patients = args.patients or (20_000 if args.quick else 1_000_000)
    verbose = not args.quiet

    setup_django(args.db_name)
    from ehealth.core.demo import MAIN_HOSPITAL
    from ehealth.core.models import Facility, User

    prepare(verbose=verbose)
    rate = seed(patients=patients, chunk=args.chunk, verbose=verbose)

    user = User.objects.get(username="letan.bvdn")
    facility = Facility.objects.get(name=MAIN_HOSPITAL)
    queries = sample_queries(facility_id=facility.pk, count=args.queries, rng=random.Random(7))
    timings = {}
    for kind, values in queries.items():
        timings[kind] = time_queries(user=user, values=values)
        t = timings[kind]
        ratio = t["median_ms"] / t["bare_median_ms"] if t["bare_median_ms"] else float("inf")
        t["ratio"] = round(ratio, 2)
        print(
            f"{kind:<12} selector median {t['median_ms']:8.2f} ms  p95 {t['p95_ms']:8.2f} ms | "
            f"bare SQL median {t['bare_median_ms']:8.2f} ms  p95 {t['bare_p95_ms']:8.2f} ms | "
            f"ratio {t['ratio']:.2f} | {t['found']}/{t['queries']} found",
            flush=True,
        )

    result = {"seed_rate_per_s": _figure("seed_rate_per_s", round(rate))}
    for kind, t in timings.items():
        result[f"{kind}_median_ms"] = _figure(f"{kind}_median_ms", t["median_ms"])
        result[f"{kind}_p95_ms"] = {"value": t["p95_ms"], "target": None, "ok": None}
        result[f"{kind}_bare_median_ms"] = {
            "value": t["bare_median_ms"],
            "target": None,
            "ok": None,
        }
        result[f"{kind}_bare_p95_ms"] = {"value": t["bare_p95_ms"], "target": None, "ok": None}
        result[f"{kind}_ratio"] = _figure(f"{kind}_ratio", t["ratio"])
    result["context"] = {
        "patients": patients,
        "queries_per_kind": {k: t["queries"] for k, t in timings.items()},
        "database": args.db_name,
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
