"""FHIR API benchmark (issue 6): the API under gunicorn on loopback, beside a bare Django view.

    .venv/bin/python benchmarks/fhir.py [--quick] [--patients N] [--resources R] [--reuse]
                                        [--seconds S] [--connections C] [--workers W]
                                        [--worker-class sync|gthread] [--threads T]

- Database: a dedicated one, `ehealth_bench_fhir` (`--db-name`), prepared by
  `benchmarks/registry.py` (created and migrated when missing, reference data and demo staff
  loaded, patient tables emptied with TRUNCATE ... CASCADE). `--reuse`: when it already holds N
  patients and R FHIR resources, it is only migrated (not emptied, not seeded).
- Seed: N patients with `benchmarks.registry.seed` (COPY), then clinical records with
  `patients.clinical.demo.encounters_seed` (COPY; the code of `seed_demo --encounters`) until the
  database holds R resources as the API serves them: Patient, Encounter, Condition (diagnoses),
  Observation (one per vital sign of a vitals row, one per result value), ServiceRequest (orders),
  DiagnosticReport (orders with a result), MedicationRequest (prescription items),
  AllergyIntolerance, Coverage (cards). The count by type is reported.
- Server: gunicorn started here on 127.0.0.1 (a free port) with `ehealth.wsgi`, settings
  `benchmarks.fhir_settings` (the local settings, DEBUG off, persistent database connections,
  ROOT_URLCONF `benchmarks.fhir_urls`: the product's URLs plus `bench/bare/patient/<id>`, the
  Patient row through the ORM as JSON, no authentication). W sync workers (default 4: on two
  cores the best figures, as a worker waiting on PostgreSQL's commit leaves its core to another;
  2 sync workers, or 2 gthread workers of 4 threads, measured lower). A partner client is registered at the main demo hospital with `fhir_client_register`
  (`system/*.cruds`; its service account also gets the nurse and doctor roles there, as a unit
  grants them to a clinical system), and gets its token from /o/token/.
- Load: `benchmarks/fhir_load.py`: C keep-alive connections (default 4), one process each, warmed
  up, then bounded by S seconds (default 20; 5 with --quick) and a request count per phase.
  Phases: the bare view and FHIR read alternated (`--rounds`), on the same random patients of the
  hospital; search by name without diacritics (their folded full names); search by CCCD
  identifier; create (Patient POSTs, fresh CCCDs); transaction Bundles of 50 entries of new
  Patients (`transaction`); and, when the CapabilityStatement (/metadata, read at run time) says
  Encounter, Observation and Condition support create and a probe Bundle passes, Bundles of 50
  entries in groups of a Patient, an outpatient Encounter (in one of the unit's clinic rooms), two
  Observations and a Condition referring to them by urn:uuid (`transaction_mixed`).
- Figures: per phase requests/s and p50/p95/p99 (latency seen by the client, queueing included),
  non-2xx answers, CPU milliseconds per request of the gunicorn workers, of PostgreSQL's backends
  and of the load generator, and the machine's CPU shares. Targets: FHIR read >= 60 % of the bare
  view's rate; search p95 < 100 ms (both searches); transaction ingest >= 1,000 resources/s
  (both kinds of Bundle); 0 non-2xx. The Celery tasks the run queued (duplicate checks of the
  patients it created, on the broker of CELERY_BROKER_URL) are dropped afterwards: they name rows
  of the benchmark database, which no worker serves.
- Output: readable lines, then as the LAST line one JSON object: each figure beside its target.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path, where benchmarks/fhir.py would shadow the
# `fhir` package (fhir.resources): the project root takes its place.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

from benchmarks.claims import _cpu_shares, _cpu_times  # noqa: E402
from benchmarks.fhir_load import run_phase  # noqa: E402
from benchmarks.registry import prepare, seed, setup_django  # noqa: E402

READ_RATIO_TARGET = 0.6
SEARCH_P95_TARGET_MS = 100
TRANSACTION_TARGET_PER_S = 1000
BUNDLE_SIZE = 50
RESOURCES_PER_ENCOUNTER = 12  # first guess of the seed's resources per encounter; then measured
SEED_PROVINCES = {"048", "049", "045", "046", "051", "052", "001", "079"}  # ehealth.core.demo
PHASES = (
    "bare",
    "read",
    "search_name",
    "search_identifier",
    "create",
    "transaction",
    "transaction_mixed",
)
CLIENT_NAME = "HIS benchmark"


def _figure(value, target: str | None, **detail) -> dict:
    """A figure beside its target ('<100', '>=1000', '=0'); no target: ok is None."""
    if target is None or value is None:
        ok = None
    elif target.startswith(">="):
        ok = value >= float(target[2:])
    elif target.startswith("="):
        ok = value == float(target[1:])
    else:
        ok = value < float(target[1:])
    return {"value": value, "target": target, "ok": ok, **detail}


# --- Seed ----------------------------------------------------------------------------------------


def resource_counts() -> dict[str, int]:
    """FHIR resources the API serves from the database, by type (what a search of each type with
    no criteria would reach, for a caller who sees everything)."""
    from django.db import connection

    vitals = " + ".join(
        f"({cond})::int"
        for cond in (
            "pulse IS NOT NULL",
            "(systolic IS NOT NULL OR diastolic IS NOT NULL)",
            "temperature IS NOT NULL",
            "respiratory_rate IS NOT NULL",
            "spo2 IS NOT NULL",
            "height_cm IS NOT NULL",
            "weight_kg IS NOT NULL",
            "(height_cm > 0 AND weight_kg > 0)",  # BMI, computed
        )
    )
    queries = {
        "Patient": "SELECT count(*) FROM patients_patient WHERE voided_at IS NULL",
        "Encounter": "SELECT count(*) FROM patients_encounter WHERE voided_at IS NULL",
        "Condition": "SELECT count(*) FROM patients_diagnosis WHERE voided_at IS NULL",
        "Observation": (
            f"SELECT (SELECT coalesce(sum({vitals}), 0) FROM patients_vitalsigns "  # noqa: S608
            "WHERE voided_at IS NULL) + (SELECT count(*) FROM patients_resultvalue)"
        ),
        "ServiceRequest": "SELECT count(*) FROM patients_serviceorder",
        "DiagnosticReport": (
            "SELECT count(*) FROM patients_serviceorder o WHERE o.result_conclusion <> '' "
            "OR EXISTS (SELECT 1 FROM patients_resultvalue v WHERE v.order_id = o.id)"
        ),
        "MedicationRequest": "SELECT count(*) FROM patients_prescriptionitem",
        "AllergyIntolerance": "SELECT count(*) FROM patients_allergy",
        "Coverage": "SELECT count(*) FROM insurance_insurancecard",
    }
    counts = {}
    with connection.cursor() as cursor:
        for kind, sql in queries.items():
            cursor.execute(sql)
            counts[kind] = int(cursor.fetchone()[0])
    return counts


def _forget_fhir_extras() -> None:
    """Empty the FHIR elements kept beside records (`fhir_api.ResourceExtra` and its versions):
    they name resources by id, and the emptied tables hand out those ids again."""
    from django.db import connection

    from fhir_api.models import ResourceExtra, ResourceExtraVersion

    with connection.cursor() as cursor:
        tables = ", ".join(m._meta.db_table for m in (ResourceExtra, ResourceExtraVersion))
        cursor.execute(f"TRUNCATE {tables}")


def _analyze_all() -> None:
    """ANALYZE the whole database (seconds): planner statistics for the small tables the seed
    does not touch (permissions, groups, tokens), as autovacuum keeps them on a live server."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _analyze() -> None:
    from django.db import connection

    from patients.clinical.demo import TABLES
    from patients.models import Patient, PatientIdentifier

    tables = [Patient, PatientIdentifier, *(model for _, model, _ in TABLES)]
    with connection.cursor() as cursor:  # untimed post-load maintenance
        for model in tables:
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")  # noqa: S608


