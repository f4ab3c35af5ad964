"""Factories for the clinical record: clinic rooms, encounters and catalog items (synthetic data).

These write straight to the database (no service, no audit) to arrange test data; tests of the
services themselves call the services.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime

import factory
from django.utils import timezone

from ehealth.core.models import ClinicRoom, Department, Drug, Facility, IcdCode, MedicalService
from ehealth.core.models.catalogs import CostGroup
from patients.choices import IdentifierSystem
from patients.clinical_choices import ArrivalMode, EncounterKind, EncounterStatus, VisitType
from patients.models import Encounter, Patient, QueueTicket
from tests.core.factories import DepartmentFactory
from tests.patients.factories import give_record_number, make_patient

_serial = itertools.count(1)


class ClinicRoomFactory(factory.django.DjangoModelFactory):
    """A clinic room; pass `department__facility=facility` (or `department=`) to place it."""

    class Meta:
        model = ClinicRoom

    department = factory.SubFactory(DepartmentFactory)
    code = factory.Sequence(lambda n: f"P{n:03d}")
    name = factory.Sequence(lambda n: f"Phòng khám {n}")


def make_room(facility: Facility, *, department: Department | None = None, **kwargs) -> ClinicRoom:
    """A clinic room of `facility` (in a new department unless one is given)."""
    if department is None:
        department = DepartmentFactory(facility=facility)
    return ClinicRoomFactory(department=department, **kwargs)


def make_encounter(
    *,
    facility: Facility,
    patient: Patient | None = None,
    room: ClinicRoom | None = None,
    kind: str = EncounterKind.OUTPATIENT,
    status: str | None = None,
    started_at: datetime | None = None,
    attending=None,
    with_ticket: bool = False,
    **fields,
) -> Encounter:
    """An encounter written straight to the database.

    Outpatient: visit type 01, status ARRIVED by default. Inpatient: visit type 03, ADMITTED with
    `admitted_at` = `started_at`. The patient (created when not given) gets a record number at
    `facility` if they have none, so the facility's staff see them. `with_ticket` also issues the
    next queue number of the room for the local day.
    """
    if patient is None:
        patient = make_patient(facility)
    elif not patient.identifiers.filter(
        system=IdentifierSystem.MRN, facility=facility, voided_at__isnull=True
    ).exists():
        give_record_number(patient, facility)
    started_at = started_at or timezone.now()
    inpatient = kind == EncounterKind.INPATIENT
    values = {
        "visit_type": VisitType.INPATIENT if inpatient else VisitType.EXAMINATION,
        "arrival_mode": ArrivalMode.SELF_REFERRED,
        "department": room.department if room is not None else None,
    }
    if inpatient:
        values["admitted_at"] = started_at
    values.update(fields)
    encounter = Encounter.objects.create(
        patient=patient,
        facility=facility,
        room=room,
        kind=kind,
        status=status or (EncounterStatus.ADMITTED if inpatient else EncounterStatus.ARRIVED),
        started_at=started_at,
        attending=attending,
        **values,
    )
    if with_ticket:
        if room is None:
            raise ValueError("with_ticket needs a room")
        day = timezone.localdate(started_at)
        last = QueueTicket.objects.filter(room=room, day=day).order_by("-number").first()
        QueueTicket.objects.create(
            encounter=encounter,
            room=room,
            day=day,
            number=(last.number + 1) if last else 1,
            issued_at=started_at,
        )
    return encounter


def make_icd(
    code: str,
    name_vi: str = "",
    *,
    name_en: str = "",
    valid_from: date = date(2000, 1, 1),
    valid_to: date | None = None,
    billable: bool = True,
) -> IcdCode:
    """An ICD-10 code in force from `valid_from` (default 2000) with no end unless given."""
    return IcdCode.objects.create(
        code=code,
        name_vi=name_vi,
        name_en=name_en,
        valid_from=valid_from,
        valid_to=valid_to,
        billable=billable,
    )


def make_service(
    *,
    code: str | None = None,
    name: str | None = None,
    group: int = CostGroup.LAB,
    unit: str = "lần",
    **fields,
) -> MedicalService:
    """A catalog service (a lab test unless `group` says otherwise)."""
    n = next(_serial)
    return MedicalService.objects.create(
        code=code or f"DV{n:05d}",
        name=name or f"Xét nghiệm thử {n}",
        group=group,
        unit=unit,
        **fields,
    )


def make_drug(
    *,
    code: str | None = None,
    name: str | None = None,
    active_ingredient: str = "Paracetamol",
    active_ingredient_code: str = "",
    strength: str = "500mg",
    route: str = "Uống",
    unit: str = "viên",
    **fields,
) -> Drug:
    """A catalog drug (paracetamol 500 mg tablets unless told otherwise)."""
    n = next(_serial)
    return Drug.objects.create(
        code=code or f"TH{n:05d}",
        name=name or f"{active_ingredient} {strength} ({n})",
        active_ingredient=active_ingredient,
        active_ingredient_code=active_ingredient_code,
        strength=strength,
        route=route,
        unit=unit,
        **fields,
    )


def start_examination(encounter: Encounter, doctor, facility: Facility) -> Encounter:
    """Take an ARRIVED visit into examination through the service (as the doctor would)."""
    from patients.clinical.examination import encounter_start_examination

    return encounter_start_examination(
        actor=doctor, facility=facility, encounter=encounter, expected_version=encounter.version
    )


def make_visit_in_examination(facility: Facility, doctor, **kwargs) -> Encounter:
    """A visit with a queue ticket, taken into examination by `doctor`."""
    kwargs.setdefault("room", make_room(facility))
    encounter = make_encounter(facility=facility, with_ticket=True, **kwargs)
    return start_examination(encounter, doctor, facility)
