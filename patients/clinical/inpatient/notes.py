"""Daily work of a stay: progress notes, consultations, daily orders, nursing observations."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record
from ehealth.core.exceptions import ConcurrentEditError
from ehealth.core.models import Facility
from patients.clinical.common import local_day, local_today, locked_encounter, stale_message
from patients.clinical.inpatient.checks import NOTE_PERM, as_id, check_moment, locked_stay
from patients.models import Consultation, Encounter, ProgressNote
from patients.normalize import clean_text

# --- progress notes and consultations ----------------------------------------------------------


@transaction.atomic
def progress_note_add(
    *,
    actor,
    facility: Facility,
    encounter: Encounter | int,
    clinical_course: str,
    disease_stage: str = "",
    orders_summary: str = "",
    noted_at: datetime | None = None,
) -> ProgressNote:
    """A daily progress note (diễn biến lâm sàng, XML5 DIEN_BIEN_LS) of an admitted patient."""
    stay = locked_stay(actor=actor, facility=facility, encounter=encounter, perm=NOTE_PERM)
    course = (clinical_course or "").strip()
    errors: dict[str, list[str]] = {}
    if not course:
        errors["clinical_course"] = [_("Cần ghi diễn biến lâm sàng.")]
    try:
        at = check_moment(
            noted_at, "noted_at", not_before=stay.admitted_at, label_before=_("thời điểm vào viện")
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    note = ProgressNote.objects.create(
        encounter=stay,
        noted_at=at,
        author=actor,
        clinical_course=course,
        disease_stage=clean_text(disease_stage or "")[:500],
        orders_summary=(orders_summary or "").strip(),
    )
    audit_record(
        actor=actor,
        action="progress_note.add",
        target=note,
        patient_id=stay.patient_id,
        detail={"facility_id": facility.pk, "encounter_id": stay.pk, "version": note.version},
    )
    return note


@transaction.atomic
def progress_note_update(
    *,
    actor,
    facility: Facility,
    note: ProgressNote | int,
    expected_version: int,
    clinical_course: str,
    disease_stage: str | None = None,
    orders_summary: str | None = None,
) -> ProgressNote:
    """Edit a progress note. A stale `expected_version` (someone else saved it since) is refused
    with ConcurrentEditError and nothing is overwritten."""
    note_id = as_id(note, "note_id")
    encounter_id = (
        ProgressNote.objects.filter(pk=note_id, voided_at__isnull=True)
        .values_list("encounter_id", flat=True)
        .first()
    )
    if encounter_id is None:
        raise Http404
    stay = locked_encounter(actor=actor, facility=facility, encounter=encounter_id, perm=NOTE_PERM)
    row = ProgressNote.objects.select_for_update().get(pk=note_id)
    try:
        stale = int(expected_version) != row.version
    except (TypeError, ValueError):
        stale = True
    if stale:
        raise ConcurrentEditError(stale_message())
    course = (clinical_course or "").strip()
    if not course:
        raise ValidationError({"clinical_course": [_("Cần ghi diễn biến lâm sàng.")]})
    changed = []
    if course != row.clinical_course:
        row.clinical_course = course
        changed.append("clinical_course")
    if disease_stage is not None and clean_text(disease_stage)[:500] != row.disease_stage:
        row.disease_stage = clean_text(disease_stage)[:500]
        changed.append("disease_stage")
    if orders_summary is not None and orders_summary.strip() != row.orders_summary:
        row.orders_summary = orders_summary.strip()
        changed.append("orders_summary")
    if not changed:
        return row
    row.version += 1
    row.save(update_fields=[*changed, "version", "updated_at"])
    audit_record(
        actor=actor,
        action="progress_note.update",
        target=row,
        patient_id=stay.patient_id,
        detail={
            "facility_id": facility.pk,
            "encounter_id": stay.pk,
            "fields": changed,
            "version": row.version,
        },
    )
    return row


@transaction.atomic
def consultation_add(
    *,
    actor,
    facility: Facility,
    encounter: Encounter | int,
    participants: str,
    conclusion: str,
    reason: str = "",
    held_at: datetime | None = None,
) -> Consultation:
    """Record a consultation (hội chẩn): who took part, why, what they concluded."""
    stay = locked_stay(actor=actor, facility=facility, encounter=encounter, perm=NOTE_PERM)
    errors: dict[str, list[str]] = {}
    participants = (participants or "").strip()
    conclusion = (conclusion or "").strip()
    if not participants:
        errors["participants"] = [_("Cần ghi thành phần tham gia hội chẩn.")]
    if not conclusion:
        errors["conclusion"] = [_("Cần ghi kết luận hội chẩn.")]
    try:
        at = check_moment(
            held_at, "held_at", not_before=stay.admitted_at, label_before=_("thời điểm vào viện")
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    consultation = Consultation.objects.create(
        encounter=stay,
        held_at=at,
        requested_by=actor,
        participants=participants,
        reason=(reason or "").strip(),
        conclusion=conclusion,
    )
    audit_record(
        actor=actor,
        action="consultation.add",
        target=consultation,
        patient_id=stay.patient_id,
        detail={"facility_id": facility.pk, "encounter_id": stay.pk},
    )
    return consultation


# --- daily orders and nursing observations (through the examination services) ------------------


def _check_for_day(stay: Encounter, for_day) -> date:
    if not isinstance(for_day, date) or isinstance(for_day, datetime):
        raise ValidationError({"for_day": [_("Chọn ngày của y lệnh.")]})
    first = local_day(stay.admitted_at or stay.started_at)
    if for_day < first:
        raise ValidationError({"for_day": [_("Ngày y lệnh không được trước ngày vào viện.")]})
    if for_day > local_today() + timedelta(days=1):
        raise ValidationError({"for_day": [_("Chỉ ra y lệnh đến hết ngày mai.")]})
    return for_day


@transaction.atomic
def daily_order_create(
    *,
    actor,
    facility: Facility,
    encounter: Encounter | int,
    service_id: int,
    for_day: date,
    quantity=1,
    performing_department_id: int | None = None,
    clinical_note: str = "",
):
    """A service ordered for one day of the stay (y lệnh hằng ngày), via `order_create`."""
    from patients.clinical.examination import order_create

    stay = locked_stay(actor=actor, facility=facility, encounter=encounter, perm=NOTE_PERM)
    _check_for_day(stay, for_day)
    return order_create(
        actor=actor,
        facility=facility,
        encounter=stay,
        service_id=service_id,
        quantity=quantity,
        performing_department_id=performing_department_id,
        clinical_note=clinical_note,
        for_day=for_day,
    )


@transaction.atomic
def daily_drug_add(*, actor, facility: Facility, encounter: Encounter | int, data, for_day: date):
    """A drug ordered for one day of the stay, via `prescription_add_item` (the day's
    prescription is created when it is the first drug of that day)."""
    from patients.clinical.examination import prescription_add_item

    stay = locked_stay(actor=actor, facility=facility, encounter=encounter, perm=NOTE_PERM)
    _check_for_day(stay, for_day)
    return prescription_add_item(
        actor=actor, facility=facility, encounter=stay, data=data, for_day=for_day
    )


@transaction.atomic
def nursing_observation_record(*, actor, facility: Facility, encounter: Encounter | int, data):
    """A nursing observation (vitals charted over the stay), via `vitals_record`."""
    from patients.clinical.examination import vitals_record

    stay = locked_stay(
        actor=actor, facility=facility, encounter=encounter, perm="patients.record_vitals"
    )
    return vitals_record(actor=actor, facility=facility, encounter=stay, data=data)
