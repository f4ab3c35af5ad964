"""ServiceRequest: a service ordered for an encounter (patients.ServiceOrder) -> FHIR ServiceRequest.

Pure functions: they read only the objects given (the order with its encounter and service
loaded). Read-only: orders are written through the clinical pages' services.

Rules (documented in docs/fhir.md):

- `status`: ordered and in progress (sample taken, study started) -> `active`; resulted ->
  `completed`; cancelled -> `revoked`. The registry keeps no draft orders and never voids one
  (a mistaken order is cancelled), so `draft` and `entered-in-error` do not occur.
- `intent` = `order`; `code` = the catalog code (and the MoH MA_DICH_VU when known), `category` =
  the MA_NHOM cost group with its SNOMED CT category.
- `authoredOn` = when it was ordered (NGAY_YL), `requester` = `Practitioner/<user pk>` of the
  ordering doctor, `occurrenceDateTime` = the day of an inpatient daily order (y lệnh cho ngày),
  `locationReference` = the performing department, `quantityQuantity` = the quantity ordered.
- version = the order's version (each step bumps it).
"""

from __future__ import annotations

from typing import Any

from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import orders_common as oc
from patients.clinical_choices import OrderStatus
from patients.models import ServiceOrder

FHIR_STATUS = {
    OrderStatus.ORDERED: "active",
    OrderStatus.IN_PROGRESS: "active",
    OrderStatus.RESULTED: "completed",
    OrderStatus.CANCELLED: "revoked",
}
DOMAIN_STATUSES: dict[str, list[str]] = {}
for _domain, _fhir in FHIR_STATUS.items():
    DOMAIN_STATUSES.setdefault(_fhir, []).append(_domain)
INTENT = "order"


def order_last_updated(order: ServiceOrder):
    return oc.latest(order.ordered_at, order.performed_at, order.resulted_at, order.cancelled_at)


def service_request_to_json(order: ServiceOrder) -> dict[str, Any]:
    """The FHIR ServiceRequest of an order, as JSON (not yet validated)."""
    encounter = order.encounter
    data: dict[str, Any] = {"resourceType": "ServiceRequest"}
    if order.pk is not None:
        data["id"] = str(order.pk)
        data["meta"] = {"versionId": str(order.version)}
        updated = oc.instant(order_last_updated(order))
        if updated:
            data["meta"]["lastUpdated"] = updated
    data["status"] = FHIR_STATUS[order.status]
    data["intent"] = INTENT
    data["category"] = [oc.service_category(order.service)]
    data["code"] = oc.service_code(order.service)
    data["quantityQuantity"] = oc.quantity(order.quantity, order.service.unit)
    data["subject"] = {"reference": f"Patient/{encounter.patient_id}"}
    data["encounter"] = {"reference": f"Encounter/{order.encounter_id}"}
    if order.for_day is not None:
        data["occurrenceDateTime"] = order.for_day.isoformat()
    if order.ordered_at is not None:
        data["authoredOn"] = oc.instant(order.ordered_at)
    requester = oc.practitioner(order.ordered_by_id)
    if requester:
        data["requester"] = requester
    location = oc.department(order.performing_department_id)
    if location:
        data["locationReference"] = [location]
    notes = []
    if order.clinical_note:
        notes.append({"text": order.clinical_note})
    if order.status == OrderStatus.CANCELLED and order.cancel_reason:
        note: dict[str, Any] = {"text": f"Huỷ chỉ định: {order.cancel_reason}"}
        if order.cancelled_by_id is not None:
            note["authorReference"] = oc.practitioner(order.cancelled_by_id)
        if order.cancelled_at is not None:
            note["time"] = oc.instant(order.cancelled_at)
        notes.append(note)
    if notes:
        data["note"] = notes
    return data


def service_request_to_fhir(order: ServiceOrder) -> FHIRResourceModel:
    """The FHIR ServiceRequest of an order, validated by the pinned FHIR models."""
    return validate(service_request_to_json(order), "ServiceRequest")
