"""Condition and Coverage mappers: pure functions, no database (one rule per test)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from fhir_api import systems
from fhir_api.fhir import dump
from fhir_api.mappers.condition import condition_to_fhir
from fhir_api.mappers.coverage import PAYOR_DISPLAY, coverage_to_fhir
from insurance.models import InsuranceCard
from patients.clinical_choices import DiagnosisPhase, EncounterStatus
from patients.models import Diagnosis, Encounter

T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # 08:00 in Ho Chi Minh City
T1 = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)


def _diagnosis(encounter_status=EncounterStatus.CONCLUDED, **fields) -> Diagnosis:
    encounter = Encounter(pk=9, patient_id=7, status=encounter_status, started_at=T0)
    values = {
        "phase": DiagnosisPhase.ENCOUNTER,
        "icd_code": "J06.9",
        "text": "Nhiễm trùng hô hấp trên cấp",
        "rank": 0,
        "recorded_at": T1,
    }
    values.update(fields)
    return Diagnosis(pk=31, encounter=encounter, **values)


def _condition(diagnosis=None) -> dict:
    return dump(condition_to_fhir(diagnosis or _diagnosis()))


def _ext(data: dict, url: str) -> dict:
    (ext,) = [e for e in data["extension"] if e["url"] == url]
    return ext


def _code(concept: dict) -> str:
    return concept["coding"][0]["code"]


def test_condition_carries_the_icd10_code_with_the_vietnamese_name():
    data = _condition()
    assert data["id"] == "31" and data["meta"]["versionId"] == "1"
    assert data["code"]["coding"] == [
        {"system": systems.ICD_10, "code": "J06.9", "display": "Nhiễm trùng hô hấp trên cấp"}
    ]
    assert data["code"]["text"] == "Nhiễm trùng hô hấp trên cấp"
    assert data["category"][0]["coding"][0]["code"] == "encounter-diagnosis"


def test_condition_points_to_its_patient_and_encounter_with_their_dates():
    data = _condition()
    assert data["subject"] == {"reference": "Patient/7"}
    assert data["encounter"] == {"reference": "Encounter/9"}
    assert data["onsetDateTime"] == "2026-03-01T08:00:00+07:00"
    assert data["recordedDate"] == "2026-03-01T08:30:00+07:00"


@pytest.mark.parametrize(("rank", "expected"), [(0, 1), (1, 2), (12, 13)])
def test_main_diagnosis_is_rank_one_secondary_follow(rank, expected):
    data = _condition(_diagnosis(rank=rank))
    assert _ext(data, systems.DIAGNOSIS_RANK_EXT)["valuePositiveInt"] == expected


@pytest.mark.parametrize(
    ("phase", "verification"),
    [
        (DiagnosisPhase.ENCOUNTER, "confirmed"),
        (DiagnosisPhase.ADMISSION, "provisional"),
        (DiagnosisPhase.DISCHARGE, "confirmed"),
    ],
)
def test_verification_status_and_phase(phase, verification):
    data = _condition(_diagnosis(phase=phase))
    assert _code(data["verificationStatus"]) == verification
    phase_coding = _ext(data, systems.DIAGNOSIS_PHASE_EXT)["valueCoding"]
    assert phase_coding["system"] == systems.DIAGNOSIS_PHASE_CS
    assert phase_coding["code"] == phase


@pytest.mark.parametrize(
    ("status", "active"),
    [
        (EncounterStatus.IN_EXAMINATION, True),
        (EncounterStatus.ADMITTED, True),
        (EncounterStatus.CONCLUDED, False),
        (EncounterStatus.DISCHARGED, False),
    ],
)
def test_clinical_status_is_active_only_while_the_encounter_is_open(status, active):
    data = _condition(_diagnosis(encounter_status=status))
    if active:
        assert data["clinicalStatus"]["coding"][0] == {
            "system": systems.CONDITION_CLINICAL_CS,
            "code": "active",
        }
    else:
        assert "clinicalStatus" not in data


def test_voided_diagnosis_is_entered_in_error_without_clinical_status():
    data = _condition(
        _diagnosis(encounter_status=EncounterStatus.ADMITTED, voided_at=T1, void_reason="Nhầm")
    )
    assert _code(data["verificationStatus"]) == "entered-in-error"
    assert "clinicalStatus" not in data
    assert data["meta"]["versionId"] == "2"


# --- Coverage ------------------------------------------------------------------------------------


def _card(**fields) -> InsuranceCard:
    values = {
        "patient_id": 7,
        "code": "DN4481234567890",
        "group_code": "DN",
        "benefit_digit": 4,
        "province_code": "48",
        "social_insurance_number": "1234567890",
        "valid_from": date(2026, 1, 1),
        "valid_to": date(2026, 12, 31),
        "registered_facility_code": "48001",
        "created_at": T0,
    }
    values.update(fields)
    return InsuranceCard(pk=4, version=3, **values)


def _coverage(card=None) -> dict:
    return dump(coverage_to_fhir(card or _card()))


def test_coverage_is_identified_by_the_bhyt_card_code():
    data = _coverage()
    assert data["id"] == "4" and data["meta"]["versionId"] == "3"
    assert data["identifier"] == [
        {"use": "official", "system": systems.BHYT, "value": "DN4481234567890"}
    ]
    assert data["subscriberId"] == "1234567890"
    assert data["status"] == "active"


def test_coverage_beneficiary_period_and_display_only_payor():
    data = _coverage()
    assert data["beneficiary"] == {"reference": "Patient/7"}
    assert data["relationship"]["coding"][0]["code"] == "self"
    assert data["period"] == {"start": "2026-01-01", "end": "2026-12-31"}
    assert data["payor"] == [{"display": PAYOR_DISPLAY}]
    assert data["type"]["coding"][0]["code"] == "PUBLICPOL"


def test_open_ended_card_has_no_period_end():
    assert _coverage(_card(valid_to=None))["period"] == {"start": "2026-01-01"}


def test_coverage_class_holds_group_and_benefit_level():
    classes = {c["type"]["coding"][0]["code"]: c["value"] for c in _coverage()["class"]}
    assert classes == {"group": "DN", "class": "4"}


def test_registered_facility_and_dates_as_extensions():
    data = _coverage(_card(five_years_date=date(2024, 5, 1), copay_exempt_from=date(2026, 6, 1)))
    ext = {e["url"]: e for e in data["extension"]}
    assert ext[systems.BHYT_REGISTERED_FACILITY_EXT]["valueIdentifier"] == {
        "system": systems.FACILITY,
        "value": "48001",
    }
    assert ext[systems.BHYT_FIVE_YEARS_EXT]["valueDate"] == "2024-05-01"
    assert ext[systems.BHYT_COPAY_EXEMPT_EXT]["valueDate"] == "2026-06-01"
    assert "extension" not in _coverage(_card(registered_facility_code=""))


def test_voided_card_is_entered_in_error():
    assert _coverage(_card(voided_at=T1))["status"] == "entered-in-error"
