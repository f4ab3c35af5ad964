"""Arrangements for the inpatient tests: a department with a ward of beds, a visit concluded
'admit', staff, codes (synthetic data; written straight to the database, no service)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ehealth.core.models import Bed, Department, Facility, Role, Ward
from patients.clinical_choices import Conclusion, EncounterStatus
from patients.models import Encounter, Patient
from tests.clinical.factories import make_encounter, make_icd
from tests.core.factories import BedFactory, DepartmentFactory, WardFactory, make_staff


def make_department_with_beds(
    facility: Facility, *, beds: int = 3, department: Department | None = None
) -> tuple[Department, Ward, list[Bed]]:
    """A department of `facility` (new unless given) with one ward of `beds` beds."""
    department = department or DepartmentFactory(facility=facility)
    ward = WardFactory(department=department)
    return department, ward, [BedFactory(ward=ward) for _ in range(beds)]


def make_visit_concluded_admit(
    facility: Facility, *, patient: Patient | None = None, hours_ago: float = 2
) -> Encounter:
    """An outpatient visit of `facility` concluded with 'admit' (locked)."""
    started = timezone.now() - timedelta(hours=hours_ago)
    return make_encounter(
        facility=facility,
        patient=patient,
        status=EncounterStatus.CONCLUDED,
        started_at=started,
        ended_at=started + timedelta(minutes=30),
        conclusion=Conclusion.ADMIT,
        treatment_days=0,
        reason="Đau ngực",
    )


def nurse_at(facility: Facility):
    return make_staff(facility, Role.NURSE)


def doctor_at(facility: Facility):
    return make_staff(facility, Role.DOCTOR)


def icd_codes() -> None:
    """The few ICD-10 codes the tests diagnose with."""
    for code, name in (
        ("I10", "Bệnh lý tăng huyết áp vô căn (nguyên phát)"),
        ("I20.0", "Cơn đau thắt ngực không ổn định"),
        ("E11.9", "Bệnh đái tháo đường type 2 không có biến chứng"),
        ("J18.9", "Viêm phổi, không đặc hiệu"),
    ):
        make_icd(code, name)