def seed_database(args, *, verbose: bool) -> tuple[dict[str, int], dict]:
    """The database for the run: reused as it is (--reuse, when it holds the data), else prepared
    and seeded. The resource counts and what the seed did (rates; empty when reused)."""
    from django.core.management import call_command

    from patients.clinical.demo import encounters_seed

    if args.reuse:
        call_command("migrate", interactive=False, verbosity=0)
        counts = resource_counts()
        if counts["Patient"] >= args.patients and sum(counts.values()) >= args.resources:
            print(
                f"Reusing {args.db_name}: {counts['Patient']:,} patients, "
                f"{sum(counts.values()):,} resources; not seeded",
                flush=True,
            )
            return counts, {}
        print(f"{args.db_name} holds less than asked: seeding", flush=True)
    prepare(verbose=verbose)
    _forget_fhir_extras()
    patient_rate = seed(patients=args.patients, chunk=50_000, verbose=verbose)
    counts = resource_counts()
    per_encounter = RESOURCES_PER_ENCOUNTER
    seeded, seconds = 0, 0.0

    def progress(done: int, elapsed: float) -> None:
        if verbose:
            print(f"  encounters {done:,} ({done / elapsed:,.0f}/s)", flush=True)

    for attempt in range(4):  # the seed's resources per encounter vary: top up when short
        missing = args.resources - sum(counts.values())
        if missing <= 0:
            break
        wanted = max(1, math.ceil(missing / per_encounter * (1.0 if attempt else 1.01)))
        result = encounters_seed(
            count=wanted,
            seed=2026 + attempt,
            chunk_size=args.encounter_chunk,
            progress=progress,
        )
        seeded += result.encounters
        seconds += result.seconds
        before = sum(counts.values())
        counts = resource_counts()
        per_encounter = max(1.0, (sum(counts.values()) - before) / max(result.encounters, 1))
    _analyze()
    total = sum(counts.values())
    print(
        f"Seeded {args.patients:,} patients ({patient_rate:,.0f}/s) and {seeded:,} encounters "
        f"({seeded / seconds if seconds else 0:,.0f}/s): {total:,} FHIR resources "
        f"({', '.join(f'{k} {v:,}' for k, v in counts.items())})",
        flush=True,
    )
    return counts, {
        "patient_seed_rate_per_s": round(patient_rate),
        "encounters_seeded": seeded,
        "encounter_seed_rate_per_s": round(seeded / seconds) if seconds else None,
        "resources_per_encounter": round(per_encounter, 2),
    }


