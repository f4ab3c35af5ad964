"""ServiceRequest, DiagnosticReport and MedicationRequest mappers: pure functions, no database.

Each resource is validated by the pinned FHIR models (`*_to_fhir`) and dumped back to JSON, so
every assertion is on the round trip through `fhir.resources`.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ehealth.core.models import Drug, MedicalService
from ehealth.core.models.catalogs import CostGroup
from fhir_api import systems
from fhir_api.fhir import dump, validate
from fhir_api.mappers.diagnostic_report import diagnostic_report_to_fhir, diagnostic_report_to_json
from fhir_api.mappers.medication_request import (
    dosage_text,
    medication_request_to_fhir,
    medication_request_to_json,
)
from fhir_api.mappers.orders_common import number
from fhir_api.mappers.service_request import service_request_to_fhir, service_request_to_json
from patients.clinical_choices import (
    EncounterKind,
    EncounterStatus,
    OrderStatus,
    PrescriptionStatus,
)
from patients.models import Encounter, Prescription, PrescriptionItem, ServiceOrder
from tests.fhir import schema

T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # 08:00 in Ho Chi Minh City
T1 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 1, 3, 30, tzinfo=UTC)


def _encounter(kind=EncounterKind.OUTPATIENT) -> Encounter:
    return Encounter(
        pk=9, patient_id=7, kind=kind, status=EncounterStatus.IN_EXAMINATION, started_at=T0
    )


def _service(**fields) -> MedicalService:
    values = {"code": "DV001", "name": "Tổng phân tích tế bào máu", "unit": "lần"}
    values.update({"group": CostGroup.LAB, "moh_code": "22.0120.1370", **fields})
    return MedicalService(pk=3, **values)


def _order(service=None, **fields) -> ServiceOrder:
    values = {
        "quantity": Decimal("1.000"),
        "status": OrderStatus.ORDERED,
        "ordered_by_id": 21,
        "ordered_at": T0,
        "version": 1,
    }
    values.update(fields)
    return ServiceOrder(pk=5, encounter=_encounter(), service=service or _service(), **values)


def _conforms(served: dict) -> None:
    """What the API serves (the mapper's JSON) conforms to the official R4 JSON schema."""
    assert schema.schema_errors(json.loads(json.dumps(served))) == []


def _sr(order=None) -> dict:
    order = order or _order()
    _conforms(service_request_to_json(order))
    return dump(service_request_to_fhir(order))


def _resulted(**fields) -> ServiceOrder:
    values = {
        "status": OrderStatus.RESULTED,
        "performed_at": T1,
        "performed_by_id": 22,
        "resulted_at": T2,
        "result_conclusion": "Trong giới hạn bình thường",
        "version": 3,
    }
    values.update(fields)
    return _order(**values)


def _dr(order=None, result_ids=(41, 42)) -> dict:
    order = order or _resulted()
    _conforms(diagnostic_report_to_json(order, list(result_ids)))
    return dump(diagnostic_report_to_fhir(order, list(result_ids)))


# --- ServiceRequest --------------------------------------------------------------------------


def test_service_request_carries_the_service_codes_and_who_ordered_when():
    data = _sr()
    assert data["id"] == "5" and data["meta"]["versionId"] == "1"
    assert data["intent"] == "order"
    assert data["code"] == {
        "coding": [
            {
                "system": systems.SERVICE_CATALOG_CS,
                "code": "DV001",
                "display": "Tổng phân tích tế bào máu",
            },
            {
                "system": systems.MOH_SERVICE_CS,
                "code": "22.0120.1370",
                "display": "Tổng phân tích tế bào máu",
            },
        ],
        "text": "Tổng phân tích tế bào máu",
    }
    assert data["subject"] == {"reference": "Patient/7"}
    assert data["encounter"] == {"reference": "Encounter/9"}
    assert data["authoredOn"] == "2026-03-01T08:00:00+07:00"
    assert data["requester"] == {"reference": "Practitioner/21"}
    assert data["quantityQuantity"] == {"value": 1, "unit": "lần"}


def test_service_without_moh_code_has_only_the_catalog_coding():
    data = _sr(_order(service=_service(moh_code="")))
    assert [c["system"] for c in data["code"]["coding"]] == [systems.SERVICE_CATALOG_CS]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (OrderStatus.ORDERED, "active"),
        (OrderStatus.IN_PROGRESS, "active"),
        (OrderStatus.RESULTED, "completed"),
        (OrderStatus.CANCELLED, "revoked"),
    ],
)
def test_service_request_status(status, expected):
    assert _sr(_order(status=status))["status"] == expected


