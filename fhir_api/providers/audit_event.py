"""AuditEvent interactions: read and search over the audit trail (core.AuditEvent), read-only.

Who sees what:
- a partner client: the events of its own accesses (the rows its service account is the actor
  of), whatever resource they concern: so every FHIR access it made is visible to it;
- a member of staff signed in who may read the audit trail (`core.view_auditevent`, the unit
  administrator's role): the events recorded at the units where they hold it (web pages, partner
  clients of the unit, tasks);
- any other member of staff: 403. A row outside what the caller sees answers 404.
Reading the trail is audited as well (`fhir.auditevent.read`, one `fhir.auditevent.search` row per
search).
"""

from __future__ import annotations

from django.db.models import QuerySet

from ehealth.core.audit import audit_record
from ehealth.core.models import AuditEvent
from ehealth.core.permissions import facility_ids_with_perm
from ehealth.core.selectors import AUDIT_VIEW_PERM
from fhir_api import registry
from fhir_api.http import Call, FhirResult
from fhir_api.mappers.audit_event import audit_event_to_json
from fhir_api.outcomes import Forbidden, NotFound
from fhir_api.providers.base import search_detail, search_request, searchset
from fhir_api.search import audit_event as audit_search
from fhir_api.search.common import int_id
from fhir_api.search.refine import page, refine

TYPE = "AuditEvent"


def _visible(call: Call) -> QuerySet[AuditEvent]:
    user = call.principal.user
    if call.principal.kind == "client":
        qs = AuditEvent.objects.filter(actor_id=user.pk)
    else:
        facility_ids = facility_ids_with_perm(user, AUDIT_VIEW_PERM)
        if not facility_ids:
            raise Forbidden(
                "Reading the audit trail needs the unit administrator's role "
                "(core.view_auditevent) at a unit."
            )
        qs = AuditEvent.objects.filter(facility_id__in=facility_ids)
    return qs.select_related("facility")


class AuditEventProvider:
    """The AuditEvent resource over core.AuditEvent (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        pk = int_id(resource_id)
        event = _visible(call).filter(pk=pk).first() if pk is not None else None
        if event is None:
            raise NotFound(f"AuditEvent/{resource_id} is not known.")
        audit_record(
            actor=call.principal.user,
            action="fhir.auditevent.read",
            target=event,
            detail=call.principal.audit_detail,
        )
        return FhirResult(200, audit_event_to_json(event))

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        req = search_request(call, items, audit_search.PARAMS, audit_search.SPEC, TYPE)
        qs = refine(_visible(call), req, audit_search.SPEC)
        detail = search_detail(call, req)
        if req.summary_count:
            total = qs.count()
            self._audit(call, {**detail, "count": total})
            return FhirResult(200, searchset(call, TYPE, req, [], total=total))
        rows, next_after, total = page(qs, req, audit_search.SPEC)
        self._audit(call, {**detail, "count": len(rows)})
        entries = [audit_event_to_json(e) for e in rows]
        bundle = searchset(call, TYPE, req, entries, total=total, next_after=next_after)
        return FhirResult(200, bundle)

    def _audit(self, call: Call, detail: dict) -> None:
        audit_record(actor=call.principal.user, action="fhir.auditevent.search", detail=detail)


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=AuditEventProvider(),
        interactions=("read", "search-type"),
        search_params=audit_search.PARAMS,
        spec=audit_search.SPEC,
    )
)
