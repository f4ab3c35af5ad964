"""Patient mapper and kept extras: pure functions, no database (one rule per test)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from ehealth.core.models import AdminUnit, Facility, Province
from fhir_api import systems
from fhir_api.extras import extras_apply, extras_diff
from fhir_api.fhir import dump, validate
from fhir_api.mappers.patient import (
    MappingError,
    patient_from_fhir,
    patient_to_fhir,
    patient_to_json,
)
from patients.choices import AddressScheme, IdentifierSystem, Sex
from patients.models import Patient, PatientIdentifier
from patients.validation import PatientInput

DANANG = Province(code="48", name="Thành phố Đà Nẵng")
HAI_CHAU = AdminUnit(code="20194", name="Phường Hải Châu", province=DANANG)
UNIT = Facility(code="48001", name="Bệnh viện Thử")


def _patient(**fields) -> Patient:
    values = {
        "full_name": "Nguyễn Văn An",
        "sex": Sex.MALE,
        "birth_date": date(1985, 5, 12),
        "birth_year": 1985,
        "phone": "0905123456",
        "address_line": "12 Lê Duẩn",
        "province": DANANG,
        "commune": HAI_CHAU,
        "ethnicity_code": "01",
        "occupation": "Kỹ sư",
        "emergency_contact_name": "Nguyễn Thị Hoa",
        "emergency_contact_phone": "0912345678",
        "emergency_contact_relation": "Vợ",
    }
    values.update(fields)
    return Patient(pk=7, version=3, **values)


def _idents() -> list[PatientIdentifier]:
    return [
        PatientIdentifier(system=IdentifierSystem.CCCD, value="048085000123"),
        PatientIdentifier(system=IdentifierSystem.BHYT, value="DN4480123456789"),
        PatientIdentifier(system=IdentifierSystem.SOCIAL_INSURANCE, value="4801234567"),
        PatientIdentifier(system=IdentifierSystem.MRN, value="48001-000042", facility=UNIT),
    ]


def _json(patient=None, idents=None) -> dict:
    return dump(patient_to_fhir(patient or _patient(), identifiers=idents or _idents()))


def test_name_is_written_family_first():
    name = _json()["name"][0]
    assert name == {"text": "Nguyễn Văn An", "family": "Nguyễn", "given": ["Văn", "An"]}


def test_identifiers_use_the_vn_core_systems():
    idents = {i["system"]: i["value"] for i in _json()["identifier"]}
    assert idents[systems.CCCD] == "048085000123"
    assert idents["http://fhir.hl7.org.vn/core/sid/cccd"] == "048085000123"
    assert idents[systems.BHYT] == "DN4480123456789"
    assert idents[systems.BHXH] == "4801234567"


def test_record_number_names_its_facility_as_assigner():
    mrn = next(i for i in _json()["identifier"] if i["system"].startswith(systems.MRN_PREFIX))
    assert mrn["system"] == systems.mrn_system("48001")
    assert mrn["type"]["coding"][0]["code"] == "MR"
    assert mrn["assigner"]["identifier"] == {"system": systems.FACILITY, "value": "48001"}


def test_voided_identifiers_are_not_rendered():
    idents = _idents()
    idents[0].voided_at = "2026-01-01T00:00:00Z"
    systems_out = {i["system"] for i in _json(idents=idents)["identifier"]}
    assert systems.CCCD not in systems_out


@pytest.mark.parametrize(
    ("sex", "gender"), [(Sex.MALE, "male"), (Sex.FEMALE, "female"), (Sex.UNKNOWN, "unknown")]
)
def test_sex_maps_to_administrative_gender(sex, gender):
    assert _json(_patient(sex=sex))["gender"] == gender


def test_birth_year_only_is_a_partial_date():
    data = _json(_patient(birth_date=None, birth_year=1950))
    assert data["birthDate"] == "1950"


def test_address_carries_the_unit_codes_and_names():
    home = _json()["address"][0]
    assert home["line"] == ["12 Lê Duẩn"]
    assert home["city"] == "Phường Hải Châu" and home["state"] == "Thành phố Đà Nẵng"
    codes = {e["url"]: e["valueCode"] for e in home["extension"]}
    assert codes == {systems.PROVINCE_EXT: "48", systems.COMMUNE_EXT: "20194"}


def test_legacy_address_is_an_old_address():
    data = _json(_patient(legacy_address="Tổ 5, phường Cũ, quận Cũ"))
    assert {"use": "old", "text": "Tổ 5, phường Cũ, quận Cũ"} in data["address"]


def test_meta_carries_the_version_given():
    data = patient_to_json(_patient(), identifiers=[], version_id="4")
    assert data["id"] == "7" and data["meta"] == {"versionId": "4"}


def test_from_fhir_joins_family_and_given():
    resource = {"resourceType": "Patient", "name": [{"family": "Lê", "given": ["Thị", "Hồng"]}]}
    assert patient_from_fhir(resource).full_name == "Lê Thị Hồng"


def test_from_fhir_takes_text_when_no_parts():
    resource = {"resourceType": "Patient", "name": [{"text": "Phạm Minh Tuấn"}]}
    assert patient_from_fhir(resource).full_name == "Phạm Minh Tuấn"


def test_from_fhir_refuses_gender_other_at_its_element():
    with pytest.raises(MappingError) as exc:
        patient_from_fhir({"resourceType": "Patient", "gender": "other"})
    assert exc.value.path == "Patient.gender"


def test_from_fhir_without_gender_is_unknown():
    assert patient_from_fhir({"resourceType": "Patient"}).sex == Sex.UNKNOWN


def test_from_fhir_year_only_birth_date():
    data = patient_from_fhir({"resourceType": "Patient", "birthDate": "1950"})
    assert (data.birth_date, data.birth_year) == (None, 1950)


def test_from_fhir_reads_identifiers_by_system_and_ignores_others():
    resource = {
        "resourceType": "Patient",
        "identifier": [
            {"system": systems.CCCD, "value": "048085000123"},
            {"system": "http://his.example/mrn", "value": "X1"},
            {"system": systems.BHYT, "value": "DN4480123456789"},
        ],
    }
    data = patient_from_fhir(resource)
    assert (data.cccd, data.bhyt_card, data.passport) == ("048085000123", "DN4480123456789", "")


def test_legacy_only_address_means_legacy_scheme():
    resource = {"resourceType": "Patient", "address": [{"use": "old", "text": "Xóm 3"}]}
    data = patient_from_fhir(resource)
    assert (data.address_scheme, data.legacy_address) == (AddressScheme.LEGACY, "Xóm 3")


def test_round_trip_domain_fhir_domain_keeps_every_field():
    # given a patient as the registry holds it
    patient = _patient(nationality_code="VN", occupation_code="21", legacy_address="Xóm 3")
    # when rendered to FHIR (validated) and mapped back
    resource = validate(dump(patient_to_fhir(patient, identifiers=_idents())))
    back = patient_from_fhir(resource)
    # then the registration input equals the patient's own values
    expected = PatientInput(
        full_name="Nguyễn Văn An",
        sex=Sex.MALE,
        birth_date=date(1985, 5, 12),
        birth_year=1985,
        cccd="048085000123",
        bhyt_card="DN4480123456789",
        social_insurance_number="4801234567",
        ethnicity_code="01",
        nationality_code="VN",
        occupation="Kỹ sư",
        occupation_code="21",
        phone="0905123456",
        address_scheme=AddressScheme.TWO_LEVEL,
        address_line="12 Lê Duẩn",
        province_code="48",
        commune_code="20194",
        legacy_address="Xóm 3",
        emergency_contact_name="Nguyễn Thị Hoa",
        emergency_contact_phone="0912345678",
        emergency_contact_relation="Vợ",
    )
    assert dataclasses.asdict(back) == dataclasses.asdict(expected)


# --- kept extras -----------------------------------------------------------------------------

SENT = {
    "resourceType": "Patient",
    "id": "client-id",
    "meta": {"versionId": "99"},
    "maritalStatus": {"coding": [{"system": "http://x/ms", "code": "M"}]},
    "identifier": [
        {"use": "official", "system": systems.CCCD, "value": "048085000123"},
        {"system": "http://his.example/mrn", "value": "H-77"},
    ],
    "name": [{"use": "official", "family": "Nguyễn", "given": ["Văn", "An"]}],
    "telecom": [
        {"system": "phone", "value": "+84 905 123 456", "use": "mobile"},
        {"system": "email", "value": "an@example.org"},
    ],
    "extension": [{"url": "http://his.example/ext", "valueString": "x"}],
}
STORED = {
    "resourceType": "Patient",
    "identifier": [{"system": systems.CCCD, "value": "048085000123"}],
    "name": [{"text": "Nguyễn Văn An", "family": "Nguyễn", "given": ["Văn", "An"]}],
    "telecom": [{"system": "phone", "value": "0905123456"}],
    "gender": "male",
}


def _contains(outer, inner) -> bool:
    """Every element of `inner` is in `outer` (repeats in any order)."""
    if isinstance(inner, dict):
        return isinstance(outer, dict) and all(
            k in outer and _contains(outer[k], v) for k, v in inner.items()
        )
    if isinstance(inner, list):
        return isinstance(outer, list) and all(any(_contains(o, i) for o in outer) for i in inner)
    return outer == inner


def test_extras_keep_what_the_domain_does_not_render():
    extras = extras_diff(SENT, STORED)
    merged = extras_apply(STORED, extras)
    assert merged["maritalStatus"] == SENT["maritalStatus"]
    assert {"system": "http://his.example/mrn", "value": "H-77"} in merged["identifier"]
    assert {"system": "email", "value": "an@example.org"} in merged["telecom"]
    assert merged["name"][0]["use"] == "official"
    assert merged["identifier"][0]["use"] == "official"
    assert {"url": "http://his.example/ext", "valueString": "x"} in merged["extension"]


def test_extras_never_keep_id_or_meta():
    extras = extras_diff(SENT, STORED)
    assert "id" not in extras and "meta" not in extras


def test_extras_let_the_domain_value_win_where_it_differs():
    merged = extras_apply(STORED, extras_diff(SENT, STORED))
    phone = next(t for t in merged["telecom"] if t["system"] == "phone")
    assert phone == {"system": "phone", "value": "0905123456", "use": "mobile"}


def test_extras_of_a_repeat_the_domain_dropped_go_with_it():
    extras = extras_diff(SENT, STORED)
    later = {**STORED, "telecom": []}
    merged = extras_apply(later, extras)
    assert merged["telecom"] == [{"system": "email", "value": "an@example.org"}]


def test_write_then_read_keeps_every_element_sent_and_validates():
    # given what a partner sent and what the domain renders after saving it
    extras = extras_diff(SENT, STORED)
    # when the record is read back
    read = extras_apply({**STORED, "id": "7"}, extras)
    # then it is a valid R4 Patient holding every element sent, apart from id and meta
    validate(read)
    sent = {k: v for k, v in SENT.items() if k not in ("id", "meta")}
    sent["telecom"] = [SENT["telecom"][1]]  # the phone comes back normalised
    assert _contains(read, sent)