@pytest.mark.parametrize(
    ("group", "snomed"),
    [
        (CostGroup.LAB, "108252007"),
        (CostGroup.IMAGING, "363679005"),
        (CostGroup.SURGERY, "387713003"),
        (CostGroup.TRANSPORT, None),
    ],
)
def test_category_is_the_cost_group_with_its_snomed_category(group, snomed):
    (category,) = _sr(_order(service=_service(group=group)))["category"]
    codings = {c["system"]: c["code"] for c in category["coding"]}
    assert codings[systems.COST_GROUP_CS] == str(int(group))
    assert codings.get(systems.SNOMED_SCT) == snomed


def test_daily_order_department_note_and_cancellation():
    data = _sr(
        _order(
            for_day=date(2026, 3, 2),
            performing_department_id=8,
            clinical_note="Lấy máu lúc đói",
            status=OrderStatus.CANCELLED,
            cancelled_at=T1,
            cancelled_by_id=23,
            cancel_reason="Trùng chỉ định",
            version=2,
        )
    )
    assert data["occurrenceDateTime"] == "2026-03-02"
    assert data["locationReference"] == [{"reference": "Location/dept-8"}]
    assert data["note"][0] == {"text": "Lấy máu lúc đói"}
    assert data["note"][1]["authorReference"] == {"reference": "Practitioner/23"}
    assert data["note"][1]["text"].endswith("Trùng chỉ định")
    assert data["meta"] == {"versionId": "2", "lastUpdated": "2026-03-01T09:00:00+07:00"}


def test_fractional_quantity_stays_exact():
    assert _sr(_order(quantity=Decimal("0.250")))["quantityQuantity"]["value"] == 0.25
    assert number(Decimal("2.000")) == 2 and isinstance(number(Decimal("2.000")), int)


# --- DiagnosticReport ------------------------------------------------------------------------


def test_report_points_to_its_order_and_one_observation_per_value():
    data = _dr()
    assert data["id"] == "5" and data["meta"]["versionId"] == "3"
    assert data["basedOn"] == [{"reference": "ServiceRequest/5"}]
    assert data["result"] == [
        {"reference": "Observation/res-41"},
        {"reference": "Observation/res-42"},
    ]
    assert data["conclusion"] == "Trong giới hạn bình thường"
    assert data["code"]["coding"][0]["code"] == "DV001"
    assert data["subject"] == {"reference": "Patient/7"}
    assert data["encounter"] == {"reference": "Encounter/9"}


def test_report_times_and_performer():
    data = _dr()
    assert data["effectiveDateTime"] == "2026-03-01T09:00:00+07:00"  # performed
    assert data["issued"] == "2026-03-01T10:30:00+07:00"  # resulted
    assert data["performer"] == [{"reference": "Practitioner/22"}]
    assert _dr(_resulted(performed_at=None))["effectiveDateTime"] == "2026-03-01T10:30:00+07:00"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (OrderStatus.RESULTED, "final"),
        (OrderStatus.IN_PROGRESS, "preliminary"),
        (OrderStatus.CANCELLED, "entered-in-error"),
    ],
)
def test_report_status(status, expected):
    assert _dr(_resulted(status=status))["status"] == expected


@pytest.mark.parametrize(
    ("group", "section"),
    [(CostGroup.LAB, "LAB"), (CostGroup.IMAGING, "RAD"), (CostGroup.FUNCTIONAL, "OTH")],
)
def test_report_category_is_the_diagnostic_section(group, section):
    data = _dr(_resulted(service=_service(group=group)))
    assert data["category"][0]["coding"][0] == {
        "system": systems.DIAGNOSTIC_SECTION_CS,
        "code": section,
        "display": {"LAB": "Laboratory", "RAD": "Radiology", "OTH": "Other"}[section],
    }


def test_imaging_report_with_a_conclusion_and_a_description_but_no_values():
    order = _resulted(
        service=_service(group=CostGroup.IMAGING),
        result_conclusion="Không thấy bất thường",
        result_description="Gan không to, nhu mô đều.",
    )
    data = _dr(order, result_ids=())
    assert "result" not in data
    (form,) = data["presentedForm"]
    assert form["contentType"].startswith("text/plain")
    assert base64.b64decode(form["data"]).decode() == "Gan không to, nhu mô đều."


# --- MedicationRequest -----------------------------------------------------------------------


def _drug(**fields) -> Drug:
    values = {
        "code": "TH001",
        "name": "Paracetamol 500mg",
        "unit": "viên",
        "active_ingredient": "Paracetamol",
        "active_ingredient_code": "40.17",
    }
    values.update(fields)
    return Drug(pk=2, **values)


def _item(rx_fields=None, kind=EncounterKind.OUTPATIENT, **fields) -> PrescriptionItem:
    rx_values = {
        "status": PrescriptionStatus.ISSUED,
        "prescribed_by_id": 21,
        "prescribed_at": T0,
        "version": 2,
    }
    rx_values.update(rx_fields or {})
    rx = Prescription(pk=4, encounter=_encounter(kind), **rx_values)
    values = {
        "dose": Decimal("1.000"),
        "dose_unit": "viên",
        "route": "Uống",
        "times_per_day": 2,
        "days": 5,
        "quantity": Decimal("10.000"),
        "instructions": "Sau ăn",
    }
    values.update(fields)
    return PrescriptionItem(pk=11, prescription=rx, drug=_drug(), **values)


