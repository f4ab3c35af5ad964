"""ChargeItem, Invoice, Claim and ClaimResponse mappers: pure functions, no database.

Each resource is validated by the pinned FHIR models and comes back unchanged from them (the
round trip of a read-only resource), and the official R4 JSON schema accepts it; amounts are checked to be exactly the Decimals of the domain
once written as JSON and read back as Decimals."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.models import ChargeLine, ChargeSource, ChargeStatus, Invoice, InvoiceStatus
from fhir_api import systems
from fhir_api.fhir import dump, validate
from fhir_api.mappers import fees_common as fc
from fhir_api.mappers.charge_item import charge_item_to_fhir, charge_item_to_json
from fhir_api.mappers.claim import ClaimTables, claim_to_fhir, claim_to_json
from fhir_api.mappers.claim_response import (
    Answer,
    claim_response_to_fhir,
    claim_response_to_json,
)
from fhir_api.mappers.coverage import PAYOR_DISPLAY
from fhir_api.mappers.invoice import invoice_to_fhir, invoice_to_json
from insurance.claims.models import Dossier, DossierStatus
from patients.clinical_choices import EncounterKind, EncounterStatus
from patients.models import Encounter
from tests.fhir import schema

D = Decimal
T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # 08:00 in Ho Chi Minh City
T1 = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
T2 = datetime(2026, 3, 20, 3, 0, tzinfo=UTC)


def _encounter(**fields) -> Encounter:
    values = {
        "pk": 9,
        "patient_id": 7,
        "kind": EncounterKind.OUTPATIENT,
        "status": EncounterStatus.CONCLUDED,
        "started_at": T0,
        "ended_at": T1,
        "insurance_card_code": "DN4480123456789",
    }
    values.update(fields)
    return Encounter(**values)


def _line(encounter=None, **fields) -> ChargeLine:
    values = {
        "pk": 41,
        "facility_id": 3,
        "source_kind": ChargeSource.SERVICE_ORDER,
        "source_id": 5,
        "service_date": date(2026, 3, 1),
        "item_code": "XN.CTM",
        "item_name": "Tổng phân tích tế bào máu",
        "unit": "lần",
        "cost_group": 1,
        "quantity": D("1.000"),
        "hospital_price": D("90000.00"),
        "bhyt_price": D("80000.00"),
        "service_ratio": D("100.00"),
        "status": ChargeStatus.ACTIVE,
        "created_at": T0,
        "updated_at": T1,
    }
    values.update(fields)
    return ChargeLine(encounter=encounter or _encounter(), **values)


def _billed(pk=41, **fields) -> ChargeLine:
    """A line of invoice 12 split 90,000 = fund 64,000 + co-pay 16,000 + self-pay 10,000."""
    values = {
        "invoice": Invoice(pk=12, status=InvoiceStatus.OPEN),
        "hospital_amount": D("90000.00"),
        "bhyt_amount": D("80000.00"),
        "fund": D("64000.00"),
        "copay": D("16000.00"),
        "self_pay": D("10000.00"),
        "other": D("0.00"),
        "benefit_rate": D("80.00"),
    }
    values.update(fields)
    return _line(pk=pk, **values)


def _exact(data: dict) -> dict:
    """The resource as a client reads it: JSON text parsed with decimals kept exact."""
    return json.loads(json.dumps(data, ensure_ascii=False), parse_float=Decimal)


def _round_trip(data: dict) -> None:
    """Unchanged through the pinned FHIR models, and valid for the official R4 JSON schema."""
    assert dump(validate(data)) == json.loads(json.dumps(data))
    assert schema.schema_errors(json.loads(json.dumps(data))) == []


def _ext(data: dict, url: str) -> dict:
    (ext,) = [e for e in data.get("extension", []) if e["url"] == url]
    return ext


# --- money -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(D("800000.00"), 800000), (D("47500.50"), D("47500.5")), (D("0.01"), D("0.01")),
     (D("9999999999999.99"), D("9999999999999.99")), (D("2.500"), D("2.5"))],
)  # fmt: skip
def test_money_is_the_exact_decimal_on_the_wire(value, expected):
    assert _exact({"v": fc.money(value)})["v"] == {"value": expected, "currency": "VND"}


def test_a_decimal_a_json_number_cannot_hold_exactly_is_refused():
    with pytest.raises(ValueError):
        fc.number(D("12345678901234567.89"))


# --- ChargeItem --------------------------------------------------------------------------------


def test_charge_item_code_subject_context_and_dates():
    data = dump(charge_item_to_fhir(_line()))
    assert data["id"] == "41" and data["status"] == "billable"
    assert data["code"]["coding"] == [
        {"system": systems.SERVICE_CATALOG_CS, "code": "XN.CTM", "display": "Tổng phân tích tế bào máu"}
    ]  # fmt: skip
    assert data["subject"] == {"reference": "Patient/7"}
    assert data["context"] == {"reference": "Encounter/9"}
    assert data["performingOrganization"] == {"reference": "Organization/3"}
    assert data["occurrenceDateTime"] == "2026-03-01"
    assert data["enteredDate"] == "2026-03-01T08:00:00+07:00"
    assert data["quantity"] == {"value": 1, "unit": "lần"}
    assert data["meta"]["lastUpdated"] == "2026-03-01T09:30:00+07:00"
    assert data["meta"]["versionId"] == str(fc.version_stamp(T1))


@pytest.mark.parametrize(
    ("kind", "system"),
    [
        (ChargeSource.DRUG, systems.DRUG_CATALOG_CS),
        (ChargeSource.SUPPLY, systems.SUPPLY_CATALOG_CS),
        (ChargeSource.EXAMINATION, systems.SERVICE_CATALOG_CS),
        (ChargeSource.BED_DAY, systems.SERVICE_CATALOG_CS),
    ],
)
def test_charge_item_code_system_follows_the_kind(kind, system):
    assert charge_item_to_json(_line(source_kind=kind))["code"]["coding"][0]["system"] == system


def test_unbilled_line_has_unit_prices_but_no_total():
    data = _exact(charge_item_to_json(_line()))
    assert _ext(data, systems.UNIT_PRICE_EXT)["valueMoney"] == {"value": 90000, "currency": "VND"}
    assert _ext(data, systems.BHYT_UNIT_PRICE_EXT)["valueMoney"]["value"] == 80000
    assert _ext(data, systems.COST_GROUP_EXT)["valueCoding"] == {
        "system": systems.COST_GROUP_CS, "code": "1", "display": "Xét nghiệm"
    }  # fmt: skip
    assert "priceOverride" not in data and "factorOverride" not in data


def test_billed_line_carries_its_total_exactly():
    line = _billed(
        quantity=D("2.500"),
        hospital_price=D("12345678901.23"),
        hospital_amount=D("30864197253.08"),
        fund=D("30864197253.08"),
        copay=D(0),
        self_pay=D(0),
    )
    data = _exact(charge_item_to_json(line))
    assert data["status"] == "billed"
    assert data["quantity"]["value"] == D("2.5")
    assert data["priceOverride"] == {"value": D("30864197253.08"), "currency": "VND"}
    assert _ext(data, systems.UNIT_PRICE_EXT)["valueMoney"]["value"] == D("12345678901.23")


def test_line_of_a_cancelled_invoice_is_billable_again():
    line = _billed(invoice=Invoice(pk=12, status=InvoiceStatus.CANCELLED))
    data = charge_item_to_json(line)
    assert data["status"] == "billable" and "priceOverride" not in data


def test_second_examination_of_the_day_shows_its_rate_as_a_factor():
    data = _exact(charge_item_to_json(_line(source_kind="examination", service_ratio=D("30.00"))))
    assert data["factorOverride"] == D("0.3")


def test_dropped_line_is_entered_in_error_with_the_reason():
    line = _line(status=ChargeStatus.DROPPED, dropped_at=T1, drop_reason="Chỉ định đã huỷ")
    data = dump(charge_item_to_fhir(line))
    assert data["status"] == "entered-in-error"
    assert data["note"] == [{"text": "Chỉ định đã huỷ"}]


def test_line_of_a_voided_encounter_is_entered_in_error():
    data = charge_item_to_json(_billed(encounter=_encounter(voided_at=T2)))
    assert data["status"] == "entered-in-error" and "priceOverride" not in data


def test_charge_item_round_trip():
    _round_trip(charge_item_to_json(_billed(bhyt_price=None)))


# --- Invoice -----------------------------------------------------------------------------------


def _invoice(encounter=None, **fields) -> Invoice:
    values = {
        "pk": 12,
        "facility_id": 3,
        "patient_id": 7,
        "encounter_id": 9,
        "status": InvoiceStatus.OPEN,
        "card_id": 21,
        "card_code": "DN4480123456789",
        "benefit_rate": D("80.00"),
        "total_hospital": D("140600.00"),
        "total_bhyt": D("130600.00"),
        "total_fund": D("104480.00"),
        "total_copay": D("26120.00"),
        "total_self_pay": D("10000.00"),
        "total_other": D("0.00"),
        "patient_amount": D("36120.00"),
        "paid_amount": D("20000.00"),
        "built_at": T1,
        "created_at": T0,
        "updated_at": T1,
    }
    values.update(fields)
    return Invoice(encounter=encounter or _encounter(), **values)


def _lines() -> list[ChargeLine]:
    exam = _billed(
        pk=40, source_kind="examination", item_code="KB.NOI", cost_group=13,
        hospital_price=D("50600.00"), bhyt_price=D("50600.00"), hospital_amount=D("50600.00"),
        bhyt_amount=D("50600.00"), fund=D("40480.00"), copay=D("10120.00"), self_pay=D(0),
    )  # fmt: skip
    return [exam, _billed(pk=41, updated_at=T2)]


def _component(components: list[dict], code: str) -> dict:
    (found,) = [c for c in components if c["code"]["coding"][0]["code"] == code]
    return found


def test_invoice_identifier_subject_issuer_date_and_encounter():
    data = dump(invoice_to_fhir(_invoice(), _lines()))
    assert data["identifier"] == [
        {"use": "official", "system": systems.INVOICE_NUMBER, "value": "HD00000012"}
    ]
    assert data["subject"] == {"reference": "Patient/7"}
    assert data["issuer"] == {"reference": "Organization/3"}
    assert data["date"] == "2026-03-01T09:30:00+07:00"
    assert _ext(data, systems.ENCOUNTER_EXT)["valueReference"] == {"reference": "Encounter/9"}


def test_invoice_line_items_point_to_charge_items_in_order():
    data = invoice_to_json(_invoice(), _lines())
    assert [(i["sequence"], i["chargeItemReference"]["reference"]) for i in data["lineItem"]] == [
        (1, "ChargeItem/40"),
        (2, "ChargeItem/41"),
    ]


def test_line_price_components_carry_the_bhyt_split():
    item = _exact(invoice_to_json(_invoice(), _lines()))["lineItem"][1]
    parts = item["priceComponent"]
    assert {c["code"]["coding"][0]["system"] for c in parts} == {systems.PRICE_COMPONENT_CS}
    assert [(c["type"], c["code"]["coding"][0]["code"], c["amount"]["value"]) for c in parts] == [
        ("base", "hospital", 90000),
        ("informational", "bhyt-scope", 80000),
        ("deduction", "fund", 64000),
        ("deduction", "other", 0),
        ("informational", "copay", 16000),
        ("informational", "self-pay", 10000),
    ]


def test_totals_gross_is_the_hospital_amount_net_what_the_patient_owes():
    data = _exact(invoice_to_json(_invoice(), _lines()))
    assert data["totalGross"] == {"value": 140600, "currency": "VND"}
    assert data["totalNet"] == {"value": 36120, "currency": "VND"}
    parts = data["totalPriceComponent"]
    base = _component(parts, "hospital")["amount"]["value"]
    deductions = sum(c["amount"]["value"] for c in parts if c["type"] == "deduction")
    assert base - deductions == data["totalNet"]["value"]
    assert _component(parts, "fund")["amount"]["value"] == 104480
    assert _ext(data, systems.AMOUNT_PAID_EXT)["valueMoney"]["value"] == 20000
    assert _ext(data, systems.BENEFIT_RATE_EXT)["valueDecimal"] == 80


def test_invoice_amounts_with_cents_stay_exact():
    invoice = _invoice(
        total_hospital=D("1000.55"), total_bhyt=D("1000.55"), total_fund=D("800.44"),
        total_copay=D("200.11"), total_self_pay=D(0), patient_amount=D("200.11"),
        paid_amount=D(0),
    )  # fmt: skip
    data = _exact(invoice_to_json(invoice, []))
    assert data["totalNet"]["value"] == D("200.11")
    assert _component(data["totalPriceComponent"], "fund")["amount"]["value"] == D("800.44")


@pytest.mark.parametrize(
    ("status", "encounter", "expected"),
    [
        (InvoiceStatus.OPEN, {}, "issued"),
        (InvoiceStatus.OPEN, {"kind": EncounterKind.INPATIENT, "status": EncounterStatus.ADMITTED}, "draft"),
        (InvoiceStatus.OPEN, {"kind": EncounterKind.INPATIENT, "status": EncounterStatus.DISCHARGED}, "issued"),
        (InvoiceStatus.PAID, {}, "balanced"),
        (InvoiceStatus.SETTLED, {"kind": EncounterKind.INPATIENT}, "balanced"),
        (InvoiceStatus.CANCELLED, {}, "cancelled"),
        (InvoiceStatus.PAID, {"voided_at": T2}, "entered-in-error"),
    ],
)  # fmt: skip
def test_invoice_status(status, encounter, expected):
    data = invoice_to_json(_invoice(_encounter(**encounter), status=status), [])
    assert data["status"] == expected


def test_invoice_without_card_has_no_benefit_rate():
    data = invoice_to_json(_invoice(card_id=None, benefit_rate=None), [])
    assert not [e for e in data["extension"] if e["url"] == systems.BENEFIT_RATE_EXT]


def test_invoice_version_follows_its_last_changed_line():
    data = invoice_to_json(_invoice(), _lines())
    assert data["meta"]["versionId"] == str(fc.version_stamp(T2))
    assert data["meta"]["lastUpdated"] == "2026-03-20T10:00:00+07:00"


def test_invoice_round_trip():
    _round_trip(invoice_to_json(_invoice(), _lines()))


# --- Claim -------------------------------------------------------------------------------------

XML1 = (
    "<TONG_HOP><MA_LK>LK1</MA_LK><MA_BENH_CHINH>J06.9</MA_BENH_CHINH>"
    "<MA_BENH_KT>I10;E11.9</MA_BENH_KT><T_TONGCHI_BV>150000.00</T_TONGCHI_BV></TONG_HOP>"
)
XML2 = (
    "<CHITIEU_CHITIET_THUOC><DSACH_CHI_TIET_THUOC><CHI_TIET_THUOC><MA_LK>LK1</MA_LK><STT>1</STT>"
    "<MA_THUOC>40.48</MA_THUOC><MA_NHOM>4</MA_NHOM><TEN_THUOC>Paracetamol 500mg</TEN_THUOC>"
    "<SO_LUONG>10.000</SO_LUONG><DON_GIA>1000.50</DON_GIA><THANH_TIEN_BV>10005.00</THANH_TIEN_BV>"
    "<T_BHTT>10005.00</T_BHTT><NGAY_YL>202603010920</NGAY_YL></CHI_TIET_THUOC>"
    "</DSACH_CHI_TIET_THUOC></CHITIEU_CHITIET_THUOC>"
)
XML3 = (
    "<CHITIEU_CHITIET_DVKT_VTYT><DSACH_CHI_TIET_DVKT><CHI_TIET_DVKT><STT>1</STT>"
    "<MA_DICH_VU>22.0120.1370</MA_DICH_VU><MA_NHOM>1</MA_NHOM>"
    "<TEN_DICH_VU>Tổng phân tích tế bào máu</TEN_DICH_VU><SO_LUONG>1</SO_LUONG>"
    "<DON_GIA_BV>90000.00</DON_GIA_BV><THANH_TIEN_BV>90000.00</THANH_TIEN_BV>"
    "<T_BHTT>80000.00</T_BHTT><NGAY_YL>202603010830</NGAY_YL></CHI_TIET_DVKT>"
    "<CHI_TIET_DVKT><STT>2</STT><MA_DICH_VU>22.0120.1370</MA_DICH_VU>"
    "<MA_VAT_TU>N03.05.010</MA_VAT_TU><MA_NHOM>10</MA_NHOM><TEN_VAT_TU>Kim luồn</TEN_VAT_TU>"
    "<SO_LUONG>2</SO_LUONG><DON_GIA_BV>25000.00</DON_GIA_BV><THANH_TIEN_BV>50000.00"
    "</THANH_TIEN_BV><T_BHTT>47500.00</T_BHTT><NGAY_YL>202603010845</NGAY_YL></CHI_TIET_DVKT>"
    "</DSACH_CHI_TIET_DVKT></CHITIEU_CHITIET_DVKT_VTYT>"
)
TABLES = ClaimTables.parse(XML1, XML2, XML3)


def _dossier(encounter=None, **fields) -> Dossier:
    values = {
        "pk": 55,
        "facility_id": 3,
        "encounter_id": 9,
        "claim_key": "LK1",
        "status": DossierStatus.READY,
        "current_version": 2,
        "visit_type": "01",
        "total_hospital": D("150005.00"),
        "total_fund": D("137505.00"),
        "rejection_reasons": [],
        "created_at": T0,
        "updated_at": T1,
        "row_version": 4,
    }
    values.update(fields)
    return Dossier(encounter=encounter or _encounter(), **values)


def test_claim_tables_parse_the_stored_xml():
    assert TABLES.summary["MA_BENH_CHINH"] == "J06.9"
    assert len(TABLES.drugs) == 1 and len(TABLES.services) == 2
    assert ClaimTables.parse(None, None, None) == ClaimTables()


def test_claim_identifier_parties_and_references():
    data = dump(claim_to_fhir(_dossier(), TABLES, 21))
    assert data["identifier"] == [{"use": "official", "system": systems.MA_LK, "value": "LK1"}]
    assert data["patient"] == {"reference": "Patient/7"}
    assert data["provider"] == {"reference": "Organization/3"}
    assert data["insurer"] == {"display": PAYOR_DISPLAY}
    assert data["insurance"] == [
        {"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/21"}}
    ]
    assert data["use"] == "claim"
    assert data["priority"]["coding"][0]["code"] == "normal"
    assert data["created"] == "2026-03-01T08:00:00+07:00"
    assert data["billablePeriod"] == {
        "start": "2026-03-01T08:00:00+07:00",
        "end": "2026-03-01T09:30:00+07:00",
    }
    assert data["meta"]["versionId"] == "4"


def test_claim_without_a_registry_card_names_it_by_its_bhyt_identifier():
    coverage = claim_to_json(_dossier(), TABLES, None)["insurance"][0]["coverage"]
    assert coverage["identifier"] == {"system": systems.BHYT, "value": "DN4480123456789"}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [(EncounterKind.OUTPATIENT, "professional"), (EncounterKind.INPATIENT, "institutional")],
)
def test_claim_type_follows_the_encounter_kind(kind, expected):
    data = claim_to_json(_dossier(_encounter(kind=kind)), TABLES, 21)
    assert data["type"]["coding"] == [{"system": systems.CLAIM_TYPE_CS, "code": expected}]
    assert data["subType"]["coding"] == [{"system": systems.VISIT_TYPE_CS, "code": "01"}]


@pytest.mark.parametrize(
    ("status", "voided", "expected"),
    [
        (DossierStatus.DRAFT, None, "draft"),
        (DossierStatus.INVALID, None, "draft"),
        (DossierStatus.READY, None, "active"),
        (DossierStatus.SENT, None, "active"),
        (DossierStatus.REJECTED, None, "active"),
        (DossierStatus.PAID, None, "active"),
        (DossierStatus.PAID, T2, "entered-in-error"),
    ],
)
def test_claim_status_and_the_dossier_status_kept(status, voided, expected):
    data = claim_to_json(_dossier(_encounter(voided_at=voided), status=status), TABLES, 21)
    assert data["status"] == expected
    assert _ext(data, systems.DOSSIER_STATUS_EXT)["valueCoding"]["code"] == status
    assert _ext(data, systems.DOSSIER_VERSION_EXT)["valuePositiveInt"] == 2


def test_claim_diagnoses_from_xml1_main_first():
    data = claim_to_json(_dossier(), TABLES, 21)
    codes = [d["diagnosisCodeableConcept"]["coding"][0] for d in data["diagnosis"]]
    assert [(c["system"], c["code"]) for c in codes] == [
        (systems.ICD_10, "J06.9"),
        (systems.ICD_10, "I10"),
        (systems.ICD_10, "E11.9"),
    ]
    assert data["diagnosis"][0]["type"][0]["coding"][0]["code"] == "principal"
    assert "type" not in data["diagnosis"][1]
    assert [d["sequence"] for d in data["diagnosis"]] == [1, 2, 3]


def test_claim_items_drugs_services_and_supplies():
    data = _exact(claim_to_json(_dossier(), TABLES, 21))
    items = data["item"]
    assert [i["sequence"] for i in items] == [1, 2, 3]
    assert [i["productOrService"]["coding"][0]["system"] for i in items] == [
        systems.MOH_DRUG_CS,
        systems.MOH_SERVICE_CS,
        systems.MOH_SUPPLY_CS,
    ]
    drug = items[0]
    assert drug["productOrService"]["coding"][0]["code"] == "40.48"
    assert drug["quantity"] == {"value": 10}
    assert drug["unitPrice"] == {"value": D("1000.5"), "currency": "VND"}
    assert drug["net"]["value"] == 10005
    assert drug["servicedDate"] == "2026-03-01"
    assert drug["category"]["coding"][0] == {
        "system": systems.COST_GROUP_CS, "code": "4", "display": "Thuốc"
    }  # fmt: skip
    assert drug["encounter"] == [{"reference": "Encounter/9"}]
    assert _ext(items[2], systems.FUND_CLAIMED_EXT)["valueMoney"]["value"] == 47500
    assert items[2]["productOrService"]["text"] == "Kim luồn"


def test_claim_total_and_fund_amount():
    data = _exact(claim_to_json(_dossier(), TABLES, 21))
    assert data["total"] == {"value": 150005, "currency": "VND"}
    assert _ext(data, systems.FUND_CLAIMED_EXT)["valueMoney"]["value"] == 137505


def test_claim_of_a_dossier_without_tables_is_still_valid():
    data = dump(claim_to_fhir(_dossier(status=DossierStatus.DRAFT, current_version=0), ClaimTables(), None))  # fmt: skip
    assert "item" not in data and "diagnosis" not in data


def test_claim_round_trip():
    _round_trip(claim_to_json(_dossier(), TABLES, 21))


# --- ClaimResponse -----------------------------------------------------------------------------

REASONS = [
    {"code": "E101", "message": "Mã thẻ không đúng"},
    {"code": "", "message": "Thiếu chẩn đoán"},
]


def _response(status, answer=None, **fields) -> dict:
    dossier = _dossier(status=status, **fields)
    return dump(claim_response_to_fhir(dossier, answer or Answer(answered_at=T2)))


def _response_json(status, answer, **fields) -> dict:
    return claim_response_to_json(_dossier(status=status, **fields), answer)


def test_accepted_claim_response():
    data = _response(DossierStatus.ACCEPTED)
    assert data["id"] == "55" and data["request"] == {"reference": "Claim/55"}
    assert data["outcome"] == "complete" and data["status"] == "active"
    assert data["disposition"] == "Hồ sơ được chấp nhận."
    assert data["created"] == "2026-03-20T10:00:00+07:00"
    assert data["patient"] == {"reference": "Patient/7"}
    assert data["requestor"] == {"reference": "Organization/3"}
    assert data["insurer"] == {"display": PAYOR_DISPLAY}
    assert "payment" not in data and "error" not in data
    assert [t["category"]["coding"][0]["code"] for t in data["total"]] == ["submitted", "eligible"]


def test_rejected_claim_response_lists_the_reasons():
    data = _response(DossierStatus.REJECTED, rejection_reasons=REASONS)
    assert data["outcome"] == "error"
    assert data["disposition"] == "Hồ sơ bị từ chối: Mã thẻ không đúng; Thiếu chẩn đoán"
    assert data["error"] == [
        {
            "code": {
                "coding": [
                    {
                        "system": systems.BHXH_ERROR_CS,
                        "code": "E101",
                        "display": "Mã thẻ không đúng",
                    }
                ],
                "text": "Mã thẻ không đúng",
            }
        },
        {"code": {"text": "Thiếu chẩn đoán"}},
    ]


def test_paid_claim_response_has_the_approved_amount_exactly():
    answer = Answer(answered_at=T2, approved=D("120000.55"), claimed=D("137505.00"), settled_at=T2)
    data = _exact(_response_json(DossierStatus.PAID, answer))
    assert data["payment"] == {
        "type": {"coding": [{"system": systems.PAYMENT_TYPE_CS, "code": "partial"}]},
        "date": "2026-03-20",
        "amount": {"value": D("120000.55"), "currency": "VND"},
    }
    totals = {t["category"]["coding"][0]["code"]: t["amount"]["value"] for t in data["total"]}
    assert totals == {"submitted": 150005, "eligible": 137505, "benefit": D("120000.55")}


def test_paid_in_full_is_a_complete_payment():
    answer = Answer(approved=D("137505.00"), claimed=D("137505.00"), settled_at=T2)
    data = _response(DossierStatus.PAID, answer)
    assert data["payment"]["type"]["coding"][0]["code"] == "complete"
    assert data["created"] == "2026-03-01T09:30:00+07:00"  # no gateway answer: last change


def test_claim_response_round_trip():
    answer = Answer(answered_at=T2, approved=D("1.5"), claimed=D("2"), settled_at=T2)
    _round_trip(_response_json(DossierStatus.PAID, answer))
    _round_trip(_response_json(DossierStatus.REJECTED, Answer(), rejection_reasons=REASONS))  # fmt: skip
