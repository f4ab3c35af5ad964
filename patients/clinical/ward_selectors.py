"""Reads of the wards: the bed board of a department, free beds, the course of a stay.

Staff see the wards of facilities where they hold `patients.view_encounter`; any other department
answers 404, like one that does not exist. Each patient shown leaves an audit entry, written with
one statement, so that the query count of the board does not grow with the number of beds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Exists, F, FilteredRelation, OuterRef, Q
from django.http import Http404

from ehealth.core import permissions
from ehealth.core.audit import audit_record, audit_record_many
from ehealth.core.models import Bed, Department
from patients.clinical_choices import EncounterKind
from patients.models import (
    BedOccupancy,
    Consultation,
    Encounter,
    ProgressNote,
    Transfer,
    VitalSigns,
)

VIEW_PERM = "patients.view_encounter"


@dataclass(frozen=True)
class BedState:
    """One bed of the board: where it is and who lies in it (None fields when free)."""

    bed_id: int
    bed_code: str
    ward_id: int
    ward_code: str
    ward_name: str
    occupancy_id: int | None = None
    patient_id: int | None = None
    patient_name: str = ""
    since: datetime | None = None
    encounter_id: int | None = None

    @property
    def is_free(self) -> bool:
        return self.occupancy_id is None


def _department_for(user, department_id) -> Department:
    try:
        dept_id = int(department_id)
    except (TypeError, ValueError):
        raise Http404 from None
    dept = Department.objects.filter(pk=dept_id).first()
    if dept is None or not permissions.has_perm_at(user, VIEW_PERM, dept.facility_id):
        raise Http404
    return dept


def bed_board(*, user, department_id) -> list[BedState]:
    """Every active bed of the department (and any inactive one still occupied), by ward and
    code, with its occupant (patient id, name, since when) and the encounter. One query for the
    beds whatever their number; the occupants shown are audited ('bed_board.view')."""
    dept = _department_for(user, department_id)
    rows = (
        Bed.objects.filter(ward__department=dept)
        .annotate(
            open_stay=FilteredRelation(
                "occupancies", condition=Q(occupancies__ended_at__isnull=True)
            )
        )
        .filter(Q(is_active=True) | Q(open_stay__isnull=False))
        .order_by("ward__code", "code", "pk")
        .values(
            "pk",
            "code",
            "ward_id",
            ward_code=F("ward__code"),
            ward_name=F("ward__name"),
            occupancy_id=F("open_stay__pk"),
            patient_id=F("open_stay__patient_id"),
            patient_name=F("open_stay__patient__full_name"),
            since=F("open_stay__started_at"),
            encounter_id=F("open_stay__encounter_id"),
        )
    )
    board = [
        BedState(
            bed_id=r["pk"],
            bed_code=r["code"],
            ward_id=r["ward_id"],
            ward_code=r["ward_code"],
            ward_name=r["ward_name"],
            occupancy_id=r["occupancy_id"],
            patient_id=r["patient_id"],
            patient_name=r["patient_name"] or "",
            since=r["since"],
            encounter_id=r["encounter_id"],
        )
        for r in rows
    ]
    shown = [b.patient_id for b in board if b.patient_id is not None]
    if shown:
        audit_record_many(
            actor=user,
            action="bed_board.view",
            patient_ids=shown,
            detail={"department_id": dept.pk},
        )
    return board


def free_beds(*, user, department_id) -> list[BedState]:
    """The free, active beds of a department (for the admission and transfer forms)."""
    dept = _department_for(user, department_id)
    rows = (
        Bed.objects.filter(ward__department=dept, is_active=True)
        .exclude(Exists(BedOccupancy.objects.filter(bed=OuterRef("pk"), ended_at__isnull=True)))
        .select_related("ward")
        .order_by("ward__code", "code", "pk")
    )
    return [
        BedState(
            bed_id=b.pk,
            bed_code=b.code,
            ward_id=b.ward_id,
            ward_code=b.ward.code,
            ward_name=b.ward.name,
        )
        for b in rows
    ]


@dataclass
class StayCourse:
    """What happened during a stay, in time order per kind: the page of the ward round."""

    encounter: Encounter
    current_bed: BedOccupancy | None
    transfers: list[Transfer] = field(default_factory=list)
    notes: list[ProgressNote] = field(default_factory=list)
    consultations: list[Consultation] = field(default_factory=list)
    vitals: list[VitalSigns] = field(default_factory=list)
    occupancies: list[BedOccupancy] = field(default_factory=list)


def stay_course(*, user, encounter_id) -> StayCourse:
    """The transfers, bed history, progress notes, consultations and nursing chart of a stay at
    one of the user's facilities (404 otherwise). A fixed number of queries; audited."""
    try:
        pk = int(encounter_id)
    except (TypeError, ValueError):
        raise Http404 from None
    facility_ids = permissions.facility_ids_with_perm(user, VIEW_PERM)
    stay = (
        Encounter.objects.select_related("patient", "department")
        .filter(
            pk=pk,
            kind=EncounterKind.INPATIENT,
            facility_id__in=facility_ids,
            voided_at__isnull=True,
        )
        .first()
    )
    if stay is None:
        raise Http404
    occupancies = list(
        BedOccupancy.objects.filter(encounter=stay)
        .select_related("bed__ward")
        .order_by("started_at", "pk")
    )
    course = StayCourse(
        encounter=stay,
        current_bed=next((o for o in occupancies if o.ended_at is None), None),
        occupancies=occupancies,
        transfers=list(
            Transfer.objects.filter(encounter=stay).select_related(
                "from_department", "to_department", "from_bed", "to_bed", "moved_by"
            )
        ),
        notes=list(
            ProgressNote.objects.filter(encounter=stay, voided_at__isnull=True).select_related(
                "author"
            )
        ),
        consultations=list(
            Consultation.objects.filter(encounter=stay).select_related("requested_by")
        ),
        vitals=list(
            VitalSigns.objects.filter(encounter=stay, voided_at__isnull=True).order_by(
                "recorded_at", "pk"
            )
        ),
    )
    audit_record(
        actor=user,
        action="stay.view",
        target=stay,
        patient_id=stay.patient_id,
        detail={"encounter_id": stay.pk},
    )
    return course
