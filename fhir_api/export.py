"""The Bulk Data export engine: what `fhir_api.tasks.export_task` runs for one ExportJob.

Every resource comes from its registered provider's own search (`search_type`), page by page,
following the searchset's keyset `next` link, as the job's client: visibility, mapping and audit
are exactly those of a search by that client (each audit row also names the job). Nothing is kept
beyond one page: a page is appended to its type's NDJSON file at once, a new file every
FHIR_EXPORT_FILE_MAX_RESOURCES lines.

- system level: each requested type, searched without criteria;
- Patient level: the patients visible to the client, by chunks of ids; for each chunk, each
  requested type of the patient compartment, searched with its compartment parameter (`_id` for
  Patient, else the first of `patient`, `subject`, `beneficiary` the type's search has);
- Group level (Group/<unit id>): the same over the patients holding a live record number at the
  client's own unit; patients only shared with the unit are left out.

`_since`: a `_lastUpdated=ge<day>` criterion (dropped for a type whose search refuses it); then any
resource whose `meta.lastUpdated` is before `since` is dropped (one without `meta.lastUpdated` is
kept). A type the search refuses (scope withdrawn, permission) becomes an OperationOutcome line
in the error file; the other types go on. The job is looked at between pages: once cancelled (a
DELETE of its status URL) the run stops and its folder is removed.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ehealth.core import context
from ehealth.core.audit import audit_record
from fhir_api import registry
from fhir_api.auth import CLIENT_ROLE, Principal
from fhir_api.http import Call
from fhir_api.models import ExportJob
from fhir_api.outcomes import FhirError, Issue, operation_outcome
from fhir_api.scopes import Scope, parse_scopes, scopes_allow
from fhir_api.search.params import MAX_COUNT
from patients.choices import IdentifierSystem
from patients.models import PatientIdentifier
from patients.selectors import patient_visible_qs

logger = logging.getLogger(__name__)

Status = ExportJob.Status
COMPARTMENT_PARAMS = ("patient", "subject", "beneficiary")
ERROR_TYPE = "OperationOutcome"
CHANNEL = "fhir-export"


class Cancelled(Exception):
    """The job was cancelled (or is otherwise no longer running) while it ran."""


class ExportRefused(Exception):
    """The job cannot run any more (its client was disabled); the message says why."""


@dataclass
class ExportPrincipal(Principal):
    """The job's client, as the searches see it; their audit rows carry the job id."""

    export_id: str = ""

    @property
    def audit_detail(self) -> dict:
        return {"client_id": self.client_id, "export": self.export_id}


class _TaskRequest:
    """The request a provider sees in a search run by the task: no headers, no body."""

    method = "GET"

    def __init__(self) -> None:
        self.META: dict[str, str] = {}


def may_export(scopes: list[Scope], resource_type: str) -> bool:
    """A type is exported to a client that may read or search it (`r` or `s`)."""
    return scopes_allow(scopes, resource_type, "r") or scopes_allow(scopes, resource_type, "s")


def exportable(resource: registry.ResourceDef) -> bool:
    return "search-type" in resource.interactions


def compartment_param(resource: registry.ResourceDef) -> str | None:
    """The search parameter naming a resource's patient, None outside the patient compartment."""
    if resource.type == "Patient":
        return "_id"
    for name in COMPARTMENT_PARAMS:
        param = resource.search_params.get(name)
        if param is not None and param.type == "reference":
            return name
    return None


def page_size() -> int:
    return max(1, min(settings.FHIR_EXPORT_PAGE_SIZE, MAX_COUNT))


class NdjsonWriter:
    """Appends the resources of one type to `<Type>-<n>.ndjson`, a new file every `limit` lines.
    A file is opened at its first line: a type with nothing to export leaves no file."""

    def __init__(self, directory: Path, resource_type: str, limit: int) -> None:
        self.directory, self.type, self.limit = directory, resource_type, max(1, limit)
        self.files: list[dict[str, Any]] = []
        self._handle = None

    def write(self, resource: dict[str, Any]) -> None:
        if self._handle is None or self.files[-1]["count"] >= self.limit:
            self._open_next()
        line = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
        self._handle.write(line.encode() + b"\n")
        self.files[-1]["count"] += 1

    def _open_next(self) -> None:
        self.close()
        name = f"{self.type}-{len(self.files) + 1}.ndjson"
        self._handle = open(self.directory / name, "wb")  # noqa: SIM115 - closed by close()
        self.files.append({"type": self.type, "file": name, "count": 0})

    @property
    def count(self) -> int:
        return sum(f["count"] for f in self.files)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def search_pages(
    resource: registry.ResourceDef, call: Call, criteria: list[tuple[str, str]]
) -> Iterator[list[dict[str, Any]]]:
    """The matches of the type's search, one page at a time, following the `next` link."""
    items = [*criteria, ("_count", str(page_size()))]
    while True:
        bundle = resource.provider.search_type(call, items).body or {}
        yield [
            e["resource"]
            for e in bundle.get("entry", [])
            if e.get("search", {}).get("mode", "match") == "match"
        ]
        link = next((x["url"] for x in bundle.get("link", []) if x["relation"] == "next"), None)
        if link is None:
            return
        items = parse_qsl(urlsplit(link).query, keep_blank_values=True)


