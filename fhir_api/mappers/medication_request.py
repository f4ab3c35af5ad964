"""MedicationRequest: one drug line of a prescription (patients.PrescriptionItem) -> FHIR
MedicationRequest, id = the line's id; the prescription is its `groupIdentifier`.

Pure functions: they read only the objects given (the line with its drug, prescription and
encounter loaded) and `today` (the local day, for a course that has run out). Read-only: drugs
are prescribed through the clinical pages' services.

Rules (documented in docs/fhir.md):

- `status`: a voided line -> `entered-in-error`; a cancelled prescription -> `cancelled`; a
  draft outpatient prescription -> `draft`; an issued prescription, or an inpatient day's drug
  order (y lệnh thuốc, never issued separately) -> `active` while its course runs (its day, or the
  day it was prescribed, plus `days`), `completed` from the day after.
- `medicationCodeableConcept` = the catalog code (and MA_THUOC when known); `dosageInstruction`:
  text, route, dose per time, `timing.repeat` = times per day for `days` days; `dispenseRequest`:
  quantity (in the drug's unit) and the expected supply duration.
- `intent` = `order`, `category` (HL7): `inpatient` for a stay, `community` for a visit's
  prescription (taken at home); `requester` = `Practitioner/<user pk>`, `authoredOn` = when
  prescribed (or issued); notes: the advice (lời dặn) and any override or void reason.
- version = the prescription's version, + 1 once the line is voided.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from fhir_api import systems
from fhir_api.fhir import FHIRResourceModel, validate
from fhir_api.mappers import datatypes as dt
from fhir_api.mappers import orders_common as oc
from patients.clinical_choices import EncounterKind, PrescriptionStatus
from patients.models import PrescriptionItem

ACTIVE, COMPLETED, CANCELLED, DRAFT, ERROR = (
    "active",
    "completed",
    "cancelled",
    "draft",
    "entered-in-error",
)
INTENT = "order"
CATEGORY_OF_KIND = {
    EncounterKind.INPATIENT: ("inpatient", "Inpatient"),
    EncounterKind.OUTPATIENT: ("community", "Community"),
}


def item_version(item: PrescriptionItem) -> int:
    return item.prescription.version + (1 if item.voided_at is not None else 0)


def item_last_updated(item: PrescriptionItem):
    rx = item.prescription
    return oc.latest(rx.prescribed_at, rx.cancelled_at, item.voided_at)


def course_end(item: PrescriptionItem) -> date:
    """The first day after the course: its day (or the day prescribed) plus `days`."""
    rx = item.prescription
    start = rx.for_day or timezone.localdate(rx.prescribed_at)
    return start + timedelta(days=item.days)


def request_status(item: PrescriptionItem, today: date) -> str:
    rx = item.prescription
    if item.voided_at is not None:
        return ERROR
    if rx.status == PrescriptionStatus.CANCELLED:
        return CANCELLED
    if rx.status == PrescriptionStatus.DRAFT and rx.for_day is None:
        return DRAFT
    return COMPLETED if course_end(item) <= today else ACTIVE


def _decimal_text(value) -> str:
    return str(oc.number(value)).replace(".", ",")  # Vietnamese decimal comma


def dosage_text(item: PrescriptionItem) -> str:
    """E.g. "Uống 1 viên/lần, 2 lần/ngày, 5 ngày. Sau ăn"."""
    text = (
        f"{item.route} {_decimal_text(item.dose)} {item.dose_unit}/lần, "
        f"{item.times_per_day} lần/ngày, {item.days} ngày"
    ).strip()
    return f"{text}. {item.instructions}" if item.instructions else text


def _dosage(item: PrescriptionItem) -> dict[str, Any]:
    dosage: dict[str, Any] = {"sequence": 1, "text": dosage_text(item)}
    if item.instructions:
        dosage["patientInstruction"] = item.instructions
    dosage["timing"] = {
        "repeat": {
            "boundsDuration": oc.days(item.days),
            "frequency": item.times_per_day,
            "period": 1,
            "periodUnit": "d",
        }
    }
    if item.route:
        dosage["route"] = {"text": item.route}
    dosage["doseAndRate"] = [{"doseQuantity": oc.quantity(item.dose, item.dose_unit)}]
    return dosage


def _notes(item: PrescriptionItem) -> list[dict[str, Any]]:
    rx = item.prescription
    notes = []
    if rx.note:
        notes.append({"text": rx.note})
    if item.allergy_override_reason:
        notes.append({"text": f"Vẫn kê dù dị ứng: {item.allergy_override_reason}"})
    if item.duplicate_override_reason:
        notes.append({"text": f"Kê trùng thuốc: {item.duplicate_override_reason}"})
    if item.voided_at is not None and item.void_reason:
        note: dict[str, Any] = {"text": f"Huỷ dòng thuốc: {item.void_reason}"}
        note["time"] = oc.instant(item.voided_at)
        if item.voided_by_id is not None:
            note["authorReference"] = oc.practitioner(item.voided_by_id)
        notes.append(note)
    elif rx.status == PrescriptionStatus.CANCELLED and rx.cancel_reason:
        note = {"text": f"Huỷ đơn: {rx.cancel_reason}"}
        if rx.cancelled_at is not None:
            note["time"] = oc.instant(rx.cancelled_at)
        notes.append(note)
    return notes


def medication_request_to_json(item: PrescriptionItem, today: date) -> dict[str, Any]:
    """The FHIR MedicationRequest of a drug line, as JSON (not yet validated)."""
    rx = item.prescription
    encounter = rx.encounter
    data: dict[str, Any] = {"resourceType": "MedicationRequest"}
    if item.pk is not None:
        data["id"] = str(item.pk)
        data["meta"] = {"versionId": str(item_version(item))}
        updated = oc.instant(item_last_updated(item))
        if updated:
            data["meta"]["lastUpdated"] = updated
    data["status"] = request_status(item, today)
    data["intent"] = INTENT
    kind = CATEGORY_OF_KIND.get(encounter.kind)
    if kind is not None:
        data["category"] = [{"coding": [dt.coding(systems.MEDREQ_CATEGORY_CS, *kind)]}]
    data["medicationCodeableConcept"] = oc.drug_code(item.drug)
    data["subject"] = {"reference": f"Patient/{encounter.patient_id}"}
    data["encounter"] = {"reference": f"Encounter/{rx.encounter_id}"}
    if rx.prescribed_at is not None:
        data["authoredOn"] = oc.instant(rx.prescribed_at)
    requester = oc.practitioner(rx.prescribed_by_id)
    if requester:
        data["requester"] = requester
    if rx.pk is not None:
        data["groupIdentifier"] = dt.identifier(systems.PRESCRIPTION_ID, str(rx.pk))
    notes = _notes(item)
    if notes:
        data["note"] = notes
    data["dosageInstruction"] = [_dosage(item)]
    data["dispenseRequest"] = {
        "quantity": oc.quantity(item.quantity, item.drug.unit),
        "expectedSupplyDuration": oc.days(item.days),
    }
    return data


def medication_request_to_fhir(item: PrescriptionItem, today: date) -> FHIRResourceModel:
    """The FHIR MedicationRequest of a drug line, validated by the pinned FHIR models."""
    return validate(medication_request_to_json(item, today), "MedicationRequest")
