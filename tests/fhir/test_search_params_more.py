"""Patient phone and address, Encounter location: the search parameters partners asked for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ehealth.core.models import AdminUnit, Role
from patients.clinical_choices import EncounterKind
from patients.models import BedOccupancy, Transfer
from tests.clinical.factories import make_encounter
from tests.core.factories import (
    BedFactory,
    DepartmentFactory,
    ProvinceFactory,
    WardFactory,
    make_staff,
)
from tests.fhir.conftest import body
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200, data
    return sorted(e["resource"]["id"] for e in data.get("entry", []))


@pytest.fixture
def people(facility):
    province = ProvinceFactory()
    hai_chau = AdminUnit.objects.create(
        code="20194", province=province, name="Phường Hải Châu", kind="ward"
    )
    son_tra = AdminUnit.objects.create(
        code="20260", province=province, name="Phường Sơn Trà", kind="ward"
    )
    an = make_patient(
        facility,
        full_name="Nguyễn Văn An",
        phone="0905123456",
        address_line="12 Lê Lợi",
        commune=hai_chau,
        province=province,
    )
    binh = make_patient(
        facility,
        full_name="Trần Thị Bình",
        phone="0236384999",
        address_line="5 Hoàng Sa",
        commune=son_tra,
        province=province,
    )
    old = make_patient(
        facility, full_name="Lê Văn Cũ", legacy_address="Tổ 3, Hòa Khánh, Liên Chiểu"
    )
    return {"an": str(an.pk), "binh": str(binh.pk), "old": str(old.pk)}  # fmt: skip


@pytest.mark.parametrize(
    "params, who",
    [
        ({"phone": "0905123456"}, ["an"]),
        ({"phone": "+84 905 123 456"}, ["an"]),
        ({"phone": "phone|0236 384 999"}, ["binh"]),
        ({"phone": "email|0905123456"}, []),
        ({"phone": "0905123456,0236384999"}, ["an", "binh"]),
        ({"address": "le loi"}, ["an"]),
        ({"address": "hai chau"}, ["an"]),
        ({"address": "da nang"}, ["an", "binh"]),
        ({"address": "hoa khanh"}, ["old"]),
        ({"address:contains": "ang sa"}, ["binh"]),
        ({"address:exact": "12 Lê Lợi"}, ["an"]),
        ({"address:exact": "12 le loi"}, []),
        ({"address-city": "son tra"}, ["binh"]),
        ({"address-city:exact": "Phường Hải Châu"}, ["an"]),
        ({"address-state": "thanh pho da nang"}, ["an", "binh"]),
        ({"address": "da nang", "phone": "0905123456"}, ["an"]),
    ],
)
def test_patient_phone_and_address(api, people, params, who):
    assert _ids(api.get("Patient", params)) == sorted(people[w] for w in who)


def test_address_needs_letters(api, people):
    response = api.get("Patient", {"address": "--"})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == ["address"]


@pytest.fixture
def stays(facility):
    cardio, icu = DepartmentFactory(facility=facility), DepartmentFactory(facility=facility)
    ward = WardFactory(department=icu)
    bed, other_bed = BedFactory(ward=ward), BedFactory(ward=WardFactory(department=icu))
    at = datetime(2026, 3, 5, 2, tzinfo=UTC)
    patient = make_patient(facility)
    moved = make_encounter(
        facility=facility,
        patient=patient,
        kind=EncounterKind.INPATIENT,
        started_at=at,
        department=cardio,
    )
    Transfer.objects.create(
        encounter=moved,
        from_department=cardio,
        to_department=icu,
        to_bed=bed,
        moved_at=at,
        moved_by=make_staff(facility, Role.NURSE),
        reason="Chuyển hồi sức",
    )
    BedOccupancy.objects.create(bed=bed, patient=patient, encounter=moved, started_at=at)
    stayed = make_encounter(
        facility=facility,
        patient=make_patient(facility),
        kind=EncounterKind.INPATIENT,
        started_at=at,
        department=cardio,
    )
    return {
        "moved": str(moved.pk), "stayed": str(stayed.pk), "cardio": cardio.pk, "icu": icu.pk,
        "ward": ward.pk, "bed": bed.pk, "other_bed": other_bed.pk,
    }  # fmt: skip


@pytest.mark.parametrize(
    "location, who",
    [
        ("Location/dept-{cardio}", ["moved", "stayed"]),
        ("Location/dept-{icu}", ["moved"]),  # by its transfer
        ("Location/ward-{ward}", ["moved"]),
        ("Location/bed-{bed}", ["moved"]),
        ("Location/bed-{other_bed}", []),
        ("Location/{cardio}", []),  # not one of our logical ids
        ("Organization/dept-{cardio}", []),
    ],
)
def test_encounter_location(api, stays, location, who):
    value = location.format(**stays)
    assert _ids(api.get("Encounter", {"location": value})) == sorted(stays[w] for w in who)