def _changed_since(resource: dict[str, Any], since: datetime | None) -> bool:
    last = resource.get("meta", {}).get("lastUpdated")
    if since is None or not last:
        return True
    try:
        return datetime.fromisoformat(last) >= since
    except ValueError:
        return True


def _about(exc: FhirError, param: str) -> bool:
    return any(param in e for issue in exc.issues for e in issue.expression)


def _since_criteria(resource: registry.ResourceDef, since: datetime | None) -> list:
    if since is None or "_lastUpdated" not in {**registry.COMMON_PARAMS, **resource.search_params}:
        return []
    day = since.astimezone(UTC).date()
    return [("_lastUpdated", f"ge{day.isoformat()}")]


def job_principal(job: ExportJob) -> ExportPrincipal:
    """The job's client today: its scopes at kick-off, less any withdrawn from it since."""
    client = job.client
    application = client.application
    user = application.user
    if not client.is_active or user is None or not user.is_active:
        raise ExportRefused("The client was disabled after the export was requested.")
    allowed = parse_scopes(client.scope_list)
    scopes = [s for s in parse_scopes(job.scopes) if any(a.covers(s) for a in allowed)]
    return ExportPrincipal(
        user=user,
        kind="client",
        facility_id=client.facility_id,
        client_id=application.client_id,
        scopes=scopes,
        export_id=str(job.pk),
    )


def remove_files(job: ExportJob) -> None:
    shutil.rmtree(job.directory, ignore_errors=True)


