"""Correction of the coded diagnoses of a locked encounter (a concluded visit, a discharged stay).

Once a visit is concluded or a stay discharged its record is locked: free-text corrections are
addenda. The ICD-10 codes are different: the claim dossier is built from them, and when the
insurer (or our own claim validation) refuses a code, the doctor must be able to correct it. The
correction is recorded, never silent: the old diagnosis rows are voided with the reason (kept,
readable), the new ones are added, an addendum says who, when, why and old -> new, the
encounter's version is bumped (a stale form is refused) and the change is audited; all in one
transaction. Which diagnoses are corrected: the visit's for an outpatient visit, the discharge
diagnoses for an inpatient stay (what the claim carries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core import permissions
from ehealth.core.audit import audit_record
from ehealth.core.models import Facility, StaffMembership
from patients.clinical.common import (
    check_version,
    encounter_for_update,
    local_day,
    require_at_facility,
    require_perm,
)
from patients.clinical.examination import EXAMINE_PERM, diagnoses_validate
from patients.clinical_choices import DiagnosisPhase, EncounterKind, EncounterStatus
from patients.models import Addendum, Diagnosis, Encounter
from patients.normalize import clean_text

CORRECT_PERM = EXAMINE_PERM
# The anchor of the correction form on the visit and stay pages (the claims pages link to it).
CORRECTION_ANCHOR = "diagnosis-correction"
# Voided rows of a correction carry this prefix before the reason: it tells them apart from the
# ordinary replacements made while the visit was open, and the history is read back from them.
VOID_PREFIX = "Sửa sau khi kết thúc: "
ADDENDUM_SECTION = "diagnoses"
MAX_REASON = 500 - len(VOID_PREFIX)
# Stored text (not the UI language): what the addendum says was corrected.
PHASE_TEXT = {DiagnosisPhase.ENCOUNTER: "chẩn đoán", DiagnosisPhase.DISCHARGE: "chẩn đoán ra viện"}


def correction_phase(encounter: Encounter) -> str:
    """The diagnoses a correction replaces: the discharge diagnoses of a stay (those on the
    claim), the visit's diagnoses otherwise."""
    if encounter.kind == EncounterKind.INPATIENT:
        return DiagnosisPhase.DISCHARGE
    return DiagnosisPhase.ENCOUNTER


def can_correct(encounter: Encounter) -> bool:
    """A correction applies to a concluded visit or a discharged stay (not a cancelled one)."""
    return encounter.status in (EncounterStatus.CONCLUDED, EncounterStatus.DISCHARGED)


@dataclass
class DiagnosisCorrection:
    """One correction: when, by whom, why, the codes before and after (main first)."""

    at: datetime
    author: object
    reason: str
    old: list[Diagnosis] = field(default_factory=list)
    new: list[Diagnosis] = field(default_factory=list)
    addendum: Addendum | None = None

    @property
    def old_codes(self) -> list[str]:
        return [d.icd_code for d in self.old]

    @property
    def new_codes(self) -> list[str]:
        return [d.icd_code for d in self.new]


def _codes_text(rows) -> str:
    if not rows:
        return "(không có)"
    main, *rest = rows
    text = f"{main.icd_code} (bệnh chính)"
    return f"{text}; {', '.join(d.icd_code for d in rest)}" if rest else text


def _acting_facility(actor, encounter_facility_id: int, facility: Facility | None) -> Facility:
    """The facility the actor acts at: the one given (the page's membership), else the
    encounter's own when the actor works there; a record of a unit where the actor does not
    work answers 404, like any record that is not theirs."""
    if facility is not None:
        return facility
    works_there = StaffMembership.objects.filter(
        user_id=actor.pk, facility_id=encounter_facility_id, is_active=True
    ).exists()
    if not works_there:
        raise Http404
    return Facility.objects.get(pk=encounter_facility_id)