# --- The client, its samples, fresh identifiers ----------------------------------------------------


def bench_client(secret: str):
    """A partner client of the main demo hospital with every system scope; its service account
    also holds the nurse and doctor roles there (vital signs, diagnoses)."""
    from ehealth.core.demo import MAIN_HOSPITAL
    from ehealth.core.models import Facility, Role, StaffMembership
    from ehealth.core.permissions import staff_groups_sync
    from fhir_api.clients import fhir_client_register

    facility = Facility.objects.get(name=MAIN_HOSPITAL)
    registered = fhir_client_register(
        facility=facility, name=CLIENT_NAME, scopes="system/*.cruds", client_secret=secret
    )
    user = registered.client.application.user
    for role in (Role.NURSE, Role.DOCTOR):
        StaffMembership.objects.create(user=user, facility=facility, role=role)
    staff_groups_sync(user)
    return registered, facility


def samples(*, facility_id: int, count: int, rng: random.Random) -> dict[str, list]:
    """Seeded patients the client's unit sees (a record number there): ids, folded full names,
    CCCDs."""
    from django.db import connection

    from patients.normalize import fold

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.id, p.full_name, (SELECT c.value FROM patients_patientidentifier c "
            "  WHERE c.patient_id = p.id AND c.system = 'cccd' AND c.voided_at IS NULL LIMIT 1) "
            "FROM patients_patientidentifier m JOIN patients_patient p ON p.id = m.patient_id "
            "WHERE m.system = 'mrn' AND m.facility_id = %s AND m.voided_at IS NULL "
            "AND p.voided_at IS NULL AND p.status = 'active' AND p.created_by_id IS NULL "
            "ORDER BY md5(p.id::text) LIMIT %s",
            [facility_id, count],
        )
        rows = cursor.fetchall()
    rng.shuffle(rows)
    return {
        "ids": [r[0] for r in rows],
        "names": [fold(r[1]) for r in rows],
        "cccds": [r[2] for r in rows if r[2]],
    }


