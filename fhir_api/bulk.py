"""FHIR Bulk Data Access (v2) `$export`: kick-off, status polling, cancellation, file download.

- Kick-off: `GET [base]/$export`, `[base]/Patient/$export`, `[base]/Group/<unit id>/$export` with
  `Accept: application/fhir+json` and `Prefer: respond-async`; `_type`, `_since` (an instant) and
  `_outputFormat` (NDJSON only). 202 with `Content-Location`: the status URL. The job is run by a
  Celery task (`fhir_api.export`).
- Status: `GET [base]/$export-status/<job>`: 202 with `X-Progress` and `Retry-After` while it
  runs, 200 with the manifest once done, 500 with an OperationOutcome if it failed. `DELETE`
  cancels the job and removes its files (202).
- Files: `GET [base]/$export-file/<job>/<file>`: NDJSON, streamed.

Only registered clients export (OAuth2 bearer token; a staff session gets 403), and a job is seen
by the client that started it only (404 for anyone else). The client needs read (`r` or `s`) on
every exported type, at kick-off and again at each download. Group/<id> is the client's own unit
(its Organization id): the patients holding a record number there; any other id answers 404.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from ehealth.core import context
from ehealth.core.audit import audit_record
from fhir_api import registry
from fhir_api.auth import Principal, authenticate, client_context
from fhir_api.export import compartment_param, exportable, may_export, remove_files
from fhir_api.fhir import MIME_FHIR_JSON
from fhir_api.http import json_response, parse_prefer
from fhir_api.models import ExportJob, FhirClient
from fhir_api.outcomes import (
    BadRequest,
    FhirError,
    Forbidden,
    Issue,
    MethodNotAllowed,
    NotFound,
    operation_outcome,
    outcome_for_exception,
)

logger = logging.getLogger(__name__)
Status = ExportJob.Status
Level = ExportJob.Level
NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = frozenset({NDJSON, "application/ndjson", "ndjson"})
KICKOFF_PARAMS = frozenset({"_type", "_since", "_outputFormat"})
BULK_DATA_CAPABILITY = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
_OPDEF = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"
EXPORT_OPERATIONS = {  # by level
    "system": registry.Operation("export", _OPDEF + "export"),
    "patient": registry.Operation("export", _OPDEF + "patient-export"),
    "group": registry.Operation("export", _OPDEF + "group-export"),
}
GROUP_DOCUMENTATION = (
    "Group is not served as a resource. Group/<id>/$export exports the patients holding a record "
    "number at the health unit whose Organization id is <id>: the client's own unit only."
)
_INSTANT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


# --- the wrapper: bearer client only, errors as OperationOutcome, refusals audited -------------


def _serve(request, interaction: str, handler: Callable[[Principal], HttpResponse], job_id=""):
    principal: Principal | None = None
    token = None
    try:
        principal = authenticate(request)
        if principal.kind != "client":
            raise Forbidden(
                "Bulk export is for registered clients (OAuth2 client credentials), "
                "not for signed-in sessions."
            )
        token = context.set_current(client_context(request, principal))
        return handler(principal)
    except Exception as exc:  # noqa: BLE001 - every error is answered as an OperationOutcome
        error = outcome_for_exception(exc)
        audit_record(
            actor=principal.user if principal is not None and error.status != 401 else None,
            action="fhir.refused" if error.status < 500 else "fhir.error",
            detail={
                "status": error.status,
                "interaction": interaction,
                "id": str(job_id)[:64],
                **(principal.audit_detail if principal is not None else {}),
            },
        )
        return json_response(error.status, operation_outcome(error.issues), error.headers)
    finally:
        if token is not None:
            context.reset(token)


def _information(text: str) -> dict:
    return operation_outcome([Issue("informational", text, severity="information")])


def _base_url(request) -> str:
    return request.build_absolute_uri(reverse("fhir:metadata")).removesuffix("metadata")


# --- kick-off ------------------------------------------------------------------------------------


@csrf_exempt
def export_system(request):
    return _kickoff_endpoint(request, Level.SYSTEM)


@csrf_exempt
def export_patient(request):
    return _kickoff_endpoint(request, Level.PATIENT)


@csrf_exempt
def export_group(request, group_id: str):
    return _kickoff_endpoint(request, Level.GROUP, group_id)


def _kickoff_endpoint(request, level: str, group_id: str = ""):
    def handler(principal: Principal) -> HttpResponse:
        if request.method != "GET":
            raise MethodNotAllowed("Start an export with GET.", headers={"Allow": "GET"})
        return _kickoff(request, principal, level, group_id)

    return _serve(request, "$export", handler)


def _kickoff(request, principal: Principal, level: str, group_id: str) -> HttpResponse:
    prefer = parse_prefer(request.META.get("HTTP_PREFER", ""))
    accepted = {a.split(";")[0].strip() for a in request.META.get("HTTP_ACCEPT", "").split(",")}
    if MIME_FHIR_JSON not in accepted:
        raise BadRequest("The kick-off needs 'Accept: application/fhir+json'.", expression="Accept")
    if "respond-async" not in prefer:
        raise BadRequest("The kick-off needs 'Prefer: respond-async'.", expression="Prefer")
    if level == Level.GROUP and group_id != str(principal.facility_id):
        raise NotFound(f"Group/{group_id} is not known.", expression="Group")
    params = _params(request, lenient=prefer.get("handling") == "lenient")
    output_format = params.get("_outputFormat", NDJSON)
    if output_format not in OUTPUT_FORMATS:
        raise BadRequest(
            f"_outputFormat={output_format} is not supported; use {NDJSON}.",
            expression="_outputFormat",
        )
    since = _since(params["_since"]) if "_since" in params else None
    types = _types(params.get("_type"), level, principal)
    client = FhirClient.objects.select_related("application").get(
        application__client_id=principal.client_id
    )
    _check_active_jobs(client)
    job_id = uuid.uuid4()
    job = ExportJob.objects.create(
        id=job_id,
        client=client,
        user=principal.user,
        facility_id=principal.facility_id,
        level=level,
        group_id=group_id,
        types=types,
        since=since,
        output_format=NDJSON,
        scopes=_scope_text(principal),
        request_url=request.build_absolute_uri(),
        base_url=_base_url(request),
        directory=str(Path(settings.FHIR_EXPORT_DIR) / str(job_id)),
    )
    audit_record(
        actor=principal.user,
        action="fhir.export.kickoff",
        target=job,
        detail={"level": level, "types": types, **principal.audit_detail},
    )
    transaction.on_commit(lambda: _queue(job.pk))
    response = json_response(202, _information(f"Export {job.pk} accepted."), {})
    response["Content-Location"] = _status_url(request, job)
    return response


def _scope_text(principal: Principal) -> str:
    """The token's scopes, as SMART v2 text (the task narrows them again when it runs)."""
    letters = [("".join(c for c in "cruds" if c in s.letters), s) for s in principal.scopes]
    return " ".join(f"system/{s.resource_type}.{text}" for text, s in letters)


