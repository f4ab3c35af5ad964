"""Organization interactions: read and search over the city's health units (a directory, not
patient data: every caller with the scope sees every unit). Each access is audited."""

from __future__ import annotations

from ehealth.core.audit import audit_record
from ehealth.core.models import Facility
from fhir_api import registry
from fhir_api.http import Call, FhirResult
from fhir_api.mappers.organization import organization_to_json
from fhir_api.outcomes import NotFound
from fhir_api.providers.base import search_detail, search_request, searchset
from fhir_api.search import organization as organization_search
from fhir_api.search.common import int_id
from fhir_api.search.refine import page as paged
from fhir_api.search.refine import refine

TYPE = "Organization"


def _facilities():
    return Facility.objects.select_related("province", "commune")


class OrganizationProvider:
    """The Organization resource over core.Facility (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        pk = int_id(resource_id)
        facility = _facilities().filter(pk=pk).first() if pk is not None else None
        if facility is None:
            raise NotFound(f"Organization/{resource_id} is not known.")
        audit_record(
            actor=call.principal.user,
            action="fhir.organization.read",
            target=facility,
            detail=call.principal.audit_detail,
        )
        return FhirResult(200, organization_to_json(facility))

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        req = search_request(
            call, items, organization_search.PARAMS, organization_search.SPEC, TYPE
        )
        qs = refine(_facilities(), req, organization_search.SPEC)
        detail = search_detail(call, req)
        if req.summary_count:
            total = qs.count()
            self._audit(call, {**detail, "count": total})
            return FhirResult(200, searchset(call, TYPE, req, [], total=total))
        page, next_after, total = paged(qs, req, organization_search.SPEC)
        self._audit(call, {**detail, "count": len(page)})
        entries = [organization_to_json(f) for f in page]
        return FhirResult(
            200, searchset(call, TYPE, req, entries, next_after=next_after, total=total)
        )

    def _audit(self, call: Call, detail: dict) -> None:
        audit_record(actor=call.principal.user, action="fhir.organization.search", detail=detail)


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=OrganizationProvider(),
        interactions=("read", "search-type"),
        search_params=organization_search.PARAMS,
        spec=organization_search.SPEC,
    )
)
