"""Organization and Location mappers: pure functions, no database (one rule per test)."""

from __future__ import annotations

import pytest

from ehealth.core.models import AdminUnit, Bed, Department, Facility, Province, Ward
from fhir_api import systems
from fhir_api.fhir import dump
from fhir_api.mappers.location import location_id, location_to_fhir, parse_location_id
from fhir_api.mappers.organization import organization_to_fhir

DANANG = Province(code="48", name="Thành phố Đà Nẵng")
HAI_CHAU = AdminUnit(code="20194", name="Phường Hải Châu", province=DANANG)


def _facility(**fields) -> Facility:
    values = {
        "code": "48001",
        "name": "Bệnh viện Đa khoa Thử",
        "level": Facility.Level.PROVINCIAL,
        "kind": Facility.Kind.HOSPITAL,
        "province": DANANG,
        "commune": HAI_CHAU,
        "address": "124 Hải Phòng",
        "phone": "02363821118",
    }
    values.update(fields)
    return Facility(pk=5, **values)


def _org(**fields) -> dict:
    return dump(organization_to_fhir(_facility(**fields)))


UNIT = _facility()
DEPT = Department(pk=12, facility=UNIT, code="K03", name="Khoa Nội tổng hợp")
WARD = Ward(pk=3, department=DEPT, code="B1", name="Buồng 1")
BED = Bed(pk=40, ward=WARD, code="G05", is_active=True)


# --- Organization ------------------------------------------------------------------------------


def test_organization_is_identified_by_the_facility_code():
    assert _org()["identifier"] == [
        {"use": "official", "system": systems.FACILITY, "value": "48001"}
    ]


def test_placeholder_facility_code_is_marked_temporary():
    assert _org(code_is_placeholder=True)["identifier"][0]["use"] == "temp"


def test_organization_id_and_name():
    data = _org()
    assert data["id"] == "5" and data["name"] == "Bệnh viện Đa khoa Thử"


@pytest.mark.parametrize(
    ("kind", "hl7"),
    [
        (Facility.Kind.HOSPITAL, "prov"),
        (Facility.Kind.COMMUNE_STATION, "prov"),
        (Facility.Kind.HEALTH_AUTHORITY, "govt"),
    ],
)
def test_organization_type_from_kind_and_level(kind, hl7):
    codings = [t["coding"][0] for t in _org(kind=kind)["type"]]
    assert [(c["system"], c["code"]) for c in codings] == [
        (systems.ORGANIZATION_TYPE_CS, hl7),
        (systems.FACILITY_KIND_CS, kind),
        (systems.FACILITY_LEVEL_CS, "provincial"),
    ]


def test_organization_address_carries_province_and_commune():
    (address,) = _org()["address"]
    assert address["line"] == ["124 Hải Phòng"]
    assert address["state"] == "Thành phố Đà Nẵng" and address["city"] == "Phường Hải Châu"
    assert address["country"] == "VN"
    assert {e["url"]: e["valueCode"] for e in address["extension"]} == {
        systems.PROVINCE_EXT: "48",
        systems.COMMUNE_EXT: "20194",
    }


def test_inactive_facility_is_not_active():
    assert _org(is_active=False)["active"] is False


def test_organization_without_phone_has_no_telecom():
    assert "telecom" not in _org(phone="")


# --- Location ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"), [(DEPT, "dept-12"), (WARD, "ward-3"), (BED, "bed-40")]
)
def test_location_ids_carry_the_table(obj, expected):
    assert location_id(obj) == expected
    assert parse_location_id(expected) == (expected.split("-")[0], obj.pk)


@pytest.mark.parametrize("text", ["12", "room-1", "dept-", "dept-0", "dept-1x", "bed-01"])
def test_foreign_location_ids_are_not_parsed(text):
    assert parse_location_id(text) is None


@pytest.mark.parametrize(("obj", "code"), [(DEPT, "area"), (WARD, "wa"), (BED, "bd")])
def test_location_kind_is_the_physical_type(obj, code):
    coding = dump(location_to_fhir(obj))["physicalType"]["coding"][0]
    assert (coding["system"], coding["code"]) == (systems.LOCATION_PHYSICAL_TYPE_CS, code)


@pytest.mark.parametrize(
    ("obj", "parent"), [(DEPT, None), (WARD, "Location/dept-12"), (BED, "Location/ward-3")]
)
def test_location_part_of_points_up_the_tree(obj, parent):
    data = dump(location_to_fhir(obj))
    assert data.get("partOf", {}).get("reference") == parent


@pytest.mark.parametrize("obj", [DEPT, WARD, BED])
def test_location_is_managed_by_the_facility(obj):
    data = dump(location_to_fhir(obj))
    assert data["managingOrganization"] == {"reference": "Organization/5"}


def test_department_identifier_is_its_code_within_the_facility():
    data = dump(location_to_fhir(DEPT))
    assert data["identifier"] == [{"system": systems.department_system("48001"), "value": "K03"}]
    assert data["name"] == "Khoa Nội tổng hợp"


def test_bed_is_named_by_its_code_and_says_if_occupied():
    data = dump(location_to_fhir(BED, occupied=True))
    assert data["name"] == "G05"
    assert data["operationalStatus"]["code"] == "O"
    assert dump(location_to_fhir(BED, occupied=False))["operationalStatus"]["code"] == "U"
    assert "operationalStatus" not in dump(location_to_fhir(BED))


def test_inactive_bed_is_inactive():
    bed = Bed(pk=41, ward=WARD, code="G06", is_active=False)
    assert dump(location_to_fhir(bed))["status"] == "inactive"