class _Run:
    """One run of a job: a writer per type, the error file, the progress checkpoints."""

    def __init__(self, job: ExportJob, call: Call) -> None:
        self.job, self.call = job, call
        self.directory = Path(job.directory)
        self.limit = settings.FHIR_EXPORT_FILE_MAX_RESOURCES
        self.writers: dict[str, NdjsonWriter] = {}
        self.error_writer = NdjsonWriter(self.directory, ERROR_TYPE, self.limit)
        self.refused: set[str] = set()
        self.unfiltered: set[str] = set()  # types whose search has no `_lastUpdated`
        self.pages = 0

    def export(self) -> None:
        resources = []
        for name in self.job.types:
            resource = registry.get(name)
            if resource is None or not exportable(resource):
                self._error(name, [Issue("not-supported", "The type is no longer served.")])
            else:
                resources.append(resource)
        if self.job.level == ExportJob.Level.SYSTEM:
            for resource in resources:
                self._export(resource, [])
            return
        params = {r.type: compartment_param(r) for r in resources}
        for ids in self._patient_chunks():
            for resource in resources:
                param = params[resource.type]
                refs = [str(i) if param == "_id" else f"Patient/{i}" for i in ids]
                self._export(resource, [(param, ",".join(refs))])

    def _patient_chunks(self) -> Iterator[list[int]]:
        """Ids of the level's patients, a page at a time (keyset on the id)."""
        qs = patient_visible_qs(user=self.call.principal.user)
        if self.job.level == ExportJob.Level.GROUP:
            registered = PatientIdentifier.objects.filter(
                patient_id=OuterRef("pk"),
                system=IdentifierSystem.MRN,
                voided_at__isnull=True,
                facility_id=int(self.job.group_id),
            )
            qs = qs.filter(Exists(registered))
        size, last = page_size(), 0
        while True:
            ids = list(qs.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
            if ids:
                yield ids
            if len(ids) < size:
                return
            last = ids[-1]

    def _export(self, resource: registry.ResourceDef, criteria: list[tuple[str, str]]) -> None:
        name = resource.type
        if name in self.refused:
            return
        if not may_export(self.call.principal.scopes, name):
            self._error(name, [Issue("forbidden", "The client may no longer read this type.")])
            return
        writer = self.writers.get(name)
        if writer is None:
            writer = self.writers[name] = NdjsonWriter(self.directory, name, self.limit)
        narrowed = [] if name in self.unfiltered else _since_criteria(resource, self.job.since)
        try:
            try:
                self._write_pages(resource, writer, [*criteria, *narrowed])
            except FhirError as exc:
                if not narrowed or not _about(exc, "_lastUpdated"):
                    raise
                # This type's search refuses `_lastUpdated` (no change time): `since` is then
                # applied to meta.lastUpdated alone.
                self.unfiltered.add(name)
                self._write_pages(resource, writer, criteria)
        except FhirError as exc:
            self._error(name, exc.issues)

    def _write_pages(self, resource, writer: NdjsonWriter, criteria: list) -> None:
        since = self.job.since
        for page in search_pages(resource, self.call, criteria):
            for item in page:
                if _changed_since(item, since):
                    writer.write(item)
            self.pages += 1
            self.checkpoint(f"{resource.type}: {writer.count} resources written")

    def _error(self, resource_type: str, issues: list[Issue]) -> None:
        self.refused.add(resource_type)
        marked = [
            Issue(i.code, f"{resource_type}: {i.diagnostics}", i.expression or [resource_type])
            for i in issues
        ]
        self.error_writer.write(operation_outcome(marked))

    def checkpoint(self, progress: str) -> None:
        """Record the progress; Cancelled once the job is no longer running (one query)."""
        updated = ExportJob.objects.filter(pk=self.job.pk, status=Status.RUNNING).update(
            progress=progress[:200]
        )
        if not updated:
            raise Cancelled

    def close(self) -> None:
        for writer in [*self.writers.values(), self.error_writer]:
            writer.close()

    def output(self) -> list[dict[str, Any]]:
        return [f for name in self.job.types for f in getattr(self.writers.get(name), "files", [])]


def export_run(job_id: str) -> str:
    """Run one job to its end and return its final status.

    Idempotent: a job already ended is left alone; one found running (its worker died and the
    task was delivered again) starts over in an emptied folder.
    """
    claimed = ExportJob.objects.filter(pk=job_id, status__in=[Status.QUEUED, Status.RUNNING])
    if not claimed.update(status=Status.RUNNING, started_at=timezone.now(), progress="started"):
        return ExportJob.objects.filter(pk=job_id).values_list("status", flat=True).first() or ""
    job = ExportJob.objects.select_related("client__application__user").get(pk=job_id)
    token = context.set_current(
        context.ActorContext(channel=CHANNEL, facility_id=job.facility_id, role=CLIENT_ROLE)
    )
    run = None
    try:
        remove_files(job)
        Path(job.directory).mkdir(parents=True)
        principal = job_principal(job)
        run = _Run(job, Call(request=_TaskRequest(), principal=principal, base_url=job.base_url))
        run.export()
        run.close()
        return _complete(job, run, principal)
    except Cancelled:
        remove_files(job)
        return Status.CANCELLED
    except ExportRefused as exc:
        return _fail(job, str(exc))
    except SoftTimeLimitExceeded:
        return _fail(job, "The export ran longer than the server allows; ask for fewer types.")
    except Exception:  # noqa: BLE001 - the job records the failure; the traceback goes to the log
        logger.exception("FHIR export %s failed", job_id)
        return _fail(job, "Internal error while exporting.")
    finally:
        if run is not None:
            run.close()
        context.reset(token)


def _complete(job: ExportJob, run: _Run, principal: ExportPrincipal) -> str:
    output = run.output()
    done = ExportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
        status=Status.COMPLETED,
        output=output,
        errors=run.error_writer.files,
        finished_at=timezone.now(),
        progress="completed",
    )
    if not done:
        raise Cancelled
    counts: dict[str, int] = {}
    for f in output:
        counts[f["type"]] = counts.get(f["type"], 0) + f["count"]
    audit_record(
        actor=principal.user,
        action="fhir.export.complete",
        target=job,
        detail={**principal.audit_detail, "counts": counts, "pages": run.pages},
    )
    return Status.COMPLETED


def _fail(job: ExportJob, message: str) -> str:
    remove_files(job)
    failed = ExportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
        status=Status.FAILED, error=message, finished_at=timezone.now(), progress="failed"
    )
    return Status.FAILED if failed else Status.CANCELLED


def export_cleanup(now: datetime | None = None) -> int:
    """Delete the jobs, and their files, ended FHIR_EXPORT_RETENTION_HOURS ago or more, and those
    still queued or running that long after the task's time limit (their worker is gone)."""
    now = now or timezone.now()
    keep = timedelta(hours=settings.FHIR_EXPORT_RETENTION_HOURS)
    lost = now - keep - timedelta(seconds=settings.FHIR_EXPORT_TIME_LIMIT)
    old = ExportJob.objects.filter(finished_at__lt=now - keep) | ExportJob.objects.filter(
        finished_at__isnull=True, created_at__lt=lost
    )
    removed = 0
    for job in old.only("id", "directory"):
        remove_files(job)
        job.delete()
        removed += 1
    return removed