@transaction.atomic
def diagnoses_correct(
    *,
    actor,
    encounter: Encounter | int,
    main_code: str,
    secondary_codes: list[str] | None,
    reason: str,
    version: int,
    facility: Facility | None = None,
) -> DiagnosisCorrection:
    """Correct the ICD-10 diagnoses of a locked encounter, with a reason.

    The examining permission at the facility is needed; the encounter must be concluded or
    discharged (an open one is corrected in its diagnosis section); `version` must be the
    current one. Codes are checked as in the examination (in force on the encounter date,
    billable, main + up to 12 secondary, no repeat). The old rows are voided with the reason,
    the new ones added, an addendum records old -> new, the version is bumped, one audit row.
    """
    encounter_id = encounter.pk if isinstance(encounter, Encounter) else int(encounter)
    facility_id = (
        encounter.facility_id
        if isinstance(encounter, Encounter)
        else Encounter.objects.filter(pk=encounter_id).values_list("facility_id", flat=True).first()
    )
    if facility_id is None:
        raise Http404
    facility = _acting_facility(actor, facility_id, facility)
    require_perm(actor, CORRECT_PERM, facility.pk)
    row = encounter_for_update(encounter_id=encounter_id)
    require_at_facility(row, facility)
    if not row.is_locked:
        raise ValidationError(
            {
                "encounter": [
                    _(
                        "Lượt khám chưa kết thúc: hãy sửa chẩn đoán trực tiếp trong phần chẩn "
                        "đoán của phiếu khám."
                    )
                ]
            }
        )
    if not can_correct(row):
        raise ValidationError({"encounter": [_("Lượt khám đã huỷ: không sửa chẩn đoán.")]})
    check_version(row, version)

    errors: dict[str, list[str]] = {}
    reason = clean_text(reason or "")
    if not reason:
        errors["reason"] = [_("Cần ghi lý do sửa chẩn đoán.")]
    elif len(reason) > MAX_REASON:
        errors["reason"] = [_("Lý do tối đa %(n)d ký tự.") % {"n": MAX_REASON}]
    codes = []
    try:
        codes = diagnoses_validate(
            main_code=main_code, secondary_codes=secondary_codes or [], on=local_day(row.started_at)
        )
    except ValidationError as e:
        for name, messages in e.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    phase = correction_phase(row)
    old = list(
        Diagnosis.objects.filter(encounter=row, phase=phase, voided_at__isnull=True).order_by(
            "rank"
        )
    )
    if codes and [c for c, _icd in codes] == [d.icd_code for d in old]:
        errors.setdefault("main_code", []).append(
            _("Các mã mới giống hệt chẩn đoán hiện tại: không có gì để sửa.")
        )
    if errors:
        raise ValidationError(errors)

    now = timezone.now()
    Diagnosis.objects.filter(pk__in=[d.pk for d in old]).update(
        voided_at=now, voided_by=actor, void_reason=f"{VOID_PREFIX}{reason}"
    )
    new = Diagnosis.objects.bulk_create(
        Diagnosis(
            encounter=row,
            phase=phase,
            icd_code=code,
            text=icd.display_name[:500],
            rank=rank,
            recorded_by=actor,
            recorded_at=now,
        )
        for rank, (code, icd) in enumerate(codes)
    )
    addendum = Addendum.objects.create(
        encounter=row,
        section=ADDENDUM_SECTION,
        text=(
            f"Sửa {PHASE_TEXT[phase]} sau khi kết thúc. "
            f"Cũ: {_codes_text(old)}. Mới: {_codes_text(new)}. Lý do: {reason}"
        ),
        author=actor,
    )
    row.version += 1
    row.save(update_fields=["version", "updated_at"])
    audit_record(
        actor=actor,
        action="diagnosis.correct",
        target=row,
        patient_id=row.patient_id,
        detail={
            "facility_id": facility.pk,
            "encounter_id": row.pk,
            "phase": phase,
            "old_codes": [d.icd_code for d in old],
            "new_codes": [d.icd_code for d in new],
            "addendum_id": addendum.pk,
            "fields": [f"diagnoses:{phase}"],
            "version": row.version,
        },
    )
    if isinstance(encounter, Encounter):
        encounter.version = row.version
    for d in old:
        d.voided_at, d.voided_by, d.void_reason = now, actor, f"{VOID_PREFIX}{reason}"
    return DiagnosisCorrection(
        at=now, author=actor, reason=reason, old=old, new=list(new), addendum=addendum
    )


def diagnosis_corrections(*, encounter: Encounter) -> list[DiagnosisCorrection]:
    """The corrections made to the encounter's diagnoses after it was locked, oldest first,
    read back from the diagnosis rows (one query). For pages that have already read (and
    audited) the encounter."""
    phase = correction_phase(encounter)
    rows = list(
        Diagnosis.objects.filter(encounter=encounter, phase=phase)
        .select_related("voided_by")
        .order_by("rank", "id")
    )
    by_time: dict[datetime, DiagnosisCorrection] = {}
    for d in rows:
        if d.voided_at is not None and d.void_reason.startswith(VOID_PREFIX):
            entry = by_time.setdefault(
                d.voided_at,
                DiagnosisCorrection(
                    at=d.voided_at,
                    author=d.voided_by,
                    reason=d.void_reason[len(VOID_PREFIX) :],
                ),
            )
            entry.old.append(d)
    for d in rows:
        if d.recorded_at in by_time:
            by_time[d.recorded_at].new.append(d)
    return [by_time[at] for at in sorted(by_time)]


def may_correct(user, encounter: Encounter, facility_id: int | None) -> bool:
    """Whether the page offers the correction form: a locked (not cancelled) encounter of the
    user's acting facility, and the examining permission there."""
    return (
        facility_id is not None
        and encounter.facility_id == facility_id
        and can_correct(encounter)
        and permissions.has_perm_at(user, CORRECT_PERM, facility_id)
    )
