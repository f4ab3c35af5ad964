"""Claims benchmark (issue 5): read, build, validate and sign the dossiers of N encounters, streamed.

    .venv/bin/python benchmarks/claims.py [--quick] [--encounters N] [--chunk C] [--no-sign]

- Database: a dedicated one, `ehealth_bench_claims` (`--db-name`), prepared by
  `benchmarks/registry.py` (created and migrated when missing, reference data and demo staff
  loaded, patient tables emptied with TRUNCATE ... CASCADE, which empties the clinical, billing
  and claims tables too).
- Seed: patients with `benchmarks.registry.seed` (COPY), then N claimable encounters with
  `benchmarks.claims_seed.claims_seed` (COPY): concluded outpatient visits and discharged stays at
  the two demo hospitals with staff, with BHYT cards, diagnoses, resulted orders, prescriptions,
  progress notes, and their bills (invoice + charge lines split by the benefit engine), about 25
  lines per encounter. Its rate is reported (no target).
- Stream (the timed part), in a fresh process each time so that its peak memory is the stream's
  own: claimable encounters paged by id, `--chunk` (200) at a time; for each chunk
  `insurance.claims.data.dossier_data_many` (one set of queries for the chunk), then for each
  dossier `build_tables` (XML0–XML7), `dossier_validate` (the XSD of each table and the
  cross-table rules), and, as `dossier_build` does, the GIAMDINHHS envelope of the dossier (tables
  base64-encoded) signed with XML-DSig (`envelope_sign`, RSA-SHA256; the unit's key from settings,
  else a self-signed demo certificate made for the run); `--no-sign` leaves the envelope out.
  Nothing is kept: a chunk is dropped before the next is read. Not included: the writes of
  `dossier_build` (the version row, the dossier's status, the audit entry), measured apart below.
  The stream runs twice: over the first N/5 encounters and over all N. After a warm-up chunk (not
  timed: imports, compiled schemas, the key), the clock and the query counter start.
- Figures: dossiers per second of the full stream (target >= 200); queries per dossier (target
  < 1; per chunk it is the same at both sizes); the peak memory of each stream process
  (`ru_maxrss`) and the ratio full/small (target < 1.1: memory does not grow with the number of
  dossiers); time per stage per dossier.
- Service sample: `insurance.claims.services.dossier_build` (lock, read one encounter, build,
  validate, sign, store the version, audit) for `--service-sample` encounters: per second and
  queries per dossier, no target.
- Output: readable lines, then as the LAST line one JSON object: each figure beside its target.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.registry import prepare, seed, setup_django  # noqa: E402

DOSSIERS_TARGET_PER_S = 200
MEMORY_RATIO_TARGET = 1.1
QUERIES_TARGET_PER_DOSSIER = 1
CLAIMABLE = ("concluded", "discharged")
STAGES = ("read", "build", "validate", "sign")


def _figure(value, target: str | None, **detail) -> dict:
    """A figure beside its target ('<1.1', '>=200'); no target: ok is None."""
    if target is None:
        ok = None
    elif target.startswith(">="):
        ok = value >= float(target[2:])
    else:
        ok = value < float(target[1:])
    return {"value": value, "target": target, "ok": ok, **detail}


def _rss_mb() -> float:
    """Resident memory now (MB), from /proc (Linux); 0 where unavailable."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    """The process's peak resident memory so far (ru_maxrss: KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


# --- The stream (runs in its own process) ------------------------------------------------------


def _pages(*, limit: int, chunk: int):
    """Ids of the claimable encounters in id order, `chunk` at a time, `limit` in all."""
    from patients.models import Encounter

    last, left = 0, limit
    while left > 0:
        ids = list(
            Encounter.objects.filter(pk__gt=last, status__in=CLAIMABLE, voided_at__isnull=True)
            .exclude(insurance_card_code="")
            .order_by("pk")
            .values_list("pk", flat=True)[: min(chunk, left)]
        )
        if not ids:
            return
        yield ids
        last, left = ids[-1], left - len(ids)


