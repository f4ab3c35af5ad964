"""ChargeItem interactions: read and search over billing's charge lines.

Visibility (providers/_fees_common.py): a partner client sees its own unit's lines only; staff
those of the units where they may view invoices (billing.view_invoice). A dropped line, or a
line of a voided encounter, is still served on read (`entered-in-error`) but never returned by a
search. Every access is audited per patient.
"""

from __future__ import annotations

from django.db.models import QuerySet

from billing.models import ChargeLine, ChargeStatus
from billing.selectors import VIEW_PERM
from fhir_api import registry
from fhir_api.http import Call, FhirResult
from fhir_api.mappers.charge_item import charge_item_to_json, charge_version
from fhir_api.providers._fees_common import (
    read_one,
    read_result,
    search_result,
    visible_facility_ids,
)
from fhir_api.providers.base import search_request
from fhir_api.search import charge_item as charge_item_search

TYPE = "ChargeItem"


def _visible(call: Call) -> QuerySet[ChargeLine]:
    """Lines (dropped ones and those of voided encounters included) the caller may see."""
    return (
        ChargeLine.objects.filter(facility_id__in=visible_facility_ids(call, VIEW_PERM))
        .select_related("encounter", "invoice")
        .only(
            *(f.name for f in ChargeLine._meta.concrete_fields),
            "encounter__id",
            "encounter__patient_id",
            "encounter__voided_at",
            "invoice__id",
            "invoice__status",
        )
    )


def _patient_id(line: ChargeLine) -> int:
    return line.encounter.patient_id


class ChargeItemProvider:
    """The ChargeItem resource over billing.ChargeLine (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        line = read_one(
            call, TYPE, resource_id, _visible(call), action="fhir.chargeitem.read",
            patient_id=_patient_id,
        )  # fmt: skip
        return read_result(charge_item_to_json(line), charge_version(line), line.updated_at)

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        req = search_request(call, items, charge_item_search.PARAMS, charge_item_search.SPEC, TYPE)
        qs = _visible(call).filter(status=ChargeStatus.ACTIVE, encounter__voided_at__isnull=True)
        return search_result(
            call,
            TYPE,
            req,
            qs,
            charge_item_search.SPEC,
            action="fhir.chargeitem.search",
            patient_id=_patient_id,
            to_json=lambda page: [charge_item_to_json(line) for line in page],
        )


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=ChargeItemProvider(),
        interactions=("read", "search-type"),
        search_params=charge_item_search.PARAMS,
        spec=charge_item_search.SPEC,
    )
)
