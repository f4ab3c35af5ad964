"""Pieces shared by the fee and claim providers (ChargeItem, Invoice, Claim, ClaimResponse).

Visibility: financial data is kept per unit. A partner client sees only its own unit's charges,
invoices and claims, even for a patient whose record is shared with it; a member of staff signed
in sees those of the units where they hold the permission the billing pages (`view_invoice`) or
the claims pages (`manage_claims`) ask for. Anything else answers 404, like a missing record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import Model, QuerySet

from ehealth.core.audit import audit_record, audit_record_many
from ehealth.core.permissions import facility_ids_with_perm
from fhir_api.http import Call, FhirResult, version_headers
from fhir_api.outcomes import NotFound
from fhir_api.providers.base import search_detail, searchset
from fhir_api.search.common import int_id
from fhir_api.search.params import SearchRequest
from fhir_api.search.refine import SearchSpec, refine
from fhir_api.search.refine import page as paged


def visible_facility_ids(call: Call, staff_perm: str) -> list[int]:
    """The units whose financial records the caller may see."""
    principal = call.principal
    if principal.kind == "staff":
        return facility_ids_with_perm(principal.user, staff_perm)
    return [principal.facility_id] if principal.facility_id is not None else []


def read_one(
    call: Call,
    resource_type: str,
    resource_id: str,
    qs: QuerySet,
    *,
    action: str,
    patient_id: Callable[[Any], int],
) -> Any:
    """The visible record `resource_id` (404 otherwise), its read audited."""
    pk = int_id(resource_id)
    record = qs.filter(pk=pk).first() if pk else None
    if record is None:
        raise NotFound(f"{resource_type}/{resource_id} is not known.")
    audit_record(
        actor=call.principal.user,
        action=action,
        target=record,
        patient_id=patient_id(record),
        detail=call.principal.audit_detail,
    )
    return record


def read_result(body: dict[str, Any], version: int, last_updated) -> FhirResult:
    return FhirResult(200, body, version_headers(version, last_updated))


def search_result(
    call: Call,
    resource_type: str,
    req: SearchRequest,
    qs: QuerySet,
    spec: SearchSpec,
    *,
    action: str,
    patient_id: Callable[[Any], int],
    to_json: Callable[[Sequence[Model]], list[dict[str, Any]]],
    prepare: Callable[[QuerySet], QuerySet] | None = None,
) -> FhirResult:
    """One page of the search (`refine`, then `page`: keyset cursor, `_sort`, `_total`), every
    patient on it audited (one row with count 0 when none), as a searchset. `prepare` adds what
    only the page's rows need (a subquery); `to_json` maps the whole page, loading what it needs
    at once."""
    user = call.principal.user
    detail = search_detail(call, req)
    qs = refine(qs, req, spec)
    if req.summary_count:
        total = qs.count()
        audit_record(actor=user, action=action, detail={**detail, "count": total})
        return FhirResult(200, searchset(call, resource_type, req, [], total=total))
    rows, next_after, total = paged(prepare(qs) if prepare else qs, req, spec)
    patient_ids = list(dict.fromkeys(patient_id(r) for r in rows))
    if patient_ids:
        audit_record_many(
            actor=user,
            action=action,
            patient_ids=patient_ids,
            detail={**detail, "count": len(rows)},
        )
    else:
        audit_record(actor=user, action=action, detail={**detail, "count": 0})
    entries = to_json(rows) if rows else []
    return FhirResult(
        200, searchset(call, resource_type, req, entries, next_after=next_after, total=total)
    )
