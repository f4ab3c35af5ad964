"""ServiceRequest interactions: read and search over the service orders of encounters.

Visibility follows the encounter (providers/_orders.py): anything the caller may not see answers
404. Cancelled orders are served (status `revoked`) and found by a search. Every access is audited
per patient.
"""

from __future__ import annotations

from django.db.models import QuerySet

from fhir_api import registry
from fhir_api.http import Call, FhirResult
from fhir_api.mappers.service_request import order_last_updated, service_request_to_json
from fhir_api.providers._orders import read_one, search_page, visible_q
from fhir_api.search import service_request as sr_search
from patients.models import ServiceOrder

TYPE = "ServiceRequest"
ORDER_FIELDS = (
    "id",
    "encounter_id",
    "service_id",
    "quantity",
    "status",
    "ordered_by_id",
    "ordered_at",
    "performing_department_id",
    "for_day",
    "clinical_note",
    "performed_at",
    "resulted_at",
    "cancelled_at",
    "cancelled_by_id",
    "cancel_reason",
    "version",
    "encounter__id",
    "encounter__patient_id",
    "service__id",
    "service__code",
    "service__name",
    "service__unit",
    "service__moh_code",
    "service__group",
)


def visible_orders(call: Call) -> QuerySet[ServiceOrder]:
    """Orders of the encounters the caller may see."""
    return ServiceOrder.objects.filter(visible_q(call, "encounter"))


def with_service(qs: QuerySet[ServiceOrder], *extra: str) -> QuerySet[ServiceOrder]:
    """One query for a page: the order with its encounter and service (only what is mapped)."""
    return qs.select_related("encounter", "service").only(*ORDER_FIELDS, *extra)


def _patient(order: ServiceOrder) -> int:
    return order.encounter.patient_id


class ServiceRequestProvider:
    """The ServiceRequest resource over patients.ServiceOrder (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        return read_one(
            call,
            resource_type=TYPE,
            resource_id=resource_id,
            qs=with_service(visible_orders(call)),
            action="fhir.service_request.read",
            patient_of=_patient,
            version_of=lambda o: o.version,
            updated_of=order_last_updated,
            to_json=service_request_to_json,
        )

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        return search_page(
            call,
            items,
            resource_type=TYPE,
            params=sr_search.PARAMS,
            spec=sr_search.SPEC,
            qs=visible_orders(call),
            load=with_service,
            action="fhir.service_request.search",
            patient_of=_patient,
            to_json=service_request_to_json,
        )


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=ServiceRequestProvider(),
        interactions=("read", "search-type"),
        search_params=sr_search.PARAMS,
        spec=sr_search.SPEC,
    )
)
