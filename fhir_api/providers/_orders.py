"""Pieces shared by the ServiceRequest, DiagnosticReport and MedicationRequest providers: who sees
which encounter's records, a read, and a keyset searchset page, each audited per patient.

Visibility follows the encounter (providers/encounter.py, condition.py): a partner client sees
the records of the (not voided) encounters of the patients visible to its unit; a member of staff
signed in sees those of the encounters the clinical pages show them. Anything else answers 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from ehealth.core.audit import audit_record, audit_record_many
from fhir_api import registry
from fhir_api.http import Call, FhirResult, version_headers
from fhir_api.outcomes import NotFound
from fhir_api.providers.base import search_detail, search_request, searchset
from fhir_api.search.common import int_id
from fhir_api.search.refine import SearchSpec, page, refine
from patients.clinical.selectors import encounter_visible_qs
from patients.selectors import patient_visible_qs


def visible_q(call: Call, encounter: str) -> Q:
    """Records (through the `encounter` path) of the encounters the caller may see."""
    user = call.principal.user
    if call.principal.kind == "staff":
        return Q(**{f"{encounter}__in": encounter_visible_qs(user=user).values("pk")})
    return Q(
        **{
            f"{encounter}__voided_at__isnull": True,
            f"{encounter}__patient__in": patient_visible_qs(user=user).values("pk"),
        }
    )


def read_one(
    call: Call,
    *,
    resource_type: str,
    resource_id: str,
    qs: QuerySet,
    action: str,
    patient_of: Callable[[Any], int],
    version_of: Callable[[Any], int],
    updated_of: Callable[[Any], datetime | None],
    to_json: Callable[[Any], dict[str, Any]],
) -> FhirResult:
    """One visible record (404 otherwise), audited with its patient, with ETag/Last-Modified."""
    pk = int_id(resource_id)
    row = qs.filter(pk=pk).first() if pk else None
    if row is None:
        raise NotFound(f"{resource_type}/{resource_id} is not known.")
    audit_record(
        actor=call.principal.user,
        action=action,
        target=row,
        patient_id=patient_of(row),
        detail=call.principal.audit_detail,
    )
    updated = updated_of(row)
    headers = version_headers(version_of(row), updated) if updated is not None else {}
    return FhirResult(200, to_json(row), headers)


def search_page(
    call: Call,
    items: list[tuple[str, str]],
    *,
    resource_type: str,
    params: dict[str, registry.SearchParam],
    spec: SearchSpec,
    qs: QuerySet,
    load: Callable[[QuerySet], QuerySet],
    action: str,
    patient_of: Callable[[Any], int],
    to_json: Callable[[Any], dict[str, Any]],
) -> FhirResult:
    """A searchset page (by id, or `_sort`) with a keyset `next` cursor; one audit row per patient
    on the page (or one row with count 0); `_summary=count` counts only. The spec answers the
    resource's criteria and the shared features (`:not`, `_lastUpdated`, `_sort`, `_total`:
    search/refine.py). `load` adds the joins and prefetches one page needs, so a page runs the
    same number of queries whatever its size."""
    user = call.principal.user
    req = search_request(call, items, params, spec, resource_type)
    qs = refine(qs, req, spec)
    detail = search_detail(call, req)
    if req.summary_count:
        total = qs.count()
        audit_record(actor=user, action=action, detail={**detail, "count": total})
        return FhirResult(200, searchset(call, resource_type, req, [], total=total))
    rows, next_after, total = page(load(qs), req, spec)
    patient_ids = list(dict.fromkeys(patient_of(row) for row in rows))
    if patient_ids:
        audit_record_many(
            actor=user,
            action=action,
            patient_ids=patient_ids,
            detail={**detail, "count": len(rows)},
        )
    else:
        audit_record(actor=user, action=action, detail={**detail, "count": 0})
    entries = [to_json(row) for row in rows]
    return FhirResult(
        200, searchset(call, resource_type, req, entries, next_after=next_after, total=total)
    )
