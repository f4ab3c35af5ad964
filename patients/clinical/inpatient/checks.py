"""Checks shared by the inpatient services: ids, instants, departments, beds, the open stay."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core.models import Bed, Department, Facility
from patients.clinical.common import locked_encounter
from patients.clinical_choices import EncounterKind, EncounterStatus
from patients.models import BedOccupancy, Encounter, Transfer

ADMIT_PERM = "patients.admit_patient"
DISCHARGE_PERM = "patients.discharge_patient"
NOTE_PERM = "patients.write_progress_note"
CLOCK_SKEW = timedelta(minutes=5)  # a time typed "now" on a slow clock is not "in the future"


def as_id(value, field: str) -> int:
    if isinstance(value, int):
        return value
    if hasattr(value, "pk"):
        return value.pk
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: [_("Giá trị không hợp lệ.")]}) from None


def constraint_name(exc: IntegrityError) -> str:
    diag = getattr(getattr(exc, "__cause__", None), "diag", None)
    return getattr(diag, "constraint_name", "") or ""


def check_moment(moment, field: str, *, not_before: datetime | None, label_before: str) -> datetime:
    """A timezone-aware instant, not in the future, not before `not_before`."""
    if moment is None:
        return timezone.now()
    if not isinstance(moment, datetime) or timezone.is_naive(moment):
        raise ValidationError({field: [_("Thời điểm không hợp lệ.")]})
    if moment > timezone.now() + CLOCK_SKEW:
        raise ValidationError({field: [_("Thời điểm không được ở tương lai.")]})
    if not_before is not None and moment < not_before:
        raise ValidationError(
            {
                field: [
                    _("Thời điểm không được trước %(what)s (%(at)s).")
                    % {"what": label_before, "at": fmt_local(not_before)}
                ]
            }
        )
    return moment


def fmt_local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M %d/%m/%Y")


def department_at(facility: Facility, department_id, field: str = "department_id") -> Department:
    dept_id = as_id(department_id, field)
    dept = Department.objects.filter(pk=dept_id, facility=facility).first()
    if dept is None:
        raise ValidationError({field: [_("Khoa không thuộc cơ sở này.")]})
    if not dept.is_active:
        raise ValidationError({field: [_("Khoa đã ngừng hoạt động.")]})
    return dept


def bed_in(department: Department, bed_id, field: str = "bed_id") -> Bed:
    bed = Bed.objects.select_related("ward").filter(pk=as_id(bed_id, field)).first()
    if bed is None or bed.ward.department_id != department.pk:
        raise ValidationError({field: [_("Giường không thuộc khoa đã chọn.")]})
    if not bed.is_active:
        raise ValidationError(
            {field: [_("Giường %(bed)s đang ngừng sử dụng.") % {"bed": bed.code}]}
        )
    return bed


def open_occupancy(encounter: Encounter) -> BedOccupancy | None:
    return (
        BedOccupancy.objects.select_for_update()
        .select_related("bed")
        .filter(encounter=encounter, ended_at__isnull=True)
        .first()
    )


def occupy(*, bed: Bed, encounter: Encounter, actor, at: datetime, field: str) -> BedOccupancy:
    """Put the patient of `encounter` in `bed` from `at`. The database decides who gets a bed
    clicked twice at once; its refusal becomes a message on `field`."""
    try:
        with transaction.atomic():
            return BedOccupancy.objects.create(
                bed=bed,
                patient_id=encounter.patient_id,
                encounter=encounter,
                started_at=at,
                created_by=actor,
            )
    except IntegrityError as exc:
        name = constraint_name(exc)
        if name == "bed_holds_one_patient":
            msg = _("Giường %(bed)s đã có người bệnh. Vui lòng chọn giường khác.") % {
                "bed": bed.code
            }
        elif name == "patient_in_one_bed":
            msg = _("Người bệnh đang nằm ở một giường khác; hãy cho rời giường đó trước.")
        else:
            raise
        raise ValidationError({field: [msg]}) from None


def locked_stay(*, actor, facility: Facility, encounter, perm: str) -> Encounter:
    """The inpatient stay, locked, at the facility, still admitted."""
    row = locked_encounter(actor=actor, facility=facility, encounter=encounter, perm=perm)
    if row.kind != EncounterKind.INPATIENT or row.status != EncounterStatus.ADMITTED:
        raise ValidationError(
            {"status": [_("Thao tác này chỉ dành cho người bệnh đang nằm viện.")]}
        )
    return row


def last_move_at(encounter: Encounter) -> datetime:
    last = Transfer.objects.filter(encounter=encounter).order_by("-moved_at").first()
    return max(
        encounter.admitted_at or encounter.started_at,
        last.moved_at if last else encounter.started_at,
    )
