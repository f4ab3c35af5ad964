"""Encounter interactions: read and search over outpatient visits and inpatient stays.

Visibility: a partner client sees the (not voided) encounters of the patients visible to its unit
(the registry's rule: a record number at the unit, or a share with it), at any unit of the city;
a member of staff signed in sees what the clinical pages show them (`encounter_visible_qs`:
`view_encounter` at the encounter's unit, or a share). Anything else answers 404, like a record
that does not exist. Every access is audited per patient.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from ehealth.core.audit import audit_record, audit_record_many
from fhir_api import registry
from fhir_api.http import Call, FhirResult, version_headers
from fhir_api.mappers.encounter import encounter_to_json
from fhir_api.outcomes import NotFound
from fhir_api.providers.base import search_detail, search_request, searchset
from fhir_api.search import encounter as encounter_search
from fhir_api.search.common import int_id
from patients.clinical.selectors import encounter_visible_qs
from patients.models import BedOccupancy, Encounter, Transfer
from patients.selectors import patient_visible_qs

TYPE = "Encounter"


def _visible(call: Call) -> QuerySet[Encounter]:
    user = call.principal.user
    if call.principal.kind == "staff":
        return encounter_visible_qs(user=user)
    patients = patient_visible_qs(user=user).values("pk")
    return Encounter.objects.filter(voided_at__isnull=True, patient__in=patients)


def _with_history(qs: QuerySet[Encounter]) -> QuerySet[Encounter]:
    """The facility and the location history, in a fixed number of queries per page."""
    return qs.select_related("facility").prefetch_related(
        Prefetch(
            "transfers",
            queryset=Transfer.objects.only(
                "id", "encounter_id", "from_department_id", "to_department_id", "moved_at"
            ),
            to_attr="fhir_transfers",
        ),
        Prefetch(
            "bed_occupancies",
            queryset=BedOccupancy.objects.only(
                "id", "encounter_id", "bed_id", "started_at", "ended_at"
            ),
            to_attr="fhir_occupancies",
        ),
    )


def _render(encounter: Encounter) -> dict:
    return encounter_to_json(
        encounter,
        transfers=encounter.fhir_transfers,
        occupancies=encounter.fhir_occupancies,
    )


class EncounterProvider:
    """The Encounter resource over patients.Encounter (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        pk = int_id(resource_id)
        encounter = _with_history(_visible(call)).filter(pk=pk).first() if pk else None
        if encounter is None:
            raise NotFound(f"Encounter/{resource_id} is not known.")
        audit_record(
            actor=call.principal.user,
            action="fhir.encounter.read",
            target=encounter,
            patient_id=encounter.patient_id,
            detail=call.principal.audit_detail,
        )
        headers = version_headers(encounter.version, encounter.updated_at)
        return FhirResult(200, _render(encounter), headers)

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        user = call.principal.user
        req = search_request(call, items, encounter_search.PARAMS)
        qs = encounter_search.encounter_filter(_visible(call), req.criteria)
        detail = search_detail(call, req)
        if req.summary_count:
            total = qs.count()
            audit_record(
                actor=user, action="fhir.encounter.search", detail={**detail, "count": total}
            )
            return FhirResult(200, searchset(call, TYPE, req, [], total=total))
        if req.after_id is not None:
            qs = qs.filter(pk__gt=req.after_id)
        page = list(_with_history(qs).order_by("pk")[: req.count + 1])
        more = len(page) > req.count
        page = page[: req.count]
        patient_ids = list(dict.fromkeys(e.patient_id for e in page))
        if patient_ids:
            audit_record_many(
                actor=user,
                action="fhir.encounter.search",
                patient_ids=patient_ids,
                detail={**detail, "count": len(page)},
            )
        else:
            audit_record(actor=user, action="fhir.encounter.search", detail={**detail, "count": 0})
        next_after = page[-1].pk if more and page else None
        entries = [_render(e) for e in page]
        return FhirResult(200, searchset(call, TYPE, req, entries, next_after=next_after))


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=EncounterProvider(),
        interactions=("read", "search-type"),
        search_params=encounter_search.PARAMS,
    )
)