def stream(*, limit: int, chunk: int, sign: bool) -> dict:
    """Read, build, validate (and sign) the dossiers of the first `limit` claimable encounters,
    chunk by chunk, keeping nothing; the counts, times and memory of the run."""
    from django.db import connection
    from django.utils import timezone

    from insurance.claims.builders import LOCAL, build_tables
    from insurance.claims.data import dossier_data_many
    from insurance.claims.envelope import envelope_build, envelope_sign
    from insurance.claims.signing import signing_material
    from insurance.claims.validation import dossier_validate

    material = signing_material()
    made_on = timezone.now().astimezone(LOCAL).date()
    clock = time.perf_counter
    stats = {"dossiers": 0, "invalid": 0, "lines": 0, "chunks": 0, "queries": 0, "bytes": 0}
    stages = dict.fromkeys(STAGES, 0.0)

    def count_queries(execute, sql, params, many, context):
        stats["queries"] += 1
        return execute(sql, params, many, context)

    def run(ids_pages) -> None:
        for ids in ids_pages:
            t0 = clock()
            batch = dossier_data_many(encounter_ids=ids)
            stages["read"] += clock() - t0
            stats["chunks"] += 1
            for data in batch:
                t0 = clock()
                tables = build_tables(data)
                t1 = clock()
                issues = dossier_validate(tables, accepted_icd=data.accepted_icd)
                t2 = clock()
                stages["build"] += t1 - t0
                stages["validate"] += t2 - t1
                if sign:
                    body = {code: xml for code, xml in tables.items() if code != "XML0"}
                    envelope = envelope_sign(
                        envelope_build(
                            facility_code=data.encounter.facility_code,
                            made_on=made_on,
                            dossiers=[body],
                        ),
                        key_pem=material.key_pem,
                        cert_pem=material.cert_pem,
                    )
                    stages["sign"] += clock() - t2
                    stats["bytes"] += len(envelope)
                stats["dossiers"] += 1
                stats["invalid"] += bool(issues)
                stats["lines"] += len(data.drugs) + len(data.services)
            del batch

    run(_pages(limit=min(chunk, limit), chunk=chunk))  # warm-up, not counted
    stats.update(dict.fromkeys(stats, 0))
    stages.update(dict.fromkeys(stages, 0.0))
    baseline = _peak_rss_mb()
    with connection.execute_wrapper(count_queries):
        started, cpu = clock(), time.process_time()
        run(_pages(limit=limit, chunk=chunk))
        seconds, cpu = clock() - started, time.process_time() - cpu
    return {
        **stats,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "stages_s": stages,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "warm_peak_rss_mb": round(baseline, 1),
        "rss_end_mb": round(_rss_mb(), 1),
    }


