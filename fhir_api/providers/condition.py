"""Condition interactions: read and search over the ICD-10 diagnoses of encounters.

Visibility follows the encounter (providers/encounter.py): a partner client sees the diagnoses of
the (not voided) encounters of the patients visible to its unit; a member of staff signed in sees
those of the encounters the clinical pages show them. Anything else answers 404. A voided
diagnosis is still served on read (verificationStatus `entered-in-error`, so a partner that copied
it learns it was withdrawn) but never returned by a search. Every access is audited per patient.
"""

from __future__ import annotations

from django.db.models import QuerySet

from ehealth.core.audit import audit_record, audit_record_many
from fhir_api import registry
from fhir_api.http import Call, FhirResult, version_headers
from fhir_api.mappers.condition import (
    condition_to_json,
    diagnosis_last_updated,
    diagnosis_version,
)
from fhir_api.outcomes import NotFound
from fhir_api.providers.base import search_detail, search_request, searchset
from fhir_api.search import condition as condition_search
from fhir_api.search.common import int_id
from patients.clinical.selectors import encounter_visible_qs
from patients.models import Diagnosis
from patients.selectors import patient_visible_qs

TYPE = "Condition"


def _visible(call: Call) -> QuerySet[Diagnosis]:
    """Diagnoses (voided ones included) of the encounters the caller may see."""
    user = call.principal.user
    if call.principal.kind == "staff":
        encounters = encounter_visible_qs(user=user).values("pk")
        return Diagnosis.objects.filter(encounter__in=encounters)
    patients = patient_visible_qs(user=user).values("pk")
    return Diagnosis.objects.filter(
        encounter__voided_at__isnull=True, encounter__patient__in=patients
    )


def _with_encounter(qs: QuerySet[Diagnosis]) -> QuerySet[Diagnosis]:
    return qs.select_related("encounter").only(
        "id",
        "encounter_id",
        "phase",
        "icd_code",
        "text",
        "rank",
        "recorded_at",
        "voided_at",
        "encounter__id",
        "encounter__patient_id",
        "encounter__status",
        "encounter__started_at",
    )


class ConditionProvider:
    """The Condition resource over patients.Diagnosis (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        pk = int_id(resource_id)
        diagnosis = _with_encounter(_visible(call)).filter(pk=pk).first() if pk else None
        if diagnosis is None:
            raise NotFound(f"Condition/{resource_id} is not known.")
        audit_record(
            actor=call.principal.user,
            action="fhir.condition.read",
            target=diagnosis,
            patient_id=diagnosis.encounter.patient_id,
            detail=call.principal.audit_detail,
        )
        headers = version_headers(diagnosis_version(diagnosis), diagnosis_last_updated(diagnosis))
        return FhirResult(200, condition_to_json(diagnosis), headers)

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        user = call.principal.user
        req = search_request(call, items, condition_search.PARAMS)
        qs = condition_search.condition_filter(
            _visible(call).filter(voided_at__isnull=True), req.criteria
        )
        detail = search_detail(call, req)
        if req.summary_count:
            total = qs.count()
            audit_record(
                actor=user, action="fhir.condition.search", detail={**detail, "count": total}
            )
            return FhirResult(200, searchset(call, TYPE, req, [], total=total))
        if req.after_id is not None:
            qs = qs.filter(pk__gt=req.after_id)
        page = list(_with_encounter(qs).order_by("pk")[: req.count + 1])
        more = len(page) > req.count
        page = page[: req.count]
        patient_ids = list(dict.fromkeys(d.encounter.patient_id for d in page))
        if patient_ids:
            audit_record_many(
                actor=user,
                action="fhir.condition.search",
                patient_ids=patient_ids,
                detail={**detail, "count": len(page)},
            )
        else:
            audit_record(actor=user, action="fhir.condition.search", detail={**detail, "count": 0})
        next_after = page[-1].pk if more and page else None
        entries = [condition_to_json(d) for d in page]
        return FhirResult(200, searchset(call, TYPE, req, entries, next_after=next_after))


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=ConditionProvider(),
        interactions=("read", "search-type"),
        search_params=condition_search.PARAMS,
    )
)
