"""Load generator of benchmarks/fhir.py: N keep-alive HTTP connections, one per process.

No Django here (the processes are spawned fresh and only speak HTTP). A phase is a dict:

    {"kind": "read", "host": "127.0.0.1", "port": 8123, "token": "...", "connections": 4,
     "seconds": 20, "max_requests": 20000, "warmup_seconds": 2, "warmup_requests": 50,
     "seed": 1, "ids": [...], "names": [...], "cccds": [...], "prefixes": [...],
     "bundle_size": 50, "templates": {...}}

Each process opens one `http.client.HTTPConnection` (kept alive when the server allows it; reopened
when the server closes it, as gunicorn's sync workers do after every response), warms up, says so
and waits; the parent releases all at one CLOCK_MONOTONIC instant, and each then sends requests
back to back until the phase's seconds are over or its share of `max_requests` is done. Per request
the latency (send to last byte read), the status, and the resources it carried are kept.

Kinds: `bare` (the benchmark's bare Django view), `read` (Patient/<id>), `search_name`
(Patient?name=<folded full name>), `search_identifier` (Patient?identifier=<CCCD system>|<cccd>),
`create` (POST Patient, a fresh CCCD each) and `transaction` (POST a transaction Bundle of
`bundle_size` entries: new Patients, or groups of a Patient and resources referring to it by
urn:uuid, from `templates`).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import random
import time
import uuid
from collections import Counter
from typing import Any
from urllib.parse import quote

BASE = "/fhir/R4/"
BARE = "/bench/bare/patient/"
CCCD = "http://fhir.hl7.org.vn/core/sid/cccd"
FAMILIES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"]
MIDDLE = {"male": ["Văn", "Hữu", "Đức", "Minh", "Quốc"], "female": ["Thị", "Ngọc", "Thu", "Mỹ"]}
GIVEN = {
    "male": ["An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khoa", "Long", "Nam", "Phúc"],
    "female": ["Anh", "Chi", "Hà", "Hoa", "Lan", "Linh", "Mai", "Ngân", "Thảo", "Vy"],
}
# CCCD 4th digit -> (century, sex): even digits men, odd digits women (patients.identifiers).
CENTURY = {"0": 1900, "1": 1900, "2": 2000, "3": 2000}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of `values` (q in 0..100); 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(rank) - 1]


def _fill(value: Any, refs: dict[str, str]) -> Any:
    """A template with every "{name}" string replaced by refs[name]."""
    if isinstance(value, dict):
        return {k: _fill(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, refs) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return refs.get(value[1:-1], value)
    return value


class Requests:
    """The requests of one connection of a phase, drawn with its own random generator."""

    def __init__(self, spec: dict, worker: int):
        self.spec = spec
        self.kind = spec["kind"]
        self.rng = random.Random(spec.get("seed", 1) * 1000 + worker)
        prefixes = spec.get("prefixes") or []
        self.prefix = prefixes[worker] if worker < len(prefixes) else ""
        self.serial = 0
        self.headers = {"Accept": "application/fhir+json", "Connection": "keep-alive"}
        if self.kind != "bare":
            self.headers["Authorization"] = f"Bearer {spec['token']}"

    def _patient(self) -> dict[str, Any]:
        """A new Patient with a CCCD never used before (this connection's prefix + a serial)."""
        if self.serial >= 10**6:
            raise RuntimeError("this connection used up its CCCD prefix")
        digit = self.prefix[3]
        gender = "male" if int(digit) % 2 == 0 else "female"
        year = CENTURY[digit] + int(self.prefix[4:6])
        cccd = f"{self.prefix}{self.serial:06d}"
        self.serial += 1
        rng = self.rng
        return {
            "resourceType": "Patient",
            "identifier": [{"system": CCCD, "value": cccd}],
            "name": [
                {
                    "family": rng.choice(FAMILIES),
                    "given": [rng.choice(MIDDLE[gender]), rng.choice(GIVEN[gender])],
                }
            ],
            "gender": gender,
            "birthDate": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "telecom": [{"system": "phone", "value": f"09{rng.randrange(10**8):08d}"}],
        }

    def _bundle(self) -> tuple[dict[str, Any], int]:
        size = self.spec.get("bundle_size", 50)
        templates = self.spec.get("templates") or {}
        group = templates.get("group") or []  # resources per new patient, after the patient
        entries: list[dict[str, Any]] = []
        while len(entries) < size:
            patient = f"urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"
            entries.append(
                {
                    "fullUrl": patient,
                    "resource": self._patient(),
                    "request": {"method": "POST", "url": "Patient"},
                }
            )
            refs = {"patient": patient}
            if templates.get("rooms"):
                refs["room"] = self.rng.choice(templates["rooms"])
            for item in group[: size - len(entries)]:
                url = f"urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"
                refs[item.get("name", "")] = url
                entries.append(
                    {
                        "fullUrl": url,
                        "resource": _fill(item["resource"], refs),
                        "request": {"method": "POST", "url": item["resource"]["resourceType"]},
                    }
                )
        return {"resourceType": "Bundle", "type": "transaction", "entry": entries}, len(entries)

    def next(self) -> tuple[str, str, bytes | None, int]:
        """(method, path, body, resources carried) of the next request."""
        spec, rng = self.spec, self.rng
        if self.kind == "bare":
            return "GET", f"{BARE}{rng.choice(spec['ids'])}", None, 1
        if self.kind == "read":
            return "GET", f"{BASE}Patient/{rng.choice(spec['ids'])}", None, 1
        if self.kind == "search_name":
            return "GET", f"{BASE}Patient?name={quote(rng.choice(spec['names']))}", None, 0
        if self.kind == "search_identifier":
            value = quote(f"{CCCD}|{rng.choice(spec['cccds'])}", safe="")
            return "GET", f"{BASE}Patient?identifier={value}", None, 0
        if self.kind == "create":
            body = json.dumps(self._patient(), ensure_ascii=False).encode()
            return "POST", f"{BASE}Patient", body, 1
        if self.kind.startswith("transaction"):
            bundle, count = self._bundle()
            return "POST", BASE, json.dumps(bundle, ensure_ascii=False).encode(), count
        raise ValueError(f"unknown phase kind {self.kind!r}")


def _worker(spec: dict, worker: int, pipe) -> None:
    """One connection of a phase (runs in its own process); sends its results on `pipe`."""
    requests = Requests(spec, worker)
    conn = http.client.HTTPConnection(spec["host"], spec["port"], timeout=spec.get("timeout", 120))
    search = spec["kind"].startswith("search")
    stats: dict[str, Any] = {"latencies_ms": [], "statuses": Counter(), "resources": 0}
    stats.update(hits=0, errors=[], connect_errors=0, bytes=0)

    def one(record: bool) -> None:
        method, path, body, resources = requests.next()
        headers = dict(requests.headers)
        if body is not None:
            headers["Content-Type"] = "application/fhir+json"
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            if record:
                stats["connect_errors"] += 1
                stats["statuses"]["error"] += 1
                if len(stats["errors"]) < 3:
                    stats["errors"].append(f"{method} {path}: {exc!r}")
            return
        elapsed = time.perf_counter() - started
        if response.will_close:
            conn.close()  # reopened by the next request
        if not record:
            return
        status = response.status
        stats["statuses"][str(status)] += 1
        stats["bytes"] += len(data)
        if 200 <= status < 300:
            stats["latencies_ms"].append(elapsed * 1000)
            stats["resources"] += resources
            if search and b'"fullUrl"' in data:
                stats["hits"] += 1
        else:
            stats["latencies_ms"].append(elapsed * 1000)
            if len(stats["errors"]) < 3:
                stats["errors"].append(f"{method} {path[:120]} -> {status}: {data[:600]!r}")

    warm_end = time.monotonic() + spec.get("warmup_seconds", 0)
    for _ in range(spec.get("warmup_requests", 0)):
        if time.monotonic() >= warm_end:
            break
        one(record=False)
    pipe.send("ready")
    start_at = pipe.recv()
    while time.monotonic() < start_at:
        time.sleep(0.0005)
    deadline = start_at + spec["seconds"]
    share = -(-spec["max_requests"] // spec["connections"])  # ceil
    cpu = time.process_time()
    started = time.monotonic()
    sent = 0
    while sent < share and time.monotonic() < deadline:
        one(record=True)
        sent += 1
    stats.update(
        started_at=started,
        ended_at=time.monotonic(),
        requests=sent,
        cpu_seconds=time.process_time() - cpu,
        statuses=dict(stats["statuses"]),
    )
    conn.close()
    pipe.send(stats)
    pipe.close()


def run_phase(spec: dict, *, on_release=None, on_end=None) -> dict[str, Any]:
    """Run one phase over `spec["connections"]` processes; the merged figures.

    `on_release()` is called just before the release (e.g. to read CPU counters), `on_end()` just
    after the last process is done."""
    ctx = multiprocessing.get_context("spawn")
    n = spec["connections"]
    pipes, procs = [], []
    try:
        for k in range(n):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(spec, k, child), daemon=True)
            proc.start()
            child.close()
            pipes.append(parent)
            procs.append(proc)
        for k, pipe in enumerate(pipes):
            if pipe.recv() != "ready":
                raise RuntimeError(f"load process {k} did not warm up")
        if on_release is not None:
            on_release()
        start_at = time.monotonic() + 0.05
        for pipe in pipes:
            pipe.send(start_at)
        results = [pipe.recv() for pipe in pipes]
        if on_end is not None:
            on_end()
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return merge(results, start_at=start_at, kind=spec["kind"], connections=n)


def merge(results: list[dict], *, start_at: float, kind: str, connections: int) -> dict[str, Any]:
    """The figures of a phase from its processes' results."""
    latencies = [x for r in results for x in r["latencies_ms"]]
    statuses: Counter = Counter()
    for r in results:
        statuses.update(r["statuses"])
    seconds = max(r["ended_at"] for r in results) - start_at
    requests = sum(r["requests"] for r in results)
    ok = sum(v for k, v in statuses.items() if k.isdigit() and 200 <= int(k) < 300)
    resources = sum(r["resources"] for r in results)
    return {
        "kind": kind,
        "connections": connections,
        "requests": requests,
        "ok": ok,
        "non_2xx": requests - ok,
        "statuses": dict(statuses),
        "errors": [e for r in results for e in r["errors"]][:5],
        "seconds": round(seconds, 3),
        "rps": round(ok / seconds, 1) if seconds > 0 else 0.0,
        "resources": resources,
        "resources_per_s": round(resources / seconds, 1) if seconds > 0 else 0.0,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2) if latencies else 0.0,
        "hits": sum(r["hits"] for r in results),
        "client_cpu_seconds": round(sum(r["cpu_seconds"] for r in results), 3),
        "bytes": sum(r["bytes"] for r in results),
        "start_skew_s": round(max(r["started_at"] for r in results) - start_at, 4),
    }
