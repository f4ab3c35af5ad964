"""Claims benchmark (issue 5): read, build, validate and sign the dossiers of N encounters, streamed.

    .venv/bin/python benchmarks/claims.py [--quick] [--encounters N] [--chunk C] [--workers W]
                                          [--no-sign] [--reuse] [--db-name NAME]

- Database: a dedicated one, `ehealth_bench_claims` (`--db-name`), prepared by
  `benchmarks/registry.py` (created and migrated when missing, reference data and demo staff
  loaded, patient tables emptied with TRUNCATE ... CASCADE, which empties the clinical, billing
  and claims tables too). `--reuse`: when the database already holds N claimable encounters (from
  an earlier run), it is only migrated, neither emptied nor seeded (no seed rate then; the counts
  reported are those of its first N claimable encounters), and `dossier_build` of the service
  sample adds a version to dossiers built by earlier runs.
- Seed: patients with `benchmarks.registry.seed` (COPY), then N claimable encounters with
  `benchmarks.claims_seed.claims_seed` (COPY): concluded outpatient visits and discharged stays at
  the two demo hospitals with staff, with BHYT cards, diagnoses, resulted orders, prescriptions,
  progress notes, and their bills (invoice + charge lines split by the benefit engine), about 25
  lines per encounter. Its rate is reported (no target).
- Stream (the timed part), split over `--workers` W fresh processes (default: the CPUs this
  process may use), as a batch build runs in several Celery workers: claimable encounters paged by
  id, `--chunk` (200) at a time, the chunks dealt round-robin (worker k takes chunks k, k + W,
  k + 2W, ...; each of its id queries reads the ids of W consecutive chunks and keeps its own, so
  no coordinator hands out work and there is still one id query per chunk). For each chunk
  `insurance.claims.data.dossier_data_many` (one set of queries for the chunk), then for each
  dossier `build_tables` (XML0–XML7), `dossier_validate` (the XSD of each table and the
  cross-table rules), and, as `dossier_build` does, the GIAMDINHHS envelope of the dossier (tables
  base64-encoded) signed with XML-DSig (`envelope_element` + `envelope_sign`, RSA-SHA256; the unit's key from settings,
  else a self-signed demo certificate made for the run); `--no-sign` leaves the envelope out.
  Nothing is kept: a chunk is dropped before the next is read. Not included: the writes of
  `dossier_build` (the version row, the dossier's status, the audit entry), measured apart below.
  Each worker first streams one chunk untimed (imports, compiled schemas, the key), says so on its
  stdout and waits for a go on its stdin; when all are ready they are released together, and the
  clock runs from the release to the end of the last worker (CLOCK_MONOTONIC, one clock for all
  processes). The parallel stream runs twice, over the first N/5 encounters and over all N; then
  once more over all N in a single process (W = 1), for comparison (skipped when W is 1).
- Figures: dossiers per second of the full parallel stream (target >= 200), with
  `single_process_per_s` beside it, and the cores the workers had (their CPU time over the
  wall-clock) and the machine's CPU shares (busy, idle, hypervisor steal) during the run: on a
  shared machine the other processes' load caps the speed-up; queries per dossier (target < 1; per
  chunk it is the same at both sizes and in one process); the peak memory of each worker process
  (VmHWM, see `_peak_rss_mb`) at N/5 and at N and, per worker, the ratio (target < 1.1 for the
  largest: memory does not grow with the number of dossiers), and their sum; time per stage per
  dossier.
- Service sample: `insurance.claims.services.dossier_build` (lock, read one encounter, build,
  validate, sign, store the version, audit) for `--service-sample` encounters: per second and
  queries per dossier, no target.
- Output: readable lines, then as the LAST line one JSON object: each figure beside its target.
"""

from __future__ import annotations