def fresh_prefixes(count: int, rng: random.Random) -> list[str]:
    """`count` CCCD prefixes (province, century-sex digit, 2-digit year) held by no identifier:
    each gives a load connection a million CCCDs never used before. Provinces the seed does not
    use; birth years 1940-2005."""
    from django.db import connection

    from patients.identifiers import CCCD_PROVINCE_CODES

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT left(value, 6) FROM patients_patientidentifier "
            "WHERE system = 'cccd' AND left(value, 3) <> ALL(%s)",
            [sorted(SEED_PROVINCES)],
        )
        used = {r[0] for r in cursor.fetchall()}
    provinces = sorted(set(CCCD_PROVINCE_CODES) - SEED_PROVINCES)
    # 4th digit: 0/1 men/women born in the 1900s, 2/3 in the 2000s (patients.identifiers)
    candidates = [
        f"{p}{(2 if y >= 2000 else 0) + sex}{y % 100:02d}"
        for p in provinces
        for y in range(1940, 2006)
        for sex in (0, 1)
    ]
    free = [c for c in candidates if c not in used]
    rng.shuffle(free)
    if len(free) < count:
        raise RuntimeError("no CCCD prefix left for fresh patients")
    return free[:count]


# --- The server ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving the project on loopback with the benchmark's settings."""

    def __init__(self, args, *, env: dict[str, str], log: Path):
        self.port = _free_port()
        self.log = log
        command = [
            str(Path(sys.executable).with_name("gunicorn")),
            "ehealth.wsgi:application",
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={args.workers}",
            f"--worker-class={args.worker_class}",
            f"--threads={args.threads}",
            "--timeout=120",
            "--keep-alive=30",
            "--backlog=256",
            "--log-level=warning",
        ]
        env = {**env, "DJANGO_SETTINGS_MODULE": "benchmarks.fhir_settings", "PYTHONPATH": str(ROOT)}
        self.out = log.open("w")
        self.proc = subprocess.Popen(  # noqa: S603 (our own command line)
            command, cwd=ROOT, env=env, stdout=self.out, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log.read_text()[-3000:]}")
            try:
                status, _ = http_call(self.port, "GET", "/fhir/R4/metadata")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer in {timeout} s")

    def worker_pids(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            return [int(p) for p in text.split()]
        except OSError:
            return []

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


def http_call(port: int, method: str, path: str, body=None, headers=None) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get_token(port: int, client_id: str, secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    status, data = http_call(
        port,
        "POST",
        "/o/token/",
        body=urllib.parse.urlencode({"grant_type": "client_credentials"}),
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    if status != 200:
        raise RuntimeError(f"token endpoint answered {status}: {data[:500]!r}")
    return json.loads(data)["access_token"]


def _proc_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by the processes (those still there)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def _backend_pids() -> list[int]:
    """PostgreSQL backends connected to the benchmark database (the server's), ours excluded."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [r[0] for r in cursor.fetchall()]


# --- Transaction content -----------------------------------------------------------------------------


def capability_creates(port: int, token: str) -> set[str]:
    """Types whose create the server's CapabilityStatement declares."""
    status, data = http_call(
        port,
        "GET",
        "/fhir/R4/metadata",
        headers={"Accept": "application/fhir+json", "Authorization": f"Bearer {token}"},
    )
    if status != 200:
        raise RuntimeError(f"/metadata answered {status}")
    statement = json.loads(data)
    creates = set()
    for rest in statement.get("rest", []):
        for resource in rest.get("resource", []):
            if any(i.get("code") == "create" for i in resource.get("interaction", [])):
                creates.add(resource["type"])
    return creates


def group_templates(creates: set[str], facility) -> list[dict]:
    """Resources created beside each new Patient of a transaction (urn:uuid references): an
    outpatient Encounter in the unit's first clinic room, a temperature and a pulse on it, a
    diagnosis, as far as supported."""
    from django.utils import timezone

    from ehealth.core.models import ClinicRoom
    from fhir_api import systems

    if "Encounter" not in creates:
        return []
    at = timezone.localtime().replace(microsecond=0).isoformat()
    has_rooms = ClinicRoom.objects.filter(department__facility=facility).exists()
    location = []
    if has_rooms:  # "{room}": one of the unit's rooms, drawn per patient (their queues lock)
        system = f"{systems.CLINIC_ROOM_PREFIX}{facility.code}"
        location = [{"location": {"identifier": {"system": system, "value": "{room}"}}}]
    group = [
        {
            "name": "encounter",
            "resource": {
                "resourceType": "Encounter",
                "status": "arrived",
                "class": {"system": systems.ACT_CODE_CS, "code": "AMB"},
                "subject": {"reference": "{patient}"},
                "period": {"start": at},
                **({"location": location} if location else {}),
            },
        }
    ]
    if "Observation" in creates:
        category = [
            {"coding": [{"system": systems.OBSERVATION_CATEGORY_CS, "code": "vital-signs"}]}
        ]
        for name, code, value, unit, ucum in (
            ("temp", "8310-5", 37.2, "°C", "Cel"),
            ("pulse", "8867-4", 78, "beats/minute", "/min"),
        ):
            group.append(
                {
                    "name": name,
                    "resource": {
                        "resourceType": "Observation",
                        "status": "final",
                        "category": category,
                        "code": {"coding": [{"system": systems.LOINC, "code": code}]},
                        "subject": {"reference": "{patient}"},
                        "encounter": {"reference": "{encounter}"},
                        "effectiveDateTime": at,
                        "valueQuantity": {
                            "value": value,
                            "unit": unit,
                            "system": systems.UCUM_UNITS,
                            "code": ucum,
                        },
                    },
                }
            )
    if "Condition" in creates:
        group.append(
            {
                "name": "condition",
                "resource": {
                    "resourceType": "Condition",
                    "code": {"coding": [{"system": systems.ICD_10, "code": "J06.9"}]},
                    "subject": {"reference": "{patient}"},
                    "encounter": {"reference": "{encounter}"},
                },
            }
        )
    return group


def room_codes(facility) -> list[str]:
    from ehealth.core.models import ClinicRoom

    rooms = ClinicRoom.objects.filter(department__facility=facility).order_by("code")
    return list(rooms.values_list("code", flat=True))


def transaction_mix(port: int, token: str, prefix: str, facility) -> tuple[list[dict], str]:
    """The group to mix into transactions and a word on it: the CapabilityStatement's creates,
    then one probe Bundle (a patient and its group) that must pass; else Patients only."""
    from benchmarks.fhir_load import Requests

    creates = capability_creates(port, token)
    group = group_templates(creates, facility)
    rooms = room_codes(facility)
    if not group:
        return [], f"Patients only: the server declares no Encounter create ({sorted(creates)})"
    probe = Requests(
        {"kind": "transaction", "token": token, "prefixes": [prefix], "bundle_size": 1 + len(group)}
        | {"templates": {"group": group, "rooms": rooms}},
        0,
    )
    method, path, body, _ = probe.next()
    headers = {**probe.headers, "Content-Type": "application/fhir+json"}
    status, data = http_call(port, method, path, body=body, headers=headers)
    kinds = ["Patient", *(g["resource"]["resourceType"] for g in group)]
    if status != 200:
        return [], f"Patients only: a probe Bundle of {kinds} answered {status}: {data[:400]!r}"
    return group, f"groups of {kinds} (urn:uuid references)"


# --- Broker ------------------------------------------------------------------------------------------


def _queue_length(url: str) -> int | None:
    """Messages waiting in Celery's default queue on a Redis broker (None: not Redis, or down)."""
    if not url.startswith("redis"):
        return None
    try:
        import redis

        return int(redis.Redis.from_url(url).llen("celery"))
    except Exception:  # noqa: BLE001 - a figure of context only
        return None


def _drop_queued(url: str, count: int) -> None:
    """Drop the `count` newest messages of Celery's queue (kombu LPUSHes at the head): the tasks
    the run queued (duplicate checks of the patients it created) name rows of the benchmark
    database, which no worker serves."""
    import redis

    if count > 0:
        redis.Redis.from_url(url).ltrim("celery", count, -1)


# --- Main --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 patients, 50,000 resources.")
    parser.add_argument("--patients", type=int, help="Patients to seed (default 100,000).")
    parser.add_argument("--resources", type=int, help="FHIR resources (default 1,000,000).")
    parser.add_argument("--seconds", type=float, help="Timed seconds per phase (20; quick 5).")
    parser.add_argument("--max-requests", type=int, default=100_000, help="Requests per phase.")
    parser.add_argument("--max-bundles", type=int, default=5_000, help="Bundles per phase.")
    parser.add_argument("--warmup", type=float, help="Warm-up seconds per phase (2; quick 1).")
    parser.add_argument("--rounds", type=int, help="Bare/read alternations (2; quick 1).")
    parser.add_argument("--connections", type=int, default=4, help="Concurrent connections.")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (sync).")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class.")
    parser.add_argument("--threads", type=int, default=1, help="Threads per gunicorn worker.")
    parser.add_argument("--bundle-size", type=int, default=BUNDLE_SIZE, help="Bundle entries.")
    parser.add_argument("--samples", type=int, default=2000, help="Patients drawn for the load.")
    parser.add_argument("--only", help="Comma-separated phases to run (default: all).")
    parser.add_argument("--encounter-chunk", type=int, default=20_000, help="Encounters per COPY.")
    parser.add_argument("--db-name", default="ehealth_bench_fhir", help="Benchmark database.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Skip prepare and seed when the database already holds N patients, R resources.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="Only the result lines.")
    args = parser.parse_args(argv)
    args.patients = args.patients or (5_000 if args.quick else 100_000)
    args.resources = args.resources or (50_000 if args.quick else 1_000_000)
    args.seconds = args.seconds or (5.0 if args.quick else 20.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.phases = [p.strip() for p in args.only.split(",")] if args.only else list(PHASES)
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    return args


def _cores_used(r: dict) -> float:
    """Cores the benchmark's own processes (gunicorn, PostgreSQL's backends, the load generator)
    had during a phase: on a shared machine, the rest went to other processes."""
    cpu_ms = sum(r.get("cpu_ms_per_request", {}).values())
    return round(cpu_ms * r["ok"] / 1000 / r["seconds"], 2) if r["seconds"] else 0.0


def _line(name: str, r: dict) -> str:
    per_s = f"{r['rps']:8.1f} req/s"
    if r["kind"].startswith("transaction"):
        per_s += f" ({r['resources_per_s']:,.0f} resources/s)"
    found = f", {r['hits']}/{r['ok']} found" if r["kind"].startswith("search") else ""
    cpu = r.get("cpu_ms_per_request", {})
    return (
        f"{name:<18} {per_s}  p50 {r['p50_ms']:7.2f} ms  p95 {r['p95_ms']:7.2f}  "
        f"p99 {r['p99_ms']:7.2f} | {r['requests']:,} requests, {r['non_2xx']} non-2xx{found} | "
        f"CPU ms/request: gunicorn {cpu.get('gunicorn', 0):.2f}, postgres "
        f"{cpu.get('postgres', 0):.2f}, load {cpu.get('load', 0):.2f} | cores used "
        f"{r.get('cores_used', 0):.2f}, machine {r.get('machine_cpu', {})}"
    )


def _combine(runs: list[dict]) -> dict:
    """Several runs of one phase as one: rates over the summed time, the slowest percentiles."""
    if len(runs) == 1:
        return runs[0]
    out = dict(runs[-1])
    for key in ("requests", "ok", "non_2xx", "resources", "hits", "bytes"):
        out[key] = sum(r[key] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    out["seconds"] = round(seconds, 3)
    out["rps"] = round(out["ok"] / seconds, 1)
    out["resources_per_s"] = round(out["resources"] / seconds, 1)
    out["rounds_rps"] = [r["rps"] for r in runs]
    for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
        out[key] = max(r[key] for r in runs)
    cpu = {}
    for part in runs[0].get("cpu_ms_per_request", {}):
        total = sum(r["cpu_ms_per_request"][part] * max(r["ok"], 1) for r in runs)
        cpu[part] = round(total / max(out["ok"], 1), 3)
    out["cpu_ms_per_request"] = cpu
    out["cores_used"] = _cores_used(out)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    verbose = not args.quiet
    url = setup_django(args.db_name)
    from django.db import connection

    counts, seeded = seed_database(args, verbose=verbose)
    rng = random.Random(2026)
    secret = f"bench-{rng.getrandbits(64):016x}"
    registered, facility = bench_client(secret)
    picked = samples(facility_id=facility.pk, count=args.samples, rng=rng)
    if not picked["ids"]:
        raise SystemExit("no seeded patient at the main hospital: nothing to read")
    prefixes = fresh_prefixes(3 * args.connections + 1, rng)
    _analyze_all()

    log_dir = Path(tempfile.gettempdir())
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "False", "PYTHONWARNINGS": "ignore"}
    broker = env.get("CELERY_BROKER_URL", "")
    if not broker:
        print("CELERY_BROKER_URL is unset: the server runs Celery tasks eagerly, in the request")
    queued_before = _queue_length(broker)
    server = Server(args, env=env, log=log_dir / f"fhir-bench-gunicorn-{os.getpid()}.log")
    results: dict[str, dict] = {}
    try:
        server.wait_ready()
        token = get_token(server.port, registered.client_id, secret)
        group, mix = transaction_mix(server.port, token, prefixes[-1], facility)
        print(f"Transactions: {mix}", flush=True)
        base = {
            "host": "127.0.0.1",
            "port": server.port,
            "token": token,
            "connections": args.connections,
            "seconds": args.seconds,
            "max_requests": args.max_requests,
            "warmup_seconds": args.warmup,
            "warmup_requests": 1000,
            **picked,
        }
        plan: list[tuple[str, dict]] = []
        for _ in range(args.rounds):
            plan += [(p, {}) for p in ("bare", "read") if p in args.phases]
        for phase in ("search_name", "search_identifier"):
            if phase in args.phases:
                plan.append((phase, {}))
        if "create" in args.phases:
            plan.append(("create", {"prefixes": prefixes[: args.connections]}))
        n = args.connections
        bundles = {
            "bundle_size": args.bundle_size,
            "max_requests": args.max_bundles,
            "warmup_requests": 5,  # per connection: every worker has served a Bundle
        }
        if "transaction" in args.phases:  # new Patients only
            plan.append(
                (
                    "transaction",
                    {"prefixes": prefixes[n : 2 * n], "templates": {"group": []}, **bundles},
                )
            )
        if "transaction_mixed" in args.phases and group:
            plan.append(
                (
                    "transaction_mixed",
                    {
                        "prefixes": prefixes[2 * n : 3 * n],
                        "templates": {"group": group, "rooms": room_codes(facility)},
                        **bundles,
                    },
                )
            )
        runs: dict[str, list[dict]] = {}
        for i, (phase, extra) in enumerate(plan):
            spec = {**base, "kind": phase, "seed": 100 + i, **extra}
            marks: dict[str, object] = {}
            workers = server.worker_pids()

            def release(marks=marks, workers=workers) -> None:
                marks["backends"] = _backend_pids()
                marks["cpu"] = _cpu_times()
                marks["gunicorn"] = _proc_cpu(workers)
                marks["postgres"] = _proc_cpu(marks["backends"])

            def end(marks=marks, workers=workers) -> None:
                marks["cpu_end"] = _cpu_times()
                marks["gunicorn_end"] = _proc_cpu(workers)
                marks["postgres_end"] = _proc_cpu(marks["backends"])

            result = run_phase(spec, on_release=release, on_end=end)
            done = max(result["ok"], 1)
            result["machine_cpu"] = _cpu_shares(marks["cpu"], marks["cpu_end"])
            result["cpu_ms_per_request"] = {
                "gunicorn": round(1000 * (marks["gunicorn_end"] - marks["gunicorn"]) / done, 3),
                "postgres": round(1000 * (marks["postgres_end"] - marks["postgres"]) / done, 3),
                "load": round(1000 * result["client_cpu_seconds"] / done, 3),
            }
            result["cores_used"] = _cores_used(result)
            runs.setdefault(phase, []).append(result)
            if verbose or args.rounds == 1:
                print(_line(phase, result), flush=True)
            for error in result["errors"]:
                print(f"  {error}", flush=True)
        results = {phase: _combine(r) for phase, r in runs.items()}
    finally:
        server.stop()
        connection.close()
    queued = None
    if queued_before is not None:
        after = _queue_length(broker)
        queued = (after or 0) - queued_before
        _drop_queued(broker, queued)
    if args.rounds > 1:
        for phase, result in results.items():
            print(_line(phase, result), flush=True)

    summary = build_summary(args, results, counts, seeded, mix=mix, queued=queued)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def build_summary(args, results: dict, counts: dict, seeded: dict, *, mix: str, queued) -> dict:
    def phase_figure(phase: str, target: str | None = None, value_key: str = "rps") -> dict:
        r = results[phase]
        return _figure(
            r[value_key],
            target,
            rps=r["rps"],
            p50_ms=r["p50_ms"],
            p95_ms=r["p95_ms"],
            p99_ms=r["p99_ms"],
            requests=r["requests"],
            non_2xx=r["non_2xx"],
            seconds=r["seconds"],
            cpu_ms_per_request=r.get("cpu_ms_per_request"),
            cores_used=r.get("cores_used"),
            machine_cpu=r.get("machine_cpu"),
            **({"rounds_rps": r["rounds_rps"]} if "rounds_rps" in r else {}),
        )

    summary: dict = {}
    if "bare" in results and "read" in results:
        bare, read = results["bare"]["rps"], results["read"]["rps"]
        cpu = {p: sum(results[p]["cpu_ms_per_request"].values()) for p in ("bare", "read")}
        summary["read_bare_ratio"] = _figure(
            round(read / bare, 3) if bare else 0.0,
            f">={READ_RATIO_TARGET}",
            read_rps=read,
            bare_rps=bare,
            # the same ratio from the CPU each request took (server, database, load generator):
            # what the rates' ratio is on a machine of one's own, whatever the others' load
            cpu_ratio=round(cpu["bare"] / cpu["read"], 3) if cpu["read"] else None,
        )
    for phase in ("search_name", "search_identifier"):
        if phase in results:
            figure = phase_figure(phase, f"<{SEARCH_P95_TARGET_MS}", "p95_ms")
            figure["found"] = results[phase]["hits"]
            summary[f"{phase}_p95_ms"] = figure
    for phase, content in (("transaction", "new Patients"), ("transaction_mixed", mix)):
        if phase not in results:
            continue
        r = results[phase]
        summary[f"{phase}_resources_per_s"] = _figure(
            r["resources_per_s"],
            f">={TRANSACTION_TARGET_PER_S}",
            bundles_per_s=r["rps"],
            bundle_size=args.bundle_size,
            content=content,
            p50_ms=r["p50_ms"],
            p95_ms=r["p95_ms"],
            p99_ms=r["p99_ms"],
            bundles=r["ok"],
            non_2xx=r["non_2xx"],
            cpu_ms_per_bundle=r.get("cpu_ms_per_request"),
            cores_used=r.get("cores_used"),
            machine_cpu=r.get("machine_cpu"),
        )
    for phase in PHASES:
        if phase in results:
            summary[f"{phase}_rps"] = phase_figure(phase)
    summary["non_2xx"] = _figure(
        sum(r["non_2xx"] for r in results.values()),
        "=0",
        per_phase={p: r["non_2xx"] for p, r in results.items()},
    )
    busy = [r["machine_cpu"].get("busy") for r in results.values() if r.get("machine_cpu")]
    summary["machine_cpu_busy"] = _figure(
        round(sum(busy) / len(busy), 3) if busy else None,
        None,
        per_phase={p: r.get("machine_cpu") for p, r in results.items()},
    )
    summary["context"] = {
        "patients": counts.get("Patient"),
        "resources": sum(counts.values()),
        "resources_by_type": counts,
        "reused": not seeded,
        **seeded,
        "server": {
            "workers": args.workers,
            "worker_class": args.worker_class,
            "threads": args.threads,
            "settings": "benchmarks.fhir_settings",
        },
        "connections": args.connections,
        "seconds_per_phase": args.seconds,
        "rounds": args.rounds,
        "transaction_mix": mix,
        "celery_tasks_queued": queued,
        "database": args.db_name,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    return summary


if __name__ == "__main__":
    sys.exit(main())