TODAY = date(2026, 3, 3)


def _mr(item=None, today=TODAY) -> dict:
    item = item or _item()
    _conforms(medication_request_to_json(item, today))
    return dump(medication_request_to_fhir(item, today))


def test_medication_request_drug_codes_and_group():
    data = _mr()
    assert data["id"] == "11" and data["meta"]["versionId"] == "2"
    assert data["intent"] == "order"
    assert data["medicationCodeableConcept"]["coding"] == [
        {"system": systems.DRUG_CATALOG_CS, "code": "TH001", "display": "Paracetamol 500mg"},
        {"system": systems.MOH_DRUG_CS, "code": "40.17", "display": "Paracetamol"},
    ]
    assert data["groupIdentifier"] == {"system": systems.PRESCRIPTION_ID, "value": "4"}
    assert data["subject"] == {"reference": "Patient/7"}
    assert data["encounter"] == {"reference": "Encounter/9"}
    assert data["requester"] == {"reference": "Practitioner/21"}
    assert data["authoredOn"] == "2026-03-01T08:00:00+07:00"


def test_dosage_and_dispense():
    data = _mr(_item(dose=Decimal("0.500")))
    (dosage,) = data["dosageInstruction"]
    assert dosage["text"] == "Uống 0,5 viên/lần, 2 lần/ngày, 5 ngày. Sau ăn"
    assert dosage["patientInstruction"] == "Sau ăn"
    assert dosage["route"] == {"text": "Uống"}
    assert dosage["doseAndRate"] == [{"doseQuantity": {"value": 0.5, "unit": "viên"}}]
    repeat = dosage["timing"]["repeat"]
    assert (repeat["frequency"], repeat["period"], repeat["periodUnit"]) == (2, 1, "d")
    assert repeat["boundsDuration"]["value"] == 5 and repeat["boundsDuration"]["code"] == "d"
    assert data["dispenseRequest"]["quantity"] == {"value": 10, "unit": "viên"}
    assert data["dispenseRequest"]["expectedSupplyDuration"]["value"] == 5


def test_dosage_text_without_instructions():
    assert dosage_text(_item(instructions="")) == "Uống 1 viên/lần, 2 lần/ngày, 5 ngày"


@pytest.mark.parametrize(
    ("rx_fields", "item_fields", "today", "expected"),
    [
        ({}, {}, date(2026, 3, 5), "active"),  # 1 March + 5 days: last day 5 March
        ({}, {}, date(2026, 3, 6), "completed"),
        ({"status": PrescriptionStatus.DRAFT}, {}, date(2026, 3, 9), "draft"),
        ({"status": PrescriptionStatus.CANCELLED, "cancel_reason": "Đổi đơn"}, {}, TODAY, "cancelled"),
        ({}, {"voided_at": T1, "void_reason": "Kê nhầm"}, TODAY, "entered-in-error"),
        # an inpatient day's drug order stays a draft prescription: in force on its day
        ({"status": PrescriptionStatus.DRAFT, "for_day": date(2026, 3, 3)}, {"days": 1}, TODAY, "active"),
        ({"status": PrescriptionStatus.DRAFT, "for_day": date(2026, 3, 2)}, {"days": 1}, TODAY, "completed"),
    ],
)  # fmt: skip
def test_medication_request_status(rx_fields, item_fields, today, expected):
    assert _mr(_item(rx_fields, **item_fields), today)["status"] == expected


def test_voided_line_bumps_the_version_and_says_why():
    data = _mr(_item(voided_at=T1, voided_by_id=23, void_reason="Kê nhầm"))
    assert data["meta"] == {"versionId": "3", "lastUpdated": "2026-03-01T09:00:00+07:00"}
    assert data["note"][-1]["text"].endswith("Kê nhầm")
    assert data["note"][-1]["authorReference"] == {"reference": "Practitioner/23"}


def test_category_follows_the_encounter_and_notes_keep_advice_and_overrides():
    data = _mr(
        _item(
            {"note": "Tái khám sau 5 ngày"},
            kind=EncounterKind.INPATIENT,
            allergy_override_reason="Dị ứng nhẹ, đã hội chẩn",
        )
    )
    assert data["category"][0]["coding"][0]["code"] == "inpatient"
    assert [n["text"] for n in data["note"]] == [
        "Tái khám sau 5 ngày",
        "Vẫn kê dù dị ứng: Dị ứng nhẹ, đã hội chẩn",
    ]
    assert _mr()["category"][0]["coding"][0]["code"] == "community"


def test_unsaved_objects_map_without_ids():
    order = _order()
    order.pk = None
    data = _sr(order)
    assert "id" not in data and "meta" not in data
    validate(data, "ServiceRequest")
