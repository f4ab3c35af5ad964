"""DiagnosticReport interactions: read and search over the results of service orders.

A report is an order with result values or a conclusion (id = the order's id); any other order,
or one the caller may not see, answers 404. Visibility follows the encounter
(providers/_orders.py). Every access is audited per patient.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from fhir_api import registry
from fhir_api.http import Call, FhirResult
from fhir_api.mappers.diagnostic_report import diagnostic_report_to_json
from fhir_api.mappers.service_request import order_last_updated
from fhir_api.providers._orders import read_one, search_page
from fhir_api.providers.service_request import visible_orders, with_service
from fhir_api.search import diagnostic_report as dr_search
from patients.models import ResultValue, ServiceOrder

TYPE = "DiagnosticReport"


def visible_reports(call: Call) -> QuerySet[ServiceOrder]:
    """Orders with a result (values or a conclusion) of the encounters the caller may see."""
    return visible_orders(call).filter(dr_search.has_report_q())


def with_results(qs: QuerySet[ServiceOrder]) -> QuerySet[ServiceOrder]:
    """Two queries for a page: the orders (with encounter and service), their values' ids."""
    values = Prefetch("values", queryset=ResultValue.objects.only("id", "order_id").order_by("id"))
    return with_service(
        qs, "performed_by_id", "result_conclusion", "result_description"
    ).prefetch_related(values)


def _to_json(order: ServiceOrder) -> dict:
    return diagnostic_report_to_json(order, [v.pk for v in order.values.all()])


def _patient(order: ServiceOrder) -> int:
    return order.encounter.patient_id


class DiagnosticReportProvider:
    """The DiagnosticReport resource over resulted patients.ServiceOrder rows (read-only)."""

    field_paths: dict[str, str] = {}

    def read(self, call: Call, resource_id: str) -> FhirResult:
        return read_one(
            call,
            resource_type=TYPE,
            resource_id=resource_id,
            qs=with_results(visible_reports(call)),
            action="fhir.diagnostic_report.read",
            patient_of=_patient,
            version_of=lambda o: o.version,
            updated_of=order_last_updated,
            to_json=_to_json,
        )

    def search_type(self, call: Call, items: list[tuple[str, str]]) -> FhirResult:
        return search_page(
            call,
            items,
            resource_type=TYPE,
            params=dr_search.PARAMS,
            spec=dr_search.SPEC,
            qs=visible_reports(call),
            load=with_results,
            action="fhir.diagnostic_report.search",
            patient_of=_patient,
            to_json=_to_json,
        )


registry.register(
    registry.ResourceDef(
        type=TYPE,
        provider=DiagnosticReportProvider(),
        interactions=("read", "search-type"),
        search_params=dr_search.PARAMS,
        spec=dr_search.SPEC,
    )
)
