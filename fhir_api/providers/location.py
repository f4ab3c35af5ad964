"""Location interactions: read and search over departments, wards and beds (one resource type,
ids `dept-<pk>`, `ward-<pk>`, `bed-<pk>`; see `fhir_api.mappers.location`). Not patient data:
every caller with the scope sees every unit's structure; a bed says whether it is occupied, never
by whom. Each access is audited."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from ehealth.core.audit import audit_record
from ehealth.core.models import Bed, Department, Ward
from fhir_api import registry
from fhir_api.http import Call, FhirResult
from fhir_api.mappers.location import DEPARTMENT, KINDS, WARD, location_to_json, parse_location_id
from fhir_api.outcomes import NotFound
from fhir_api.providers.base import search_detail, search_request, searchset
from fhir_api.search import location as location_search
from patients.models import BedOccupancy

TYPE = "Location"
# The paging cursor orders the three tables one after the other: rank * SPAN + pk.
SPAN = 1 << 48


def _base(kind: str) -> QuerySet:
    if kind == DEPARTMENT:
        return Department.objects.select_related("facility")
    if kind == WARD:
        return Ward.objects.select_related("department")
    occupied = BedOccupancy.objects.filter(bed_id=OuterRef("pk"), ended_at__isnull=True)
    return Bed.objects.select_related("ward__department").annotate(occupied=Exists(occupied))


def _render(obj) -> dict:
    return location_to_json(obj, occupied=getattr(obj, "occupied", None))


class LocationProvider:
    """The Location resource over core.Department, Ward and Bed (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        parsed = parse_location_id(resource_id)
        obj = _base(parsed[0]).filter(pk=parsed[1]).first() if parsed else None
        if obj is None:
            raise NotFound(f"Location/{resource_id} is not known.")
        audit_record(
            actor=call.principal.user,
            action="fhir.location.read",
            target=obj,
            detail=call.principal.audit_detail,
        )
        return FhirResult(200, _render(obj))

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        req = search_request(call, items, location_search.PARAMS)
        tables = {k: location_search.location_filter(k, _base(k), req.criteria) for k in KINDS}
        detail = search_detail(call, req)
        if req.summary_count:
            total = sum(qs.count() for qs in tables.values())
            self._audit(call, {**detail, "count": total})
            return FhirResult(200, searchset(call, TYPE, req, [], total=total))
        after_rank, after_pk = divmod(req.after_id, SPAN) if req.after_id is not None else (-1, 0)
        rows: list[tuple[int, object]] = []
        for rank, kind in enumerate(KINDS):
            need = req.count + 1 - len(rows)
            if rank < after_rank or need <= 0:
                continue
            qs = tables[kind]
            if rank == after_rank:
                qs = qs.filter(pk__gt=after_pk)
            rows += [(rank, obj) for obj in qs.order_by("pk")[:need]]
        more = len(rows) > req.count
        rows = rows[: req.count]
        self._audit(call, {**detail, "count": len(rows)})
        next_after = rows[-1][0] * SPAN + rows[-1][1].pk if more and rows else None
        entries = [_render(obj) for _rank, obj in rows]
        return FhirResult(200, searchset(call, TYPE, req, entries, next_after=next_after))

    def _audit(self, call: Call, detail: dict) -> None:
        audit_record(actor=call.principal.user, action="fhir.location.search", detail=detail)


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=LocationProvider(),
        interactions=("read", "search-type"),
        search_params=location_search.PARAMS,
    )
)