def _queue(job_id) -> None:
    """Send the job to a worker; if the broker cannot take it, the job fails (the status says so)."""
    from fhir_api.tasks import export_task

    try:
        export_task.delay(str(job_id))
    except Exception:  # noqa: BLE001 - broker down: recorded on the job, logged with its traceback
        logger.exception("FHIR export %s could not be queued", job_id)
        ExportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
            status=Status.FAILED,
            error="The export could not be queued; try again later.",
            finished_at=timezone.now(),
        )


def _params(request, *, lenient: bool) -> dict[str, str]:
    """Each kick-off parameter once; anything else is refused unless `handling=lenient`."""
    out = {}
    for name, values in request.GET.lists():
        if name not in KICKOFF_PARAMS:
            if lenient:
                continue
            raise BadRequest(
                f"The parameter '{name}' is not supported by $export.", expression=name
            )
        if len(values) > 1:
            raise BadRequest(f"Give '{name}' once.", expression=name)
        out[name] = values[0]
    return out


def _since(raw: str) -> datetime:
    text = raw.strip().replace(" ", "+")  # an unencoded "+" of the offset arrives as a space
    value = None
    if _INSTANT_RE.match(text):
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            value = None
    if value is None:
        raise BadRequest(
            f"_since must be a FHIR instant with its offset (e.g. 2026-03-01T00:00:00+07:00), "
            f"not '{raw}'.",
            expression="_since",
        )
    return value


