"""PractitionerRole interactions: read and search over the roles held (core.StaffMembership).

Served: the roles in force (active membership) of the people in the staff directory
(providers/practitioner.py) at active units; anything else answers 404. Shared city-wide like the
directory; each access is audited (one row per read, one per search).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from ehealth.core.audit import audit_record
from ehealth.core.models import StaffMembership
from fhir_api import registry
from fhir_api.http import Call, FhirResult
from fhir_api.mappers.practitioner_role import practitioner_role_to_json
from fhir_api.models import FhirClient
from fhir_api.outcomes import NotFound
from fhir_api.providers.base import search_detail, search_request, searchset
from fhir_api.search import practitioner_role as role_search
from fhir_api.search.common import int_id
from fhir_api.search.refine import page, refine

TYPE = "PractitionerRole"


def _visible(call: Call) -> QuerySet[StaffMembership]:
    if call.principal.kind == "staff" and call.principal.facility_id is None:
        return StaffMembership.objects.none()  # signed in without a role in force
    clients = FhirClient.objects.filter(application__user_id=OuterRef("user_id"))
    return (
        StaffMembership.objects.filter(
            is_active=True, facility__is_active=True, user__is_active=True
        )
        .exclude(Exists(clients))
        .select_related("user", "facility", "department")
        .only(
            "id",
            "role",
            "is_active",
            "user_id",
            "facility_id",
            "department_id",
            "user__id",
            "user__full_name",
            "facility__id",
            "facility__code",
            "facility__name",
            "department__id",
            "department__name",
        )
    )


class PractitionerRoleProvider:
    """The PractitionerRole resource over core.StaffMembership (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        pk = int_id(resource_id)
        membership = _visible(call).filter(pk=pk).first() if pk is not None else None
        if membership is None:
            raise NotFound(f"PractitionerRole/{resource_id} is not known.")
        audit_record(
            actor=call.principal.user,
            action="fhir.practitionerrole.read",
            target=membership,
            detail=call.principal.audit_detail,
        )
        return FhirResult(200, practitioner_role_to_json(membership))

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        req = search_request(call, items, role_search.PARAMS, role_search.SPEC, TYPE)
        qs = refine(_visible(call), req, role_search.SPEC)
        detail = search_detail(call, req)
        if req.summary_count:
            total = qs.count()
            self._audit(call, {**detail, "count": total})
            return FhirResult(200, searchset(call, TYPE, req, [], total=total))
        rows, next_after, total = page(qs, req, role_search.SPEC)
        self._audit(call, {**detail, "count": len(rows)})
        entries = [practitioner_role_to_json(m) for m in rows]
        bundle = searchset(call, TYPE, req, entries, total=total, next_after=next_after)
        return FhirResult(200, bundle)

    def _audit(self, call: Call, detail: dict) -> None:
        audit_record(
            actor=call.principal.user, action="fhir.practitionerrole.search", detail=detail
        )


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=PractitionerRoleProvider(),
        interactions=("read", "search-type"),
        search_params=role_search.PARAMS,
        spec=role_search.SPEC,
    )
)