def stream_in_fresh_process(*, db_name: str, limit: int, chunk: int, sign: bool, env) -> dict:
    """`stream` in a new Python process (this script with --stream); its JSON result."""
    command = [sys.executable, str(Path(__file__).resolve()), "--db-name", db_name]
    command += ["--stream", str(limit), "--chunk", str(chunk)] + ([] if sign else ["--no-sign"])
    completed = subprocess.run(  # noqa: S603 (our own script, our own arguments)
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"stream of {limit} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- The service path (for comparison) -------------------------------------------------------


def service_sample(*, count: int, material) -> dict:
    """`dossier_build` for the first `count` claimable encounters, each as its facility's
    insurance officer: the transactional path with its writes."""
    from django.db import connection

    from ehealth.core.models import Role, StaffMembership
    from insurance.claims.services import dossier_build
    from patients.models import Encounter

    officers = {
        m.facility_id: m.user
        for m in StaffMembership.objects.filter(role=Role.INSURANCE_OFFICER, is_active=True)
        .select_related("user")
        .order_by("-user__username")
    }
    ids = [pk for page in _pages(limit=count, chunk=count) for pk in page]
    encounters = Encounter.objects.filter(pk__in=ids).select_related("facility").order_by("pk")
    queries = 0

    def count_queries(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    built = 0
    with connection.execute_wrapper(count_queries):
        started = time.perf_counter()
        for enc in encounters:
            dossier_build(
                actor=officers[enc.facility_id],
                facility=enc.facility,
                encounter=enc,
                material=material,
            )
            built += 1
        seconds = time.perf_counter() - started
    return {"dossiers": built, "seconds": seconds, "queries": queries}


# --- Main ----------------------------------------------------------------------------------------


def _signing_env(directory: Path) -> dict[str, str]:
    """The unit's key and certificate files: the configured ones, else a self-signed pair."""
    from django.conf import settings

    from insurance.claims.signing import demo_certificate_make

    key, cert = settings.CLAIMS_SIGNING_KEY_FILE, settings.CLAIMS_SIGNING_CERT_FILE
    if not (key and cert):
        key_path, cert_path = demo_certificate_make(directory=directory)
        key, cert = str(key_path), str(cert_path)
        settings.CLAIMS_SIGNING_KEY_FILE, settings.CLAIMS_SIGNING_CERT_FILE = key, cert
    return {"CLAIMS_SIGNING_KEY_FILE": key, "CLAIMS_SIGNING_CERT_FILE": cert}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 encounters (smoke run).")
    parser.add_argument("--encounters", type=int, help="Encounters to seed (default 10,000).")
    parser.add_argument("--patients", type=int, help="Patients to seed (default: = encounters).")
    parser.add_argument("--chunk", type=int, default=200, help="Encounters read per chunk.")
    parser.add_argument("--seed-chunk", type=int, default=1000, help="Encounters per COPY.")
    parser.add_argument("--no-sign", action="store_true", help="Leave the signed envelope out.")
    parser.add_argument("--service-sample", type=int, help="dossier_build runs (default 200).")
    parser.add_argument("--db-name", default="ehealth_bench_claims", help="Benchmark database.")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only the result lines.")
    parser.add_argument("--stream", type=int, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    args.encounters = args.encounters or (1_000 if args.quick else 10_000)
    args.patients = args.patients or max(args.encounters, 1_000)
    if args.service_sample is None:
        args.service_sample = 20 if args.quick else 200
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sign = not args.no_sign
    if args.stream is not None:  # child: only the stream, on a database already seeded
        setup_django(args.db_name)
        print(json.dumps(stream(limit=args.stream, chunk=args.chunk, sign=sign)))
        return 0

    verbose = not args.quiet
    setup_django(args.db_name)
    from django.db import connection

    from benchmarks.claims_seed import claims_seed
    from insurance.claims.signing import signing_material

    prepare(verbose=verbose)
    patient_rate = seed(patients=args.patients, chunk=50_000, verbose=verbose)

    def progress(done: int, seconds: float) -> None:
        if verbose:
            print(f"  encounters {done:,} ({done / seconds:,.0f}/s)", flush=True)

    seeded = claims_seed(
        count=args.encounters, seed=2026, chunk_size=args.seed_chunk, progress=progress
    )
    with connection.cursor() as cursor:  # untimed post-load maintenance
        for table in ("patients_encounter", "billing_chargeline", "billing_invoice"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(
        f"Seeded {seeded.encounters:,} encounters ({seeded.inpatient:,} stays) with "
        f"{seeded.lines:,} charge lines ({seeded.lines_per_encounter:.1f} per encounter) in "
        f"{seeded.seconds:.1f} s: {seeded.rate:,.0f} encounters/s",
        flush=True,
    )

    workdir = Path(tempfile.mkdtemp(prefix="claims-bench-"))
    try:
        env = {**os.environ, **_signing_env(workdir), "PYTHONWARNINGS": "ignore"}
        sizes = {"small": max(1, args.encounters // 5), "full": args.encounters}
        runs = {}
        for label, limit in sizes.items():
            runs[label] = run = stream_in_fresh_process(
                db_name=args.db_name, limit=limit, chunk=args.chunk, sign=sign, env=env
            )
            per_s = run["dossiers"] / run["seconds"] if run["seconds"] else 0.0
            print(
                f"Stream of {run['dossiers']:,} dossiers: {run['seconds']:.1f} s, "
                f"{per_s:,.0f} dossiers/s, {run['queries'] / max(run['dossiers'], 1):.3f} "
                f"queries/dossier, {run['invalid']} invalid, peak memory {run['peak_rss_mb']} MB "
                f"(warm process {run['warm_peak_rss_mb']} MB)",
                flush=True,
            )
        service = service_sample(count=args.service_sample, material=signing_material())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    full, small = runs["full"], runs["small"]
    stages_ms = {
        stage: round(1000 * full["stages_s"][stage] / max(full["dossiers"], 1), 3)
        for stage in STAGES
    }
    print("Per dossier (full run): " + ", ".join(f"{k} {v:.2f} ms" for k, v in stages_ms.items()))
    service_rate = service["dossiers"] / service["seconds"] if service["seconds"] else 0.0
    print(
        f"dossier_build (service, with its writes): {service['dossiers']} dossiers, "
        f"{service_rate:,.1f}/s, {service['queries'] / max(service['dossiers'], 1):.1f} "
        "queries/dossier",
        flush=True,
    )

    def per_chunk(run: dict) -> float:
        return round(run["queries"] / max(run["chunks"], 1), 2)

    summary = {
        "dossiers_per_s": _figure(
            round(full["dossiers"] / full["seconds"], 1),
            f">={DOSSIERS_TARGET_PER_S}",
            dossiers=full["dossiers"],
            seconds=round(full["seconds"], 2),
            invalid=full["invalid"],
            small_run_per_s=round(small["dossiers"] / small["seconds"], 1),
            # the same run with the signing stage's time left out (read, build, validate only)
            without_signing_per_s=round(
                full["dossiers"] / max(full["seconds"] - full["stages_s"]["sign"], 1e-9), 1
            ),
        ),
        "queries_per_dossier": _figure(
            round(full["queries"] / max(full["dossiers"], 1), 3),
            f"<{QUERIES_TARGET_PER_DOSSIER}",
            per_chunk_small=per_chunk(small),
            per_chunk_full=per_chunk(full),
            chunk=args.chunk,
        ),
        "peak_memory_ratio": _figure(
            round(full["peak_rss_mb"] / small["peak_rss_mb"], 3),
            f"<{MEMORY_RATIO_TARGET}",
            small={"dossiers": small["dossiers"], "peak_rss_mb": small["peak_rss_mb"]},
            full={"dossiers": full["dossiers"], "peak_rss_mb": full["peak_rss_mb"]},
        ),
        "peak_rss_mb": _figure(
            full["peak_rss_mb"],
            None,
            warm_process_mb=full["warm_peak_rss_mb"],
            growth_mb=round(full["peak_rss_mb"] - full["warm_peak_rss_mb"], 1),
            small_growth_mb=round(small["peak_rss_mb"] - small["warm_peak_rss_mb"], 1),
        ),
        "seed_rate_per_s": _figure(round(seeded.rate), None),
        "service_dossiers_per_s": _figure(
            round(service_rate, 1),
            None,
            dossiers=service["dossiers"],
            queries_per_dossier=round(service["queries"] / max(service["dossiers"], 1), 1),
        ),
        "context": {
            "encounters": seeded.encounters,
            "inpatient": seeded.inpatient,
            "charge_lines": seeded.lines,
            "lines_per_encounter": round(seeded.lines_per_encounter, 1),
            "rows": seeded.rows,
            "patients": args.patients,
            "patient_seed_rate_per_s": round(patient_rate),
            "chunk": args.chunk,
            "signed": sign,
            "included": "read (batched) + build XML0-XML7 + validate (XSD, cross-table)"
            + (" + GIAMDINHHS envelope signed (XML-DSig)" if sign else ""),
            "stage_ms_per_dossier": stages_ms,
            # CPU time of the stream process alone (PostgreSQL's work is in its own processes):
            # far below the wall time per dossier when other processes share the cores.
            "cpu_ms_per_dossier": round(1000 * full["cpu_seconds"] / max(full["dossiers"], 1), 3),
            "envelope_bytes_per_dossier": round(full["bytes"] / max(full["dossiers"], 1)),
            "database": args.db_name,
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