def _types(raw: str | None, level: str, principal: Principal) -> list[str]:
    """The types to export: those asked for (each served, searchable and within the scopes), or
    every such type the client may read; at Patient and Group level, the patient compartment's."""

    def in_level(resource: registry.ResourceDef) -> bool:
        return level == Level.SYSTEM or compartment_param(resource) is not None

    if raw is None:
        types = [
            r.type
            for r in registry.all_resources()
            if exportable(r) and in_level(r) and may_export(principal.scopes, r.type)
        ]
        if not types:
            raise Forbidden("The token's scopes allow reading no exportable type.")
        return types
    names = list(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
    if not names:
        raise BadRequest("_type is empty.", expression="_type")
    for name in names:
        resource = registry.get(name)
        if resource is None or not exportable(resource):
            raise BadRequest(
                f"_type: {name} is not a type this server exports.", expression="_type"
            )
        if not in_level(resource):
            raise BadRequest(
                f"_type: {name} is not in the patient compartment ({level} level export).",
                expression="_type",
            )
        if not may_export(principal.scopes, name):
            raise Forbidden(
                f"The token's scopes do not allow reading {name} "
                f"(needs system/{name}.r or system/{name}.s).",
                expression="_type",
            )
    return names


def _check_active_jobs(client: FhirClient) -> None:
    active = ExportJob.objects.filter(client=client, status__in=[Status.QUEUED, Status.RUNNING])
    if active.count() >= settings.FHIR_EXPORT_MAX_ACTIVE:
        raise FhirError(
            f"This client already has {settings.FHIR_EXPORT_MAX_ACTIVE} exports in progress; "
            "wait for one to end or cancel it.",
            status=429,
            code="throttled",
            headers={"Retry-After": str(settings.FHIR_EXPORT_RETRY_AFTER_SECONDS * 6)},
        )


# --- status, cancellation, files -----------------------------------------------------------------


def _status_url(request, job: ExportJob) -> str:
    return request.build_absolute_uri(reverse("fhir:export-status", args=[job.pk]))


def _own_job(principal: Principal, job_id) -> ExportJob:
    """The job, if the caller's client started it and it was not cancelled (404 otherwise)."""
    job = (
        ExportJob.objects.filter(pk=job_id, client__application__client_id=principal.client_id)
        .exclude(status=Status.CANCELLED)
        .first()
    )
    if job is None:
        raise NotFound(f"Export {job_id} is not known.")
    return job


@csrf_exempt
def export_status(request, job_id):
    def handler(principal: Principal) -> HttpResponse:
        if request.method == "DELETE":
            return _cancel(principal, job_id)
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed("Use GET or DELETE.", headers={"Allow": "GET, DELETE"})
        job = _own_job(principal, job_id)
        audit_record(
            actor=principal.user,
            action="fhir.export.status",
            target=job,
            detail={"status": job.status, **principal.audit_detail},
        )
        if job.active:
            response = json_response(202, None, {})
            response["X-Progress"] = f"{job.status}: {job.progress or 'waiting for a worker'}"
            response["Retry-After"] = str(settings.FHIR_EXPORT_RETRY_AFTER_SECONDS)
            return response
        if job.status == Status.FAILED:
            raise FhirError(job.error or "The export failed.", status=500, code="exception")
        return _manifest(request, job)

    return _serve(request, "$export-status", handler, job_id)


def _manifest(request, job: ExportJob) -> HttpResponse:
    def url(entry: dict) -> str:
        return request.build_absolute_uri(reverse("fhir:export-file", args=[job.pk, entry["file"]]))

    body = {
        "transactionTime": timezone.localtime(job.created_at).isoformat(),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [{"type": f["type"], "url": url(f), "count": f["count"]} for f in job.output],
        "error": [{"type": f["type"], "url": url(f), "count": f["count"]} for f in job.errors],
    }
    response = HttpResponse(json.dumps(body), content_type="application/json")
    expires = job.finished_at + timedelta(hours=settings.FHIR_EXPORT_RETENTION_HOURS)
    response["Expires"] = http_date(expires.timestamp())
    return response


def _cancel(principal: Principal, job_id) -> HttpResponse:
    job = _own_job(principal, job_id)
    ExportJob.objects.filter(pk=job.pk).update(
        status=Status.CANCELLED, finished_at=timezone.now(), progress="cancelled"
    )
    remove_files(job)  # a running task stops at its next page and removes what it wrote since
    audit_record(
        actor=principal.user,
        action="fhir.export.cancel",
        target=job,
        detail={"was": job.status, **principal.audit_detail},
    )
    return json_response(
        202, _information(f"Export {job.pk} cancelled; its files are deleted."), {}
    )


@csrf_exempt
def export_file(request, job_id, file_name: str):
    def handler(principal: Principal) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed("Use GET.", headers={"Allow": "GET"})
        job = _own_job(principal, job_id)
        entry = None
        if job.status == Status.COMPLETED:
            entry = next((f for f in [*job.output, *job.errors] if f["file"] == file_name), None)
        path = Path(job.directory) / file_name if entry is not None else None
        if path is None or not path.is_file():
            raise NotFound(f"File {file_name} of export {job_id} is not available.")
        if entry["type"] != "OperationOutcome" and not may_export(principal.scopes, entry["type"]):
            raise Forbidden(f"The token's scopes no longer allow reading {entry['type']}.")
        audit_record(
            actor=principal.user,
            action="fhir.export.download",
            target=job,
            detail={"file": file_name, "count": entry["count"], **principal.audit_detail},
        )
        return FileResponse(path.open("rb"), content_type=NDJSON)

    return _serve(request, "$export-file", handler, job_id)


__all__ = ["export_file", "export_group", "export_patient", "export_status", "export_system"]
