"""Coverage interactions: read and search over the patients' BHYT cards.

Visibility: the cards of the patients the caller may see (the registry's rule, as Patient: a
record number at the unit, or a share with it; for staff signed in, their own units). Anything
else answers 404. A voided card is still served on read (status `entered-in-error`) but never
returned by a search. Every access is audited per patient.
"""

from __future__ import annotations

from django.db.models import QuerySet

from ehealth.core.audit import audit_record, audit_record_many
from fhir_api import registry
from fhir_api.http import Call, FhirResult, version_headers
from fhir_api.mappers.coverage import card_last_updated, coverage_to_json
from fhir_api.outcomes import NotFound
from fhir_api.providers.base import search_detail, search_request, searchset
from fhir_api.search import coverage as coverage_search
from fhir_api.search.common import int_id
from fhir_api.search.refine import page as paged
from fhir_api.search.refine import refine
from insurance.models import InsuranceCard
from patients.selectors import patient_visible_qs

TYPE = "Coverage"


def _visible(call: Call) -> QuerySet[InsuranceCard]:
    """Cards (voided ones included) of the patients the caller may see."""
    patients = patient_visible_qs(user=call.principal.user).values("pk")
    return InsuranceCard.objects.filter(patient__in=patients)


class CoverageProvider:
    """The Coverage resource over insurance.InsuranceCard (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        pk = int_id(resource_id)
        card = _visible(call).filter(pk=pk).first() if pk else None
        if card is None:
            raise NotFound(f"Coverage/{resource_id} is not known.")
        audit_record(
            actor=call.principal.user,
            action="fhir.coverage.read",
            target=card,
            patient_id=card.patient_id,
            detail=call.principal.audit_detail,
        )
        headers = version_headers(card.version, card_last_updated(card))
        return FhirResult(200, coverage_to_json(card), headers)

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        user = call.principal.user
        req = search_request(call, items, coverage_search.PARAMS, coverage_search.SPEC, TYPE)
        qs = refine(_visible(call).filter(voided_at__isnull=True), req, coverage_search.SPEC)
        detail = search_detail(call, req)
        if req.summary_count:
            total = qs.count()
            audit_record(
                actor=user, action="fhir.coverage.search", detail={**detail, "count": total}
            )
            return FhirResult(200, searchset(call, TYPE, req, [], total=total))
        page, next_after, total = paged(qs, req, coverage_search.SPEC)
        patient_ids = list(dict.fromkeys(c.patient_id for c in page))
        if patient_ids:
            audit_record_many(
                actor=user,
                action="fhir.coverage.search",
                patient_ids=patient_ids,
                detail={**detail, "count": len(page)},
            )
        else:
            audit_record(actor=user, action="fhir.coverage.search", detail={**detail, "count": 0})
        entries = [coverage_to_json(c) for c in page]
        return FhirResult(
            200, searchset(call, TYPE, req, entries, next_after=next_after, total=total)
        )


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=CoverageProvider(),
        interactions=("read", "search-type"),
        search_params=coverage_search.PARAMS,
        spec=coverage_search.SPEC,
    )
)
