"""Practitioner interactions: read and search over the city's staff directory (core.User).

Who is in the directory: users whose account is active and who hold at least one active role at an
active unit; the service accounts of partner clients are not people and are left out. Anyone who
left (no role in force, or the account disabled) answers 404, so a reference from an old record
(`Practitioner/<user pk>`) may no longer resolve: the directory shows the present staff only.

Who sees it: like Organization, the directory is shared city-wide (not patient data): every client
with `system/Practitioner.rs`, and every member of staff signed in with a role in force. Each
access is audited (one row per read, one per search).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from ehealth.core.audit import audit_record
from ehealth.core.models import StaffMembership, User
from fhir_api import registry
from fhir_api.http import Call, FhirResult
from fhir_api.mappers.practitioner import practitioner_to_json
from fhir_api.models import FhirClient
from fhir_api.outcomes import NotFound
from fhir_api.providers.base import search_detail, search_request, searchset
from fhir_api.search import practitioner as practitioner_search
from fhir_api.search.common import int_id
from fhir_api.search.refine import page, refine

TYPE = "Practitioner"


def staff_directory_users() -> QuerySet[User]:
    """Active users holding an active role at an active unit, partner service accounts excluded."""
    roles = StaffMembership.objects.filter(
        user_id=OuterRef("pk"), is_active=True, facility__is_active=True
    )
    clients = FhirClient.objects.filter(application__user_id=OuterRef("pk"))
    return User.objects.filter(Exists(roles), is_active=True).exclude(Exists(clients))


def _visible(call: Call) -> QuerySet[User]:
    if call.principal.kind == "staff" and call.principal.facility_id is None:
        return User.objects.none()  # signed in without a role in force
    return staff_directory_users().only("id", "full_name", "practitioner_code", "is_active")


class PractitionerProvider:
    """The Practitioner resource over core.User (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        pk = int_id(resource_id)
        user = _visible(call).filter(pk=pk).first() if pk is not None else None
        if user is None:
            raise NotFound(f"Practitioner/{resource_id} is not known.")
        audit_record(
            actor=call.principal.user,
            action="fhir.practitioner.read",
            target=user,
            detail=call.principal.audit_detail,
        )
        return FhirResult(200, practitioner_to_json(user))

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        req = search_request(
            call, items, practitioner_search.PARAMS, practitioner_search.SPEC, TYPE
        )
        qs = refine(_visible(call), req, practitioner_search.SPEC)
        detail = search_detail(call, req)
        if req.summary_count:
            total = qs.count()
            self._audit(call, {**detail, "count": total})
            return FhirResult(200, searchset(call, TYPE, req, [], total=total))
        rows, next_after, total = page(qs, req, practitioner_search.SPEC)
        self._audit(call, {**detail, "count": len(rows)})
        entries = [practitioner_to_json(u) for u in rows]
        bundle = searchset(call, TYPE, req, entries, total=total, next_after=next_after)
        return FhirResult(200, bundle)

    def _audit(self, call: Call, detail: dict) -> None:
        audit_record(actor=call.principal.user, action="fhir.practitioner.search", detail=detail)


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=PractitionerProvider(),
        interactions=("read", "search-type"),
        search_params=practitioner_search.PARAMS,
        spec=practitioner_search.SPEC,
    )
)