import argparse
import itertools
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
# Run as a script, this folder comes first on sys.path, where benchmarks/fhir.py would shadow the
# `fhir` package (fhir.resources): the project root takes its place.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

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
    """The process's own peak resident memory so far: VmHWM of /proc/self/status on Linux (the
    high-water mark of this program's memory). Not ru_maxrss there: Linux carries it over fork and
    exec, so a worker started by a parent of 190 MB (just after seeding) would report 190 MB
    whatever it used. Elsewhere ru_maxrss (KB; bytes on macOS)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _cpu_times() -> list[int]:
    """The machine's CPU time counters (user nice system idle iowait irq softirq steal), in ticks,
    from /proc/stat (Linux); [] where unavailable."""
    try:
        return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return []


def _cpu_shares(before: list[int], after: list[int]) -> dict[str, float]:
    """Shares of the machine's CPU time between two readings: busy (all processes, ours and
    others), idle (with I/O wait) and steal (taken by the hypervisor)."""
    if len(before) < 8 or len(after) < 8:
        return {}
    d = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(d) or 1
    return {
        "busy": round((d[0] + d[1] + d[2] + d[5] + d[6]) / total, 3),
        "idle": round((d[3] + d[4]) / total, 3),
        "steal": round(d[7] / total, 3),
    }


# --- The stream (runs in its own process) ------------------------------------------------------


def _pages(*, limit: int, chunk: int, worker: int = 0, workers: int = 1):
    """Ids of the claimable encounters in id order, `chunk` at a time, `limit` in all; of these
    chunks, worker `worker` of `workers` takes chunks worker, worker + workers, ... (each query
    reads the ids of `workers` consecutive chunks, so one id query per chunk kept, whatever W)."""
    from patients.models import Encounter

    last, left = 0, limit
    while left > worker * chunk:  # else this worker's slice of the next page is empty
        wanted = min(chunk * workers, left)
        ids = list(
            Encounter.objects.filter(pk__gt=last, status__in=CLAIMABLE, voided_at__isnull=True)
            .exclude(insurance_card_code="")
            .order_by("pk")
            .values_list("pk", flat=True)[:wanted]
        )
        mine = ids[worker * chunk : (worker + 1) * chunk]
        if mine:
            yield mine
        if len(ids) < wanted:  # no more claimable encounters
            return
        last, left = ids[-1], left - len(ids)


def stream(
    *, limit: int, chunk: int, sign: bool, worker: int = 0, workers: int = 1, ready=None
) -> dict:
    """Read, build, validate (and sign) the dossiers of worker `worker`'s share (of `workers`) of
    the first `limit` claimable encounters, chunk by chunk, keeping nothing; the counts, times and
    memory of the run. After the warm-up, `ready()` (if given) is called and returns when the
    timed run may start (the start barrier of the parallel stream)."""
    from django.db import connection
    from django.utils import timezone

    from insurance.claims.builders import LOCAL, build_tables
    from insurance.claims.data import dossier_data_many
    from insurance.claims.envelope import envelope_element, envelope_sign
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
                        envelope_element(
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

    # warm-up, not counted: the worker's first chunk (the stream's first when it has none)
    pages = {"limit": limit, "chunk": chunk, "worker": worker, "workers": workers}
    run(list(itertools.islice(_pages(**pages), 1)) or _pages(limit=min(chunk, limit), chunk=chunk))
    stats.update(dict.fromkeys(stats, 0))
    stages.update(dict.fromkeys(stages, 0.0))
    baseline = _peak_rss_mb()
    if ready is not None:
        ready()
    with connection.execute_wrapper(count_queries):
        # time.monotonic is CLOCK_MONOTONIC on Linux: one clock for all the processes
        started, cpu, at = clock(), time.process_time(), time.monotonic()
        run(_pages(**pages))
        seconds, cpu = clock() - started, time.process_time() - cpu
        ended_at = time.monotonic()
    return {
        **stats,
        "worker": worker,
        "started_at": at,
        "ended_at": ended_at,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "stages_s": stages,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "warm_peak_rss_mb": round(baseline, 1),
        "rss_end_mb": round(_rss_mb(), 1),
    }


def _worker_ready() -> None:
    """In a worker: say the warm-up is done (a line on stdout), then wait for the go (a line on
    stdin)."""
    print(json.dumps({"ready": True}), flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("no go signal: the coordinator is gone")


def parallel_stream(
    *, db_name: str, limit: int, chunk: int, sign: bool, workers: int, env, log_dir: Path
) -> dict:
    """The stream of the first `limit` encounters split over `workers` fresh processes (this
    script with --stream --worker k --workers W; worker k takes chunks k, k + W, ...). Each warms
    up, says so and waits; all are released at once and the clock runs from the release to the
    last worker's end. The workers' results and their sums."""
    base = [sys.executable, str(Path(__file__).resolve()), "--db-name", db_name]
    base += ["--stream", str(limit), "--chunk", str(chunk), "--workers", str(workers)]
    base += [] if sign else ["--no-sign"]
    procs, logs = [], []
    try:
        for k in range(workers):
            logs.append((log_dir / f"worker-{limit}-{k}.err").open("w+"))
            procs.append(
                subprocess.Popen(  # noqa: S603 (our own script, our own arguments)
                    [*base, "--worker", str(k)],
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=logs[-1],
                    text=True,
                )
            )

        def failed(k: int) -> RuntimeError:
            procs[k].wait()
            logs[k].seek(0)
            return RuntimeError(f"stream worker {k} of {limit} failed:\n{logs[k].read()[-3000:]}")

        for k, proc in enumerate(procs):  # the barrier: every worker warmed up
            if not proc.stdout.readline().strip():
                raise failed(k)
        released, cpu_before = time.monotonic(), _cpu_times()
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.close()
        results = []
        for k, proc in enumerate(procs):
            out = proc.stdout.read()
            if proc.wait() != 0:
                raise failed(k)
            results.append(json.loads(out.strip().splitlines()[-1]))
        machine = _cpu_shares(cpu_before, _cpu_times())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
    total = {
        key: sum(r[key] for r in results)
        for key in ("dossiers", "invalid", "lines", "chunks", "queries", "bytes", "cpu_seconds")
    }
    seconds = max(r["ended_at"] for r in results) - released
    return {
        **total,
        "workers": workers,
        "seconds": seconds,
        # CPU time of the workers over the wall-clock: the cores the stream had (<= workers)
        "cores_used": round(total["cpu_seconds"] / seconds, 2) if seconds else 0.0,
        "machine_cpu": machine,
        "start_skew_s": max(r["started_at"] for r in results) - released,
        "stages_s": {s: sum(r["stages_s"][s] for r in results) for s in STAGES},
        "per_worker": results,
        "peak_rss_mb": [r["peak_rss_mb"] for r in results],
        "warm_peak_rss_mb": [r["warm_peak_rss_mb"] for r in results],
    }


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
    parser.add_argument(
        "--workers",
        type=int,
        default=len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        help="Stream worker processes (default: the CPUs this process may use).",
    )
    parser.add_argument("--seed-chunk", type=int, default=1000, help="Encounters per COPY.")
    parser.add_argument("--no-sign", action="store_true", help="Leave the signed envelope out.")
    parser.add_argument("--service-sample", type=int, help="dossier_build runs (default 200).")
    parser.add_argument("--db-name", default="ehealth_bench_claims", help="Benchmark database.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Skip prepare and seed when the database already holds N claimable encounters.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="Only the result lines.")
    parser.add_argument("--stream", type=int, help=argparse.SUPPRESS)  # a stream worker process
    parser.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workers < 1 or not 0 <= args.worker < args.workers:
        parser.error("--workers must be >= 1")
    args.encounters = args.encounters or (1_000 if args.quick else 10_000)
    args.patients = args.patients or max(args.encounters, 1_000)
    if args.service_sample is None:
        args.service_sample = 20 if args.quick else 200
    return args


def _seed(args, *, verbose: bool):
    """The database for the run: reused as it is (--reuse, when it holds N claimable encounters),
    else prepared and seeded. The seed's result and the patients' seed rate (None when reused)."""
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.claims_seed import claims_seed, claims_seeded

    if args.reuse:
        call_command("migrate", interactive=False, verbosity=0)
        seeded = claims_seeded(count=args.encounters)
        if seeded is not None:
            print(
                f"Reusing {args.db_name}: {seeded.encounters:,} claimable encounters "
                f"({seeded.inpatient:,} stays, {seeded.lines:,} charge lines); not seeded",
                flush=True,
            )
            return seeded, None
        print(f"{args.db_name} holds fewer than {args.encounters:,} claimable encounters: seeding")
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
    return seeded, patient_rate


def _per_s(run: dict) -> float:
    return round(run["dossiers"] / run["seconds"], 1) if run["seconds"] else 0.0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sign = not args.no_sign
    if args.stream is not None:  # a worker: only the stream, on a database already seeded
        setup_django(args.db_name)
        result = stream(
            limit=args.stream,
            chunk=args.chunk,
            sign=sign,
            worker=args.worker,
            workers=args.workers,
            ready=_worker_ready,
        )
        print(json.dumps(result))
        return 0

    verbose = not args.quiet
    setup_django(args.db_name)
    from insurance.claims.signing import signing_material

    seeded, patient_rate = _seed(args, verbose=verbose)

    workdir = Path(tempfile.mkdtemp(prefix="claims-bench-"))
    try:
        env = {**os.environ, **_signing_env(workdir), "PYTHONWARNINGS": "ignore"}
        runs = {}
        plan = [("small", max(1, args.encounters // 5), args.workers)]
        plan.append(("full", args.encounters, args.workers))
        if args.workers > 1:  # the single process, for comparison
            plan.append(("single", args.encounters, 1))
        for label, limit, workers in plan:
            runs[label] = run = parallel_stream(
                db_name=args.db_name,
                limit=limit,
                chunk=args.chunk,
                sign=sign,
                workers=workers,
                env=env,
                log_dir=workdir,
            )
            print(
                f"Stream of {run['dossiers']:,} dossiers, {workers} worker(s): "
                f"{run['seconds']:.1f} s, {_per_s(run):,.1f} dossiers/s, "
                f"{run['queries'] / max(run['dossiers'], 1):.3f} queries/dossier, "
                f"{run['invalid']} invalid, peak memory per worker {run['peak_rss_mb']} MB "
                f"(warm {run['warm_peak_rss_mb']} MB); {run['cores_used']} cores used, "
                f"machine CPU {run['machine_cpu']}",
                flush=True,
            )
        runs.setdefault("single", runs["full"])
        service = service_sample(count=args.service_sample, material=signing_material())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    full, small, single = runs["full"], runs["small"], runs["single"]

    def stage_ms(run: dict) -> dict[str, float]:
        return {
            stage: round(1000 * run["stages_s"][stage] / max(run["dossiers"], 1), 3)
            for stage in STAGES
        }

    stages_ms = stage_ms(single)
    print(
        "Per dossier (single process): "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in stages_ms.items())
    )
    service_rate = service["dossiers"] / service["seconds"] if service["seconds"] else 0.0
    print(
        f"dossier_build (service, with its writes): {service['dossiers']} dossiers, "
        f"{service_rate:,.1f}/s, {service['queries'] / max(service['dossiers'], 1):.1f} "
        "queries/dossier",
        flush=True,
    )

    def per_chunk(run: dict) -> float:
        return round(run["queries"] / max(run["chunks"], 1), 2)

    # per worker: peak at N over peak at N/5 (worker k streams the same share of both)
    ratios = [
        round(f / s, 3) for f, s in zip(full["peak_rss_mb"], small["peak_rss_mb"], strict=True)
    ]
    summary = {
        "dossiers_per_s": _figure(
            _per_s(full),
            f">={DOSSIERS_TARGET_PER_S}",
            workers=args.workers,
            single_process_per_s=_per_s(single),
            dossiers=full["dossiers"],
            seconds=round(full["seconds"], 2),
            start_skew_s=round(full["start_skew_s"], 3),
            invalid=full["invalid"],
            small_run_per_s=_per_s(small),
            per_worker_dossiers=[r["dossiers"] for r in full["per_worker"]],
            # cores the workers' Python had (their CPU time / wall-clock), and the machine's CPU
            # (others' processes and hypervisor steal included) during the parallel run
            cores_used=full["cores_used"],
            single_process_cores_used=single["cores_used"],
            machine_cpu=full["machine_cpu"],
            # dossiers per second of the workers' own CPU time: what one free core would do
            per_cpu_second=round(full["dossiers"] / max(full["cpu_seconds"], 1e-9), 1),
            # the single process with the signing stage's time left out (read, build, validate)
            single_without_signing_per_s=round(
                single["dossiers"] / max(single["seconds"] - single["stages_s"]["sign"], 1e-9), 1
            ),
        ),
        "queries_per_dossier": _figure(
            round(full["queries"] / max(full["dossiers"], 1), 3),
            f"<{QUERIES_TARGET_PER_DOSSIER}",
            per_chunk_small=per_chunk(small),
            per_chunk_full=per_chunk(full),
            per_chunk_single=per_chunk(single),
            chunk=args.chunk,
        ),
        "peak_memory_ratio": _figure(
            max(ratios),
            f"<{MEMORY_RATIO_TARGET}",
            per_worker=ratios,
            small={"dossiers": small["dossiers"], "peak_rss_mb": small["peak_rss_mb"]},
            full={"dossiers": full["dossiers"], "peak_rss_mb": full["peak_rss_mb"]},
        ),
        "peak_rss_mb": _figure(
            max(full["peak_rss_mb"]),
            None,
            per_worker=full["peak_rss_mb"],
            total_mb=round(sum(full["peak_rss_mb"]), 1),
            warm_per_worker=full["warm_peak_rss_mb"],
            growth_mb=round(
                max(
                    p - w
                    for p, w in zip(full["peak_rss_mb"], full["warm_peak_rss_mb"], strict=True)
                ),
                1,
            ),
            single_process_mb=single["peak_rss_mb"][0],
        ),
        "seed_rate_per_s": _figure(round(seeded.rate) if patient_rate is not None else None, None),
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
            "reused": patient_rate is None,
            "patients": args.patients,
            "patient_seed_rate_per_s": round(patient_rate) if patient_rate is not None else None,
            "chunk": args.chunk,
            "workers": args.workers,
            "signed": sign,
            "included": "read (batched) + build XML0-XML7 + validate (XSD, cross-table)"
            + (" + GIAMDINHHS envelope signed (XML-DSig)" if sign else ""),
            "stage_ms_per_dossier": stages_ms,
            # the same stages in the parallel run: time inside each worker, cores shared
            "parallel_stage_ms_per_dossier": stage_ms(full),
            # CPU time of the stream processes alone (PostgreSQL's work is in its own processes)
            "cpu_ms_per_dossier": round(
                1000 * single["cpu_seconds"] / max(single["dossiers"], 1), 3
            ),
            "envelope_bytes_per_dossier": round(full["bytes"] / max(full["dossiers"], 1)),
            "database": args.db_name,
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
