"""Factories for the patient registry (synthetic data only: identifiers from the generators)."""

from __future__ import annotations

import itertools
import random
from datetime import date

import factory

from ehealth.core.models import AdminUnit, Facility, Province
from patients import identifiers as idgen
from patients.choices import IdentifierSystem, Sex
from patients.models import Patient, PatientIdentifier
from patients.services import PatientInput, record_number_format, record_numbers_reserve
from tests.core.factories import ProvinceFactory

_serial = itertools.count(1)


def unique_cccd(*, sex: str = Sex.MALE, birth_year: int = 1985) -> str:
    """A valid CCCD never handed out before in this test session."""
    n = next(_serial)
    return f"048{idgen.generate_cccd(random.Random(n), sex=sex, birth_year=birth_year)[3:6]}{n:06d}"


def unique_si_number() -> str:
    return f"48{next(_serial):08d}"


def unique_card(*, group: str = "DN", level: int = 4, si_number: str | None = None) -> str:
    return idgen.generate_bhyt_card(
        random.Random(0), group=group, level=level, si_number=si_number or unique_si_number()
    )


class AdminUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdminUnit
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"{20194 + n * 3:05d}")
    province = factory.SubFactory(ProvinceFactory)
    name = factory.Sequence(lambda n: f"Phường Thử {n}")
    kind = AdminUnit.Kind.WARD


def other_province() -> Province:
    return ProvinceFactory(code="01", name="Thành phố Hà Nội")


def patient_input(**overrides) -> PatientInput:
    """A valid registration form: male, born 12/05/1985, fresh CCCD (override anything)."""
    sex = overrides.get("sex", Sex.MALE)
    birth_date = overrides.get("birth_date", date(1985, 5, 12))
    birth_year = birth_date.year if birth_date else overrides.get("birth_year") or 1985
    values = {
        "full_name": "Nguyễn Văn An",
        "sex": sex,
        "birth_date": birth_date,
        "cccd": unique_cccd(sex=sex, birth_year=birth_year),
        "phone": "0905123456",
        "address_line": "12 Lê Duẩn",
    }
    values.update(overrides)
    return PatientInput(**values)


def make_patient(
    facility: Facility | None = None,
    *,
    full_name: str = "Trần Thị Bình",
    sex: str = Sex.FEMALE,
    birth_date: date | None = date(1990, 3, 4),
    birth_year: int | None = None,
    identifiers: dict[str, str] | None = None,
    **fields,
) -> Patient:
    """A patient written straight to the database (no service, no audit), with a record number
    at `facility` when given. For arranging test data only."""
    patient = Patient.objects.create(
        full_name=full_name,
        sex=sex,
        birth_date=birth_date,
        birth_year=birth_date.year if birth_date else birth_year,
        **fields,
    )
    for system, value in (identifiers or {}).items():
        PatientIdentifier.objects.create(patient=patient, system=system, value=value)
    if facility is not None:
        give_record_number(patient, facility)
    return patient


def give_record_number(patient: Patient, facility: Facility) -> PatientIdentifier:
    number = record_numbers_reserve(facility=facility)
    return PatientIdentifier.objects.create(
        patient=patient,
        system=IdentifierSystem.MRN,
        value=record_number_format(facility.code, number),
        facility=facility,
    )
