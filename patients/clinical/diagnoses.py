"""One diagnosis at a time: add one ICD-10 code to a phase, or void one with a reason.

The diagnosis section of the visit form replaces a phase's whole set (`examination.diagnosis_set`:
the old rows voided, new rows added). A partner system records diagnoses one by one (a FHIR
Condition each), so these two services write one row and leave the phase's other rows as they
are. The rules are the examination's: the same permission per phase, the encounter row locked, of
the acting facility and not locked (a concluded visit is corrected as a whole set with a reason,
`corrections.diagnoses_correct`), the code in force on the visit date and billable, one main and
at most 12 secondary, no code twice in a phase. Each write bumps the encounter's version and is
audited with the section it touched (`diagnoses:<phase>`), so a diagnosis form opened before it
is refused as stale while saves of other sections still merge (see `common`).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core import permissions
from ehealth.core.audit import audit_record
from ehealth.core.models import Facility
from patients.clinical.common import icd_in_force, local_day, locked_encounter
from patients.clinical.examination import (
    DIAGNOSIS_PERMS,
    EXAMINE_PERM,
    _icd_error,
    normalize_icd,
)
from patients.clinical_choices import MAX_SECONDARY_DIAGNOSES, DiagnosisPhase
from patients.models import Diagnosis, Encounter
from patients.normalize import clean_text

MAX_VOID_REASON = 500


def _perm_for(actor, phase: str, facility: Facility) -> str:
    """The first permission of the phase the actor holds at the facility (else the doctor's)."""
    return next(
        (
            p
            for p in DIAGNOSIS_PERMS.get(phase, ())
            if permissions.has_perm_at(actor, p, facility.pk)
        ),
        EXAMINE_PERM,
    )


def _bump(actor, encounter: Encounter, facility: Facility, action: str, phase: str, **detail):
    encounter.version += 1
    encounter.save(update_fields=["version", "updated_at"])
    audit_record(
        actor=actor,
        action=action,
        target=encounter,
        patient_id=encounter.patient_id,
        detail={
            "facility_id": facility.pk,
            "encounter_id": encounter.pk,
            "phase": phase,
            "fields": [f"diagnoses:{phase}"],
            "version": encounter.version,
            **detail,
        },
    )


@transaction.atomic
def diagnosis_add(
    *,
    actor,
    facility: Facility,
    encounter: Encounter | int,
    code: str,
    phase: str = DiagnosisPhase.ENCOUNTER,
    rank: int | None = None,
) -> Diagnosis:
    """Add one ICD-10 diagnosis to a phase of an open encounter.

    `rank` 0 is the main diagnosis (refused when the phase has one), 1..12 a secondary one at
    that place (refused when taken); None makes it the main diagnosis when the phase has none,
    else the next secondary. Errors: ValidationError on `code`, `rank` or `phase`;
    EncounterLocked for a concluded, discharged or cancelled encounter.
    """
    if phase not in DiagnosisPhase.values:
        raise ValidationError({"phase": [_("Giai đoạn chẩn đoán không hợp lệ.")]})
    row = locked_encounter(
        actor=actor, facility=facility, encounter=encounter, perm=_perm_for(actor, phase, facility)
    )
    code = normalize_icd(code)
    on = local_day(row.started_at)
    if not code:
        raise ValidationError({"code": [_("Cần nhập mã bệnh (ICD-10).")]})
    if message := _icd_error(code, on):
        raise ValidationError({"code": [message]})
    active = list(
        Diagnosis.objects.filter(encounter=row, phase=phase, voided_at__isnull=True).order_by(
            "rank"
        )
    )
    if any(d.icd_code == code for d in active):
        raise ValidationError(
            {"code": [_("Mã %(code)s đã có trong chẩn đoán này.") % {"code": code}]}
        )
    taken = {d.rank for d in active}
    if rank is None:
        rank = 0 if 0 not in taken else max(taken) + 1
    if rank < 0 or rank > MAX_SECONDARY_DIAGNOSES:
        raise ValidationError(
            {"rank": [_("Tối đa %(n)d bệnh kèm theo.") % {"n": MAX_SECONDARY_DIAGNOSES}]}
        )
    if rank in taken:
        message = (
            _("Lượt khám đã có bệnh chính; hãy huỷ bệnh chính cũ trước.")
            if rank == 0
            else _("Vị trí bệnh kèm theo %(n)d đã có mã khác.") % {"n": rank}
        )
        raise ValidationError({"rank": [message]})
    icd = icd_in_force(code, on)
    diagnosis = Diagnosis.objects.create(
        encounter=row,
        phase=phase,
        icd_code=code,
        text=icd.display_name[:500],
        rank=rank,
        recorded_by=actor,
        recorded_at=timezone.now(),
    )
    _bump(actor, row, facility, "diagnosis.add", phase, diagnosis_id=diagnosis.pk, code=code)
    diagnosis.encounter = row
    return diagnosis


@transaction.atomic
def diagnosis_void(
    *, actor, facility: Facility, diagnosis: Diagnosis | int, reason: str
) -> Diagnosis:
    """Withdraw one diagnosis of an open encounter: voided with who, when and why (kept, readable).

    A diagnosis already voided is returned as it is. Errors: ValidationError on `reason`;
    EncounterLocked for a concluded, discharged or cancelled encounter.
    """
    pk = diagnosis.pk if isinstance(diagnosis, Diagnosis) else int(diagnosis)
    found = Diagnosis.objects.filter(pk=pk).values_list("encounter_id", "phase").first()
    if found is None:
        raise Http404
    encounter_id, phase = found
    row = locked_encounter(
        actor=actor,
        facility=facility,
        encounter=encounter_id,
        perm=_perm_for(actor, phase, facility),
    )
    diagnosis = Diagnosis.objects.select_for_update().get(pk=pk)
    if diagnosis.voided_at is not None:
        diagnosis.encounter = row
        return diagnosis
    reason = clean_text(reason or "")
    if not reason:
        raise ValidationError({"reason": [_("Cần ghi lý do huỷ chẩn đoán.")]})
    diagnosis.voided_at = timezone.now()
    diagnosis.voided_by = actor
    diagnosis.void_reason = reason[:MAX_VOID_REASON]
    diagnosis.save(update_fields=["voided_at", "voided_by", "void_reason"])
    _bump(
        actor,
        row,
        facility,
        "diagnosis.void",
        phase,
        diagnosis_id=diagnosis.pk,
        code=diagnosis.icd_code,
    )
    diagnosis.encounter = row
    return diagnosis
