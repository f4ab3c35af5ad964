"""Discharge of an inpatient stay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record
from ehealth.core.models import Facility
from patients.clinical.common import (
    check_version,
    ensure_unlocked,
    local_day,
    locked_encounter,
    move,
)
from patients.clinical.inpatient.checks import (
    CLOCK_SKEW,
    DISCHARGE_PERM,
    fmt_local,
    last_move_at,
    open_occupancy,
)
from patients.clinical.treatment_days import treatment_days, visit_type_at_discharge
from patients.clinical_choices import DischargeType, EncounterStatus, TreatmentResult
from patients.guards import has_record_at
from patients.models import Encounter
from patients.normalize import clean_text

TRANSFER_DISCHARGES = (DischargeType.TRANSFERRED_MEDICAL, DischargeType.TRANSFERRED_ON_REQUEST)

# --- discharge ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DischargeChecked:
    discharged_at: datetime
    treatment_result: str
    discharge_type: str
    treatment_summary: str
    follow_up_date: date | None
    transfer_to_code: str


def _discharge_checks(
    stay: Encounter,
    *,
    discharged_at,
    treatment_result,
    discharge_type,
    treatment_summary,
    follow_up_date,
    transfer_to_code,
) -> tuple[_DischargeChecked | None, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(discharged_at, datetime) or timezone.is_naive(discharged_at):
        errors["discharged_at"] = [_("Nhập thời điểm ra viện.")]
    elif discharged_at < (stay.admitted_at or stay.started_at):
        errors["discharged_at"] = [
            _("Thời điểm ra viện không được trước thời điểm vào viện (%(at)s).")
            % {"at": fmt_local(stay.admitted_at or stay.started_at)}
        ]
    elif discharged_at < last_move_at(stay):
        errors["discharged_at"] = [
            _("Thời điểm ra viện không được trước lần chuyển khoa/giường gần nhất (%(at)s).")
            % {"at": fmt_local(last_move_at(stay))}
        ]
    elif discharged_at > timezone.now() + CLOCK_SKEW:
        errors["discharged_at"] = [_("Thời điểm ra viện không được ở tương lai.")]
    if treatment_result not in TreatmentResult.values:
        errors["treatment_result"] = [_("Chọn kết quả điều trị.")]
    if discharge_type not in DischargeType.values:
        errors["discharge_type"] = [_("Chọn tình trạng ra viện.")]
    summary = (treatment_summary or "").strip()
    if not summary:
        errors["treatment_summary"] = [_("Cần ghi tóm tắt quá trình điều trị.")]
    code = (transfer_to_code or "").strip().upper()
    if discharge_type in TRANSFER_DISCHARGES and (len(code) != 5 or not code.isalnum()):
        errors["transfer_to_code"] = [_("Nhập mã cơ sở KCB chuyển đến (5 ký tự).")]
    if follow_up_date is not None:
        if not isinstance(follow_up_date, date) or isinstance(follow_up_date, datetime):
            errors["follow_up_date"] = [_("Ngày tái khám không hợp lệ.")]
        elif "discharged_at" not in errors and follow_up_date <= local_day(discharged_at):
            errors["follow_up_date"] = [_("Ngày tái khám phải sau ngày ra viện.")]
    if errors:
        return None, errors
    return (
        _DischargeChecked(
            discharged_at=discharged_at,
            treatment_result=treatment_result,
            discharge_type=discharge_type,
            treatment_summary=summary,
            follow_up_date=follow_up_date,
            transfer_to_code=code if discharge_type in TRANSFER_DISCHARGES else "",
        ),
        {},
    )


@transaction.atomic
def admission_discharge(
    *,
    actor,
    facility: Facility,
    encounter: Encounter | int,
    expected_version: int,
    discharged_at: datetime,
    main_code: str,
    secondary_codes: list[str] | None,
    treatment_result: str,
    discharge_type: str,
    treatment_summary: str,
    discharge_advice: str = "",
    follow_up_date: date | None = None,
    transfer_to_code: str = "",
    transfer_paper_number: str = "",
    transfer_reason: str = "",
    treatment_method: str = "",
) -> Encounter:
    """Discharge an inpatient: discharge diagnoses (phase discharge), treatment result
    (KET_QUA_DTRI) and discharge type (MA_LOAI_RV), summary and follow-up; treatment days
    (SO_NGAY_DTRI) computed by `treatment_days`; the bed freed at the discharge instant; the stay
    locked. A stay under 4 hours is claimed as visit type 09."""
    from patients.clinical.examination import diagnosis_set

    stay = locked_encounter(
        actor=actor, facility=facility, encounter=encounter, perm=DISCHARGE_PERM, allow_locked=True
    )
    ensure_unlocked(stay)
    check_version(stay, expected_version)
    if not stay.can_move_to(EncounterStatus.DISCHARGED):
        move(stay, EncounterStatus.DISCHARGED)  # raises the Vietnamese ValidationError
    checked, errors = _discharge_checks(
        stay,
        discharged_at=discharged_at,
        treatment_result=treatment_result,
        discharge_type=discharge_type,
        treatment_summary=treatment_summary,
        follow_up_date=follow_up_date,
        transfer_to_code=transfer_to_code,
    )
    try:
        with transaction.atomic():
            diagnosis_set(
                actor=actor,
                facility=facility,
                encounter=stay,
                main_code=main_code,
                secondary_codes=list(secondary_codes or []),
                phase="discharge",
                expected_version=stay.version,
            )
            if errors:
                raise ValidationError(errors)
    except ValidationError as exc:
        found = exc.message_dict if hasattr(exc, "error_dict") else {"main_code": exc.messages}
        raise ValidationError({**found, **errors}) from None
    if checked is None:  # unreachable: errors were raised above
        raise ValidationError(errors)

    stay.refresh_from_db()
    admitted = stay.admitted_at or stay.started_at
    stay.visit_type = visit_type_at_discharge(
        visit_type=stay.visit_type, admitted_at=admitted, ended_at=checked.discharged_at
    )
    stay.treatment_days = treatment_days(
        visit_type=stay.visit_type, started_at=stay.started_at, ended_at=checked.discharged_at
    )
    move(stay, EncounterStatus.DISCHARGED)
    stay.ended_at = checked.discharged_at
    stay.treatment_result = checked.treatment_result
    stay.discharge_type = checked.discharge_type
    stay.treatment_summary = checked.treatment_summary
    stay.discharge_advice = (discharge_advice or "").strip()
    stay.follow_up_date = checked.follow_up_date
    stay.transfer_to_code = checked.transfer_to_code
    moving = bool(checked.transfer_to_code)
    stay.transfer_reason = (transfer_reason or "").strip() if moving else ""
    stay.transfer_paper_number = clean_text(transfer_paper_number or "")[:50] if moving else ""
    if treatment_method:
        stay.treatment_method = treatment_method.strip()
    stay.closed_by = actor
    stay.version += 1
    fields = [
        "status",
        "visit_type",
        "ended_at",
        "treatment_days",
        "treatment_result",
        "discharge_type",
        "treatment_summary",
        "discharge_advice",
        "follow_up_date",
        "transfer_to_code",
        "transfer_reason",
        "transfer_paper_number",
        "treatment_method",
        "closed_by",
        "version",
    ]
    stay.save(update_fields=[*fields, "updated_at"])

    occupancy = open_occupancy(stay)
    if occupancy is not None:
        occupancy.ended_at = checked.discharged_at
        occupancy.save(update_fields=["ended_at"])
    audit_record(
        actor=actor,
        action="encounter.discharge",
        target=stay,
        patient_id=stay.patient_id,
        detail={
            "facility_id": facility.pk,
            "fields": fields,
            "version": stay.version,
            "visit_type": stay.visit_type,
            "treatment_days": stay.treatment_days,
            "treatment_result": stay.treatment_result,
            "discharge_type": stay.discharge_type,
            "bed_id": occupancy.bed_id if occupancy else None,
            "transfer_to_code": stay.transfer_to_code,
        },
    )
    _share_with_destination(actor, facility, stay)
    return stay


def _share_with_destination(actor, facility: Facility, stay: Encounter) -> None:
    """A patient transferred to a facility on the platform is shared with it (audited there)."""
    if not stay.transfer_to_code:
        return
    from ehealth.core import permissions
    from patients.services import patient_share_with_facility

    target = Facility.objects.filter(code=stay.transfer_to_code, is_active=True).first()
    if (
        target is None
        or target.pk == facility.pk
        or not permissions.has_perm_at(actor, "patients.share_patient", facility.pk)
        or not has_record_at(stay.patient, facility)
    ):
        return
    patient_share_with_facility(
        actor=actor,
        facility=facility,
        patient=stay.patient,
        target_facility=target,
        reason=_("Chuyển viện (đợt điều trị #%(id)s)") % {"id": stay.pk},
    )
