"""The doctor's examination: start, section saves, diagnoses, conclusion, addenda. Vitals live in
`patients.clinical.vitals`, allergies in `.allergies`, orders and prescriptions in `.prescribing`;
all are re-exported here (the import path of the contract).

Every write checks the permission at the acting facility, locks the encounter row, refuses a
locked (concluded) visit with `EncounterLocked` and a stale version with `ConcurrentEditError`
(section saves merge when another person changed a different section; see `common`).
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core import permissions
from ehealth.core.audit import audit_record
from ehealth.core.models import Facility
from patients.clinical.common import (
    check_version,
    icd_in_force,
    local_day,
    local_today,
    locked_encounter,
    move,
)
from patients.clinical.prescribing import (  # noqa: F401 - the contract's import path
    PrescriptionItemInput,
    allergy_record,
    allergy_void,
    encounter_await_results,
    encounter_resume_examination,
    order_cancel,
    order_create,
    prescription_add_item,
    prescription_issue,
    prescription_item_void,
)
from patients.clinical.vitals import VitalsInput, vitals_record, vitals_validate  # noqa: F401
from patients.clinical_choices import (
    MAX_SECONDARY_DIAGNOSES,
    Conclusion,
    DiagnosisPhase,
    EncounterStatus,
    PrescriptionStatus,
    QueueStatus,
)
from patients.models import Addendum, Diagnosis, Encounter, Prescription, QueueTicket
from patients.normalize import clean_text

EXAMINE_PERM = "patients.examine_encounter"
VITALS_PERM = "patients.record_vitals"
ADDENDUM_PERM = "patients.add_addendum"
# Who may set the diagnoses of each phase: the examining doctor; at admission also whoever
# admits; at discharge whoever discharges.
DIAGNOSIS_PERMS = {
    DiagnosisPhase.ENCOUNTER: (EXAMINE_PERM,),
    DiagnosisPhase.ADMISSION: (EXAMINE_PERM, "patients.admit_patient"),
    DiagnosisPhase.DISCHARGE: (EXAMINE_PERM, "patients.discharge_patient"),
}
_FACILITY_CODE_RE = re.compile(r"^[0-9A-Z]{5}$")


def _audit(actor, action: str, encounter: Encounter, facility: Facility, **detail) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=encounter,
        patient_id=encounter.patient_id,
        detail={"facility_id": facility.pk, "encounter_id": encounter.pk, **detail},
    )


# --- State and notes -------------------------------------------------------------------------


@transaction.atomic
def encounter_start_examination(
    *, actor, facility: Facility, encounter: Encounter, expected_version: int
) -> Encounter:
    """Take the patient from the queue: ARRIVED -> IN_EXAMINATION, the doctor becomes attending."""
    encounter = locked_encounter(
        actor=actor, facility=facility, encounter=encounter, perm=EXAMINE_PERM
    )
    check_version(encounter, expected_version)
    move(encounter, EncounterStatus.IN_EXAMINATION)
    encounter.attending = actor
    encounter.version += 1
    encounter.save(update_fields=["status", "attending", "version", "updated_at"])
    QueueTicket.objects.filter(encounter=encounter).update(
        status=QueueStatus.CALLED, called_at=timezone.now()
    )
    _audit(
        actor,
        "encounter.start_examination",
        encounter,
        facility,
        fields=["status", "attending"],
        version=encounter.version,
    )
    return encounter


@transaction.atomic
def encounter_update_notes(
    *,
    actor,
    facility: Facility,
    encounter: Encounter,
    expected_version: int,
    reason: str | None = None,
    history: str | None = None,
    examination_findings: str | None = None,
) -> Encounter:
    """Save one section of the visit form (None = not part of this save).

    A stale version is accepted only when nobody changed these same fields since it was loaded.
    """
    sent = {"reason": reason, "history": history, "examination_findings": examination_findings}
    given = {
        k: clean_text(v) if k == "reason" else v.strip() for k, v in sent.items() if v is not None
    }
    encounter = locked_encounter(
        actor=actor, facility=facility, encounter=encounter, perm=EXAMINE_PERM
    )
    check_version(encounter, expected_version, fields=set(given))
    changed = sorted(k for k, v in given.items() if getattr(encounter, k) != v)
    if not changed:
        return encounter
    for name in changed:
        setattr(encounter, name, given[name])
    encounter.version += 1
    encounter.last_reviewed_at = timezone.now()  # the doctor writing the visit has seen it
    encounter.save(update_fields=[*changed, "version", "updated_at", "last_reviewed_at"])
    _audit(
        actor,
        "encounter.update_notes",
        encounter,
        facility,
        fields=changed,
        version=encounter.version,
    )
    return encounter


# --- Diagnoses -------------------------------------------------------------------------------


def normalize_icd(code: str) -> str:
    """'j069' -> 'J06.9' (the dot is optional when typing)."""
    code = re.sub(r"\s+", "", code or "").upper()
    if re.fullmatch(r"[A-Z]\d\d[0-9A-Z]+", code):
        code = f"{code[:3]}.{code[3:]}"
    return code


def _icd_error(code: str, on) -> str | None:
    from ehealth.core.models import IcdCode

    icd = icd_in_force(code, on)
    if icd is None:
        if IcdCode.objects.filter(code=code).exists():
            return _("Mã ICD-10 %(code)s không còn hiệu lực vào ngày %(day)s.") % {
                "code": code,
                "day": on.strftime("%d/%m/%Y"),
            }
        return _("Mã ICD-10 %(code)s không có trong danh mục.") % {"code": code}
    if not icd.billable:
        return _("Mã ICD-10 %(code)s cần ghi chi tiết hơn (chọn mã con).") % {"code": code}
    return None


def diagnoses_validate(*, main_code: str, secondary_codes: list[str], on) -> list:
    """Check the codes against the catalog in force on `on`; returns [(code, icd), ...] with
    the main code first. Max 12 secondary, no code twice."""
    errors: dict[str, list[str]] = {}
    main = normalize_icd(main_code)
    secondary = [normalize_icd(c) for c in (secondary_codes or []) if (c or "").strip()]
    if not main:
        errors["main_code"] = [_("Cần nhập mã bệnh chính (ICD-10).")]
    elif message := _icd_error(main, on):
        errors["main_code"] = [message]
    if len(secondary) > MAX_SECONDARY_DIAGNOSES:
        errors.setdefault("secondary_codes", []).append(
            _("Tối đa %(n)d bệnh kèm theo.") % {"n": MAX_SECONDARY_DIAGNOSES}
        )
    seen = {main}
    for code in secondary:
        if code in seen:
            errors.setdefault("secondary_codes", []).append(
                _("Mã %(code)s bị nhập trùng.") % {"code": code}
            )
        elif message := _icd_error(code, on):
            errors.setdefault("secondary_codes", []).append(message)
        seen.add(code)
    if errors:
        raise ValidationError(errors)
    return [(code, icd_in_force(code, on)) for code in [main, *secondary]]


def diagnoses_write(
    *, actor, encounter: Encounter, main_code: str, secondary_codes: list[str], phase: str
) -> list[Diagnosis]:
    """Replace the active diagnoses of a phase (the old set voided, kept). No permission or
    version check: for use inside a service that did them (e.g. discharge)."""
    if phase not in DiagnosisPhase.values:
        raise ValidationError({"phase": [_("Giai đoạn chẩn đoán không hợp lệ.")]})
    codes = diagnoses_validate(
        main_code=main_code, secondary_codes=secondary_codes, on=local_day(encounter.started_at)
    )
    now = timezone.now()
    Diagnosis.objects.filter(encounter=encounter, phase=phase, voided_at__isnull=True).update(
        voided_at=now, voided_by=actor, void_reason="Thay bằng bộ chẩn đoán mới"
    )
    return Diagnosis.objects.bulk_create(
        Diagnosis(
            encounter=encounter,
            phase=phase,
            icd_code=code,
            text=icd.display_name[:500],
            rank=rank,
            recorded_by=actor,
            recorded_at=now,
        )
        for rank, (code, icd) in enumerate(codes)
    )


@transaction.atomic
def diagnosis_set(
    *,
    actor,
    facility: Facility,
    encounter: Encounter,
    main_code: str,
    secondary_codes: list[str],
    phase: str = DiagnosisPhase.ENCOUNTER,
    expected_version: int,
) -> list[Diagnosis]:
    """Set the main and secondary ICD-10 diagnoses (in force on the visit date, billable)."""
    perm = next(
        (
            p
            for p in DIAGNOSIS_PERMS.get(phase, ())
            if permissions.has_perm_at(actor, p, facility.pk)
        ),
        EXAMINE_PERM,
    )
    encounter = locked_encounter(actor=actor, facility=facility, encounter=encounter, perm=perm)
    check_version(encounter, expected_version, fields={f"diagnoses:{phase}"})
    rows = diagnoses_write(
        actor=actor,
        encounter=encounter,
        main_code=main_code,
        secondary_codes=secondary_codes,
        phase=phase,
    )
    encounter.version += 1
    encounter.save(update_fields=["version", "updated_at"])
    _audit(
        actor,
        "diagnosis.set",
        encounter,
        facility,
        codes=[d.icd_code for d in rows],
        phase=phase,
        fields=[f"diagnoses:{phase}"],
        version=encounter.version,
    )
    return rows


# --- Conclusion and addenda ------------------------------------------------------------------


def _conclusion_errors(encounter, conclusion, follow_up_date, transfer_to_code, reason, facility):
    errors: dict[str, list[str]] = {}
    if conclusion not in Conclusion.values:
        errors["conclusion"] = [
            _("Chọn hướng xử trí: cho về, hẹn tái khám, nhập viện hay chuyển viện.")
        ]
    if not Diagnosis.objects.filter(
        encounter=encounter, phase=DiagnosisPhase.ENCOUNTER, rank=0, voided_at__isnull=True
    ).exists():
        errors["main_code"] = [_("Cần có chẩn đoán bệnh chính trước khi kết thúc khám.")]
    if conclusion == Conclusion.FOLLOW_UP and (
        follow_up_date is None or follow_up_date <= local_today()
    ):
        errors["follow_up_date"] = [_("Ngày tái khám phải sau hôm nay.")]
    if conclusion == Conclusion.TRANSFER:
        if not _FACILITY_CODE_RE.match(transfer_to_code):
            errors["transfer_to_code"] = [_("Cần mã cơ sở KCB nơi chuyển đến (5 ký tự).")]
        elif transfer_to_code == facility.code:
            errors["transfer_to_code"] = [_("Không thể chuyển đến chính cơ sở này.")]
        if not reason:
            errors["transfer_reason"] = [_("Cần ghi lý do chuyển viện.")]
    return errors


@transaction.atomic
def encounter_conclude(
    *,
    actor,
    facility: Facility,
    encounter: Encounter,
    expected_version: int,
    conclusion: str,
    conclusion_note: str = "",
    follow_up_date=None,
    transfer_to_code: str = "",
    transfer_paper_number: str = "",
    transfer_reason: str = "",
) -> Encounter:
    """End the visit: needs a main diagnosis; follow-up needs a future date; transfer needs the
    destination code and a reason (the paper number is issued when not typed). Sets NGAY_RA,
    treatment days 0 (MA_LOAI_KCB 01), issues the drafted prescription and locks the visit.
    A transfer shares the chart with the destination when it is on the platform (audited)."""
    from ehealth.core.models import Facility as FacilityModel
    from patients.services import patient_share_with_facility

    encounter = locked_encounter(
        actor=actor, facility=facility, encounter=encounter, perm=EXAMINE_PERM
    )
    check_version(encounter, expected_version)
    transfer_to_code = clean_text(transfer_to_code).upper()
    reason = clean_text(transfer_reason)
    errors = _conclusion_errors(
        encounter, conclusion, follow_up_date, transfer_to_code, reason, facility
    )
    if errors:
        raise ValidationError(errors)
    move(encounter, EncounterStatus.CONCLUDED)
    now = timezone.now()
    is_transfer = conclusion == Conclusion.TRANSFER
    encounter.conclusion = conclusion
    encounter.conclusion_note = (conclusion_note or "").strip()
    encounter.follow_up_date = follow_up_date if conclusion == Conclusion.FOLLOW_UP else None
    encounter.transfer_to_code = transfer_to_code if is_transfer else ""
    encounter.transfer_reason = reason if is_transfer else ""
    encounter.transfer_paper_number = (
        (clean_text(transfer_paper_number) or f"{facility.code}-{now:%Y}-{encounter.pk}")
        if is_transfer
        else ""
    )
    encounter.ended_at = max(now, encounter.started_at)
    encounter.treatment_days = 0
    encounter.closed_by = actor
    encounter.version += 1
    encounter.save()
    QueueTicket.objects.filter(encounter=encounter).update(status=QueueStatus.DONE)
    _prescriptions_finish(encounter, now)
    target = None
    if is_transfer:
        target = FacilityModel.objects.filter(code=transfer_to_code, is_active=True).first()
        if target is not None:
            patient_share_with_facility(
                actor=actor,
                facility=facility,
                patient=encounter.patient,
                target_facility=target,
                reason=_("Chuyển viện (lượt khám %(id)s)") % {"id": encounter.pk},
            )
    _audit(
        actor,
        "encounter.conclude",
        encounter,
        facility,
        conclusion=conclusion,
        transfer_to_facility_id=target.pk if target else None,
        fields=["status", "conclusion"],
        version=encounter.version,
    )
    return encounter


def _prescriptions_finish(encounter: Encounter, now) -> None:
    """At conclusion a draft with drugs is issued; an empty draft is cancelled."""
    for rx in Prescription.objects.filter(encounter=encounter, status=PrescriptionStatus.DRAFT):
        if rx.items.filter(voided_at__isnull=True).exists():
            rx.status, rx.prescribed_at = PrescriptionStatus.ISSUED, now
        else:
            rx.status, rx.cancelled_at = PrescriptionStatus.CANCELLED, now
            rx.cancel_reason = "Đơn trống khi kết thúc khám"
        rx.version += 1
        rx.save()


@transaction.atomic
def addendum_add(
    *, actor, facility: Facility, encounter: Encounter, text: str, section: str = ""
) -> Addendum:
    """A correction of a locked encounter, with author and time; the original is unchanged."""
    encounter = locked_encounter(
        actor=actor, facility=facility, encounter=encounter, perm=ADDENDUM_PERM, allow_locked=True
    )
    if not encounter.is_locked:
        raise ValidationError(
            {"text": [_("Lượt khám chưa khoá: hãy sửa trực tiếp trong phiếu khám.")]}
        )
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": [_("Cần nhập nội dung bổ sung.")]})
    addendum = Addendum.objects.create(
        encounter=encounter, section=clean_text(section)[:50], text=text, author=actor
    )
    _audit(
        actor,
        "addendum.add",
        encounter,
        facility,
        addendum_id=addendum.pk,
        section=addendum.section,
    )
    return addendum


def encounter_mark_reviewed(*, actor, facility: Facility, encounter: Encounter) -> None:
    """The examining doctor has the visit open: results that came in before now are seen.

    Bookkeeping, not clinical content: no version bump (it must not make anybody's open form
    stale) and no audit row of its own (the page's read is audited as 'encounter.view').
    """
    if encounter.facility_id != facility.pk or encounter.is_locked:
        return
    if not permissions.has_perm_at(actor, EXAMINE_PERM, facility.pk):
        return
    Encounter.objects.filter(pk=encounter.pk).update(last_reviewed_at=timezone.now())
