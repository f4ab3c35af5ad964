"""DiagnosticReport: the result of an order (patients.ServiceOrder with its ResultValue rows or a
conclusion) -> FHIR DiagnosticReport, id = the order's id.

Pure functions: they read only the objects given (the order with its encounter and service
loaded) and the ids of its result values. Read-only: results are entered through the
performing department's pages.

Rules (documented in docs/fhir.md):

- An order is a report once it has result values or a conclusion (results are entered in one
  step, which also marks the order resulted).
- `status`: resulted -> `final`; values on an order not (yet) resulted -> `preliminary`; an order
  cancelled after all -> `entered-in-error`. Results are never changed once entered, so
  `amended` does not occur.
- `basedOn` -> `ServiceRequest/<order id>`; `result` -> `Observation/res-<ResultValue id>`, one
  per measured value; `conclusion` = the conclusion (kết luận); the description (mô tả, e.g. an
  imaging report's findings) = `presentedForm` as UTF-8 text.
- `effectiveDateTime` = when performed (sample taken, study done; NGAY_TH_YL), else when
  resulted; `issued` = when resulted (NGAY_KQ); `performer` = `Practitioner/<user pk>`.
- version = the order's version.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import orders_common as oc
from fhir_api.mappers.service_request import order_last_updated
from patients.clinical_choices import OrderStatus
from patients.models import ServiceOrder

FINAL, PRELIMINARY, ERROR = "final", "preliminary", "entered-in-error"
DESCRIPTION_TITLE = "Mô tả"


def observation_id(result_value_id: int) -> str:
    """The Observation id of a measured value (ResultValue): `res-<pk>`."""
    return f"res-{result_value_id}"


def report_status(order: ServiceOrder) -> str:
    if order.status == OrderStatus.RESULTED:
        return FINAL
    if order.status == OrderStatus.CANCELLED:
        return ERROR
    return PRELIMINARY


def report_effective(order: ServiceOrder):
    return order.performed_at or order.resulted_at


def diagnostic_report_to_json(order: ServiceOrder, result_ids: Iterable[int]) -> dict[str, Any]:
    """The FHIR DiagnosticReport of an order's result, as JSON (not yet validated)."""
    encounter = order.encounter
    data: dict[str, Any] = {"resourceType": "DiagnosticReport"}
    if order.pk is not None:
        data["id"] = str(order.pk)
        data["meta"] = {"versionId": str(order.version)}
        updated = oc.instant(order_last_updated(order))
        if updated:
            data["meta"]["lastUpdated"] = updated
        data["basedOn"] = [{"reference": f"ServiceRequest/{order.pk}"}]
    data["status"] = report_status(order)
    data["category"] = [oc.report_category(order.service)]
    data["code"] = oc.service_code(order.service)
    data["subject"] = {"reference": f"Patient/{encounter.patient_id}"}
    data["encounter"] = {"reference": f"Encounter/{order.encounter_id}"}
    effective = oc.instant(report_effective(order))
    if effective:
        data["effectiveDateTime"] = effective
    if order.resulted_at is not None:
        data["issued"] = oc.instant(order.resulted_at)
    performer = oc.practitioner(order.performed_by_id)
    if performer:
        data["performer"] = [performer]
    results = [{"reference": f"Observation/{observation_id(pk)}"} for pk in result_ids]
    if results:
        data["result"] = results
    if order.result_conclusion:
        data["conclusion"] = order.result_conclusion
    if order.result_description:
        data["presentedForm"] = [
            {
                "contentType": "text/plain; charset=utf-8",
                "language": "vi",
                "data": base64.b64encode(order.result_description.encode()).decode("ascii"),
                "title": DESCRIPTION_TITLE,
            }
        ]
    return data


def diagnostic_report_to_fhir(order: ServiceOrder, result_ids: Iterable[int]) -> FHIRResourceModel:
    """The FHIR DiagnosticReport of an order's result, validated by the pinned FHIR models."""
    return validate(diagnostic_report_to_json(order, result_ids), "DiagnosticReport")
