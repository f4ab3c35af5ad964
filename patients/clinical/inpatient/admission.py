"""Admission (from an outpatient visit, emergency, transfer in), beds and transfers."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record
from ehealth.core.models import Bed, Department, Facility
from patients.clinical.common import require_at_facility, require_perm
from patients.clinical.inpatient.checks import (
    ADMIT_PERM,
    as_id,
    bed_in,
    check_moment,
    constraint_name,
    department_at,
    last_move_at,
    locked_stay,
    occupy,
    open_occupancy,
)
from patients.clinical_choices import (
    ArrivalMode,
    Conclusion,
    EncounterKind,
    EncounterStatus,
    VisitType,
)
from patients.identifiers import validate_bhyt_card
from patients.models import BedOccupancy, Encounter, Patient, Transfer
from patients.normalize import clean_text

SOURCE_OUTPATIENT = "outpatient"
SOURCE_EMERGENCY = "emergency"
SOURCE_TRANSFER_IN = "transfer_in"
SOURCES = (SOURCE_OUTPATIENT, SOURCE_EMERGENCY, SOURCE_TRANSFER_IN)
ADMISSION_FIELDS = {
    "main_code": "admission_main_code",
    "secondary_codes": "admission_secondary_codes",
}

# --- admission ---------------------------------------------------------------------------------


def _visible_patient(actor, patient) -> Patient:
    from patients.selectors import patient_visible_qs

    pid = as_id(patient, "patient_id")
    if not patient_visible_qs(user=actor).filter(pk=pid).exists():
        raise Http404
    return Patient.objects.select_for_update(no_key=True).get(pk=pid)


def _parent_visit(facility: Facility, patient: Patient, from_encounter) -> Encounter:
    parent_id = as_id(from_encounter, "from_encounter_id")
    parent = Encounter.objects.select_for_update(of=("self",)).filter(pk=parent_id).first()
    if parent is None or parent.voided_at is not None:
        raise Http404
    require_at_facility(parent, facility)
    if parent.patient_id != patient.pk:
        raise ValidationError(
            {"from_encounter_id": [_("Lượt khám không phải của người bệnh này.")]}
        )
    if (
        parent.kind != EncounterKind.OUTPATIENT
        or parent.status != EncounterStatus.CONCLUDED
        or parent.conclusion != Conclusion.ADMIT
    ):
        raise ValidationError(
            {"from_encounter_id": [_("Lượt khám chưa được kết luận “Nhập viện”.")]}
        )
    taken = (
        Encounter.objects.filter(parent=parent, voided_at__isnull=True)
        .exclude(status=EncounterStatus.CANCELLED)
        .values_list("pk", flat=True)
        .first()
    )
    if taken is not None:
        raise ValidationError(
            {
                "from_encounter_id": [
                    _("Lượt khám này đã được nhập viện (đợt điều trị #%(id)s).") % {"id": taken}
                ]
            }
        )
    return parent


@transaction.atomic
def admission_create(
    *,
    actor,
    facility: Facility,
    patient: Patient | int,
    department_id: int,
    source: str,
    bed_id: int | None = None,
    from_encounter: Encounter | int | None = None,
    referral_from_code: str = "",
    referral_paper_number: str = "",
    admission_main_code: str = "",
    admission_secondary_codes: list[str] | None = None,
    reason: str = "",
    insurance_card_code: str = "",
    admitted_at: datetime | None = None,
) -> Encounter:
    """Admit a patient (from an outpatient visit concluded 'admit', from emergency, or by transfer
    in) to a department and optionally a bed: an inpatient encounter, visit type 03, ADMITTED.

    `admitted_at` defaults to now (a late entry may give the earlier instant). Admission
    diagnoses (phase admission) go through `diagnosis_set`, which needs the doctor's permission.
    """
    require_perm(actor, ADMIT_PERM, facility.pk)
    errors: dict[str, list[str]] = {}
    if source not in SOURCES:
        raise ValidationError({"source": [_("Nguồn nhập viện không hợp lệ.")]})
    patient = _visible_patient(actor, patient)
    department = department_at(facility, department_id)
    bed = bed_in(department, bed_id) if bed_id not in (None, "") else None

    parent = None
    if from_encounter not in (None, ""):
        if source == SOURCE_TRANSFER_IN:
            errors["from_encounter_id"] = [_("Người bệnh chuyển đến không có lượt khám tại đây.")]
        else:
            parent = _parent_visit(facility, patient, from_encounter)
    elif source == SOURCE_OUTPATIENT:
        errors["from_encounter_id"] = [_("Chọn lượt khám đã kết luận nhập viện.")]

    referral_from_code = (referral_from_code or "").strip().upper()
    referral_paper_number = clean_text(referral_paper_number or "")
    if source == SOURCE_TRANSFER_IN:
        if len(referral_from_code) != 5 or not referral_from_code.isalnum():
            errors["referral_from_code"] = [_("Nhập mã cơ sở KCB chuyển đến (5 ký tự).")]
        elif referral_from_code == facility.code:
            errors["referral_from_code"] = [_("Cơ sở chuyển đến không thể là chính cơ sở này.")]
        if not referral_paper_number:
            errors["referral_paper_number"] = [_("Cần số giấy chuyển tuyến.")]

    reason = clean_text(reason or "")
    if not reason:
        errors["reason"] = [_("Cần ghi lý do vào viện.")]
    card = ""
    if insurance_card_code:
        try:
            card = validate_bhyt_card(insurance_card_code)
        except ValidationError as exc:
            errors["insurance_card_code"] = exc.messages
    try:
        admitted_at = check_moment(
            admitted_at,
            "admitted_at",
            not_before=parent.started_at if parent else None,
            label_before=_("thời điểm vào khám"),
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)

    already = (
        Encounter.objects.filter(
            patient=patient,
            facility=facility,
            kind=EncounterKind.INPATIENT,
            status=EncounterStatus.ADMITTED,
            voided_at__isnull=True,
        )
        .values_list("pk", flat=True)
        .first()
    )
    if already is not None:
        raise ValidationError(
            {
                "patient_id": [
                    _("Người bệnh đang điều trị nội trú tại cơ sở (đợt #%(id)s).") % {"id": already}
                ]
            }
        )

    arrival = {
        SOURCE_EMERGENCY: ArrivalMode.EMERGENCY,
        SOURCE_TRANSFER_IN: ArrivalMode.TRANSFER_IN,
        SOURCE_OUTPATIENT: parent.arrival_mode if parent else ArrivalMode.SELF_REFERRED,
    }[source]
    if parent is not None and source == SOURCE_EMERGENCY:
        arrival = ArrivalMode.EMERGENCY
    stay = Encounter(
        patient=patient,
        facility=facility,
        department=department,
        kind=EncounterKind.INPATIENT,
        visit_type=VisitType.INPATIENT,
        status=EncounterStatus.ADMITTED,
        parent=parent,
        arrival_mode=arrival,
        reason=reason,
        started_at=admitted_at,
        admitted_at=admitted_at,
        attending=actor,
        created_by=actor,
    )
    if parent is not None:
        # The card and route as checked at the outpatient visit carry over to the stay.
        for name in (
            "referral_paper_number",
            "referral_from_code",
            "insurance_card_code",
            "insurance_card_valid_from",
            "insurance_card_valid_to",
            "registered_facility_code",
            "card_check_status",
        ):
            setattr(stay, name, getattr(parent, name))
    if referral_from_code:
        stay.referral_from_code = referral_from_code
    if referral_paper_number:
        stay.referral_paper_number = referral_paper_number
    if card and card != stay.insurance_card_code:
        stay.insurance_card_code, stay.card_check_status = card, "unchecked"
    try:
        with transaction.atomic():
            stay.save()
    except IntegrityError as exc:
        # The patient row lock above makes this rare; the constraint is the last word.
        if constraint_name(exc) != "one_open_stay_per_patient":
            raise
        raise ValidationError(
            {"patient_id": [_("Người bệnh đang điều trị nội trú tại cơ sở.")]}
        ) from None

    occupancy = (
        occupy(bed=bed, encounter=stay, actor=actor, at=admitted_at, field="bed_id")
        if bed
        else None
    )
    audit_record(
        actor=actor,
        action="admission.create",
        target=stay,
        patient_id=patient.pk,
        detail={
            "facility_id": facility.pk,
            "source": source,
            "department_id": department.pk,
            "bed_id": bed.pk if bed else None,
            "occupancy_id": occupancy.pk if occupancy else None,
            "from_encounter_id": parent.pk if parent else None,
            "referral_from_code": stay.referral_from_code,
        },
    )
    if admission_main_code:
        from patients.clinical.examination import diagnosis_set

        try:
            diagnosis_set(
                actor=actor,
                facility=facility,
                encounter=stay,
                main_code=admission_main_code,
                secondary_codes=list(admission_secondary_codes or []),
                phase="admission",
                expected_version=stay.version,
            )
        except ValidationError as exc:
            # The admission form names its diagnosis fields admission_*.
            found = exc.message_dict if hasattr(exc, "error_dict") else {"main_code": exc.messages}
            raise ValidationError(
                {ADMISSION_FIELDS.get(k, k): v for k, v in found.items()}
            ) from None
        stay.refresh_from_db()
    return stay


# --- beds and transfers ------------------------------------------------------------------------


def _move(
    *,
    actor,
    stay: Encounter,
    to_department: Department,
    to_bed: Bed | None,
    reason: str,
    at: datetime,
    bed_field: str,
) -> Transfer:
    """End the open occupancy at `at`, open the new one at the same instant, keep a Transfer row."""
    old = open_occupancy(stay)
    if old is not None:
        old.ended_at = at
        old.save(update_fields=["ended_at"])
    if to_bed is not None:
        occupy(bed=to_bed, encounter=stay, actor=actor, at=at, field=bed_field)
    transfer = Transfer.objects.create(
        encounter=stay,
        from_department_id=stay.department_id,
        to_department=to_department,
        from_bed=old.bed if old else None,
        to_bed=to_bed,
        moved_at=at,
        moved_by=actor,
        reason=reason,
    )
    if stay.department_id != to_department.pk:
        stay.department = to_department
        stay.save(update_fields=["department", "updated_at"])
    return transfer


@transaction.atomic
def transfer_create(
    *,
    actor,
    facility: Facility,
    encounter: Encounter | int,
    to_department_id: int,
    reason: str,
    to_bed_id: int | None = None,
    moved_at: datetime | None = None,
) -> Transfer:
    """Move an inpatient to another department and/or bed: who, when, why are kept; the old
    bed is freed at the instant the new one is taken."""
    stay = locked_stay(actor=actor, facility=facility, encounter=encounter, perm=ADMIT_PERM)
    to_department = department_at(facility, to_department_id, "to_department_id")
    to_bed = bed_in(to_department, to_bed_id, "to_bed_id") if to_bed_id not in (None, "") else None
    errors: dict[str, list[str]] = {}
    reason = clean_text(reason or "")
    if not reason:
        errors["reason"] = [_("Cần ghi lý do chuyển.")]
    current = open_occupancy(stay)
    if to_department.pk == stay.department_id and (
        to_bed is None or (current is not None and current.bed_id == to_bed.pk)
    ):
        errors["to_bed_id"] = [_("Người bệnh đã ở khoa/giường này; chọn khoa hoặc giường khác.")]
    try:
        at = check_moment(
            moved_at,
            "moved_at",
            not_before=last_move_at(stay),
            label_before=_("lần nhập/chuyển gần nhất"),
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    from_department_id = stay.department_id
    transfer = _move(
        actor=actor,
        stay=stay,
        to_department=to_department,
        to_bed=to_bed,
        reason=reason,
        at=at,
        bed_field="to_bed_id",
    )
    audit_record(
        actor=actor,
        action="encounter.transfer",
        target=stay,
        patient_id=stay.patient_id,
        detail={
            "facility_id": facility.pk,
            "transfer_id": transfer.pk,
            "from_department_id": from_department_id,
            "to_department_id": to_department.pk,
            "from_bed_id": transfer.from_bed_id,
            "to_bed_id": transfer.to_bed_id,
        },
    )
    return transfer


@transaction.atomic
def bed_assign(
    *,
    actor,
    facility: Facility,
    encounter: Encounter | int,
    bed_id: int,
    reason: str = "",
    assigned_at: datetime | None = None,
) -> BedOccupancy:
    """Give an admitted patient a bed of their current department. A patient already in a bed
    is moved (a Transfer row keeps the history; a reason is then required)."""
    stay = locked_stay(actor=actor, facility=facility, encounter=encounter, perm=ADMIT_PERM)
    if stay.department_id is None:
        raise ValidationError({"bed_id": [_("Người bệnh chưa được nhận vào khoa.")]})
    department = Department.objects.get(pk=stay.department_id)
    bed = bed_in(department, bed_id)
    current = open_occupancy(stay)
    reason = clean_text(reason or "")
    if current is not None and current.bed_id == bed.pk:
        raise ValidationError({"bed_id": [_("Người bệnh đang nằm ở giường này.")]})
    if current is not None and not reason:
        raise ValidationError({"reason": [_("Cần ghi lý do chuyển giường.")]})
    at = check_moment(
        assigned_at,
        "assigned_at",
        not_before=last_move_at(stay),
        label_before=_("lần nhập/chuyển gần nhất"),
    )
    if current is None:
        occupancy = occupy(bed=bed, encounter=stay, actor=actor, at=at, field="bed_id")
        transfer_id = None
    else:
        transfer = _move(
            actor=actor,
            stay=stay,
            to_department=department,
            to_bed=bed,
            reason=reason,
            at=at,
            bed_field="bed_id",
        )
        transfer_id = transfer.pk
        occupancy = BedOccupancy.objects.get(encounter=stay, ended_at__isnull=True)
    audit_record(
        actor=actor,
        action="bed.assign",
        target=stay,
        patient_id=stay.patient_id,
        detail={
            "facility_id": facility.pk,
            "bed_id": bed.pk,
            "occupancy_id": occupancy.pk,
            "from_bed_id": current.bed_id if current else None,
            "transfer_id": transfer_id,
        },
    )
    return occupancy
