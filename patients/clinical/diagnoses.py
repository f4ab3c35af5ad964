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

`diagnosis_add_many` adds the diagnoses of a partner's transaction together (a constant number of
statements), exactly as `diagnosis_add` one after the other would.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core import permissions
from ehealth.core.audit import audit_record, audit_record_each
from ehealth.core.bulk import bulk_insert
from ehealth.core.exceptions import DomainError
from ehealth.core.models import Facility, IcdCode
from patients.clinical.common import (
    encounters_for_update,
    ensure_unlocked,
    icd_in_force,
    local_day,
    locked_encounter,
    require_at_facility,
    require_perm,
)
from patients.clinical.examination import (
    DIAGNOSIS_PERMS,
    EXAMINE_PERM,
    _icd_error,
    normalize_icd,
)
from patients.clinical_choices import MAX_SECONDARY_DIAGNOSES, DiagnosisPhase
from patients.models import Diagnosis, Encounter
from patients.normalize import clean_text
from patients.services import BatchItemError

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


def _detail(facility: Facility, encounter_id: int, phase: str, version: int, **detail) -> dict:
    """The audit detail of a diagnosis write that moved the encounter to `version`."""
    return {
        "facility_id": facility.pk,
        "encounter_id": encounter_id,
        "phase": phase,
        "fields": [f"diagnoses:{phase}"],
        "version": version,
        **detail,
    }


def _bump(actor, encounter: Encounter, facility: Facility, action: str, phase: str, **detail):
    encounter.version += 1
    encounter.save(update_fields=["version", "updated_at"])
    audit_record(
        actor=actor,
        action=action,
        target=encounter,
        patient_id=encounter.patient_id,
        detail=_detail(facility, encounter.pk, phase, encounter.version, **detail),
    )


def _check_phase(phase: str) -> None:
    if phase not in DiagnosisPhase.values:
        raise ValidationError({"phase": [_("Giai đoạn chẩn đoán không hợp lệ.")]})


def _normalized(code: str) -> str:
    code = normalize_icd(code)
    if not code:
        raise ValidationError({"code": [_("Cần nhập mã bệnh (ICD-10).")]})
    return code


def _place(active: list[tuple[str, int]], code: str, rank: int | None) -> int:
    """The rank `code` takes in a phase whose live diagnoses are `active` (code, rank): `rank`
    when free; None: the main place if free, else the next secondary one. ValidationError on
    `code` for a code already there, on `rank` for a place taken or beyond the last."""
    if any(c == code for c, _r in active):
        raise ValidationError(
            {"code": [_("Mã %(code)s đã có trong chẩn đoán này.") % {"code": code}]}
        )
    taken = {r for _c, r in active}
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
    return rank


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
    _check_phase(phase)
    row = locked_encounter(
        actor=actor, facility=facility, encounter=encounter, perm=_perm_for(actor, phase, facility)
    )
    code = _normalized(code)
    on = local_day(row.started_at)
    if message := _icd_error(code, on):
        raise ValidationError({"code": [message]})
    active = Diagnosis.objects.filter(encounter=row, phase=phase, voided_at__isnull=True)
    rank = _place(list(active.order_by().values_list("icd_code", "rank")), code, rank)
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


@dataclass(frozen=True)
class DiagnosisItem:
    """One diagnosis of `diagnosis_add_many`: what `diagnosis_add` is given for it."""

    encounter: Encounter | int
    code: str
    phase: str = DiagnosisPhase.ENCOUNTER
    rank: int | None = None


def _encounter_id(encounter: Encounter | int) -> int:
    return encounter.pk if isinstance(encounter, Encounter) else int(encounter)


def _in_force(versions: list[IcdCode], on: date) -> IcdCode | None:
    """The newest of a code's catalog versions in force on `on` (as `icd_in_force`)."""
    return max(
        (v for v in versions if v.valid_from <= on and (v.valid_to is None or v.valid_to >= on)),
        key=lambda v: v.valid_from,
        default=None,
    )


# The encounters' new versions in one statement (bulk_update compiles a CASE per row, which
# costs more than the rest of a transaction Bundle's diagnoses together).
_VERSIONS_SAVE = (
    "UPDATE patients_encounter AS e SET version = v.version, updated_at = %s "
    "FROM unnest(%s::bigint[], %s::integer[]) AS v(id, version) WHERE e.id = v.id"
)


def _versions_save(rows: list[Encounter], at) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_VERSIONS_SAVE, [at, [r.pk for r in rows], [r.version for r in rows]])


@transaction.atomic
def diagnosis_add_many(*, actor, facility: Facility, items: list[DiagnosisItem]) -> list[Diagnosis]:
    """`diagnosis_add` for each item, in order, all or nothing, in a constant number of statements
    (the Conditions of a partner's transaction): the same permission per phase, checks, places,
    rows, encounter versions and audit entries as adding them one after the other (items on one
    encounter take the places and versions the earlier ones leave). The encounters are locked in
    one statement, in id order (two batches never wait on each other in a circle).

    The first item (in order) that `diagnosis_add` would refuse after the ones before it is raised
    as BatchItemError with the error it would have raised; nothing is written.
    """
    if not items:
        return []
    ids = sorted({_encounter_id(i.encounter) for i in items})
    rows = encounters_for_update(ids)
    catalog: dict[str, list[IcdCode]] = defaultdict(list)
    for icd in IcdCode.objects.filter(code__in={normalize_icd(i.code) for i in items} - {""}):
        catalog[icd.code].append(icd)
    active: dict[tuple[int, str], list[tuple[str, int]]] = defaultdict(list)
    live = Diagnosis.objects.filter(encounter_id__in=ids, voided_at__isnull=True).order_by()
    for encounter_id, phase, code, rank in live.values_list(
        "encounter_id", "phase", "icd_code", "rank"
    ):
        active[(encounter_id, phase)].append((code, rank))
    now = timezone.now()
    diagnoses, versions = [], []
    for index, item in enumerate(items):
        try:
            row, code, icd = _item_checked(actor, facility, item, rows, catalog)
            rank = _place(active[(row.pk, item.phase)], code, item.rank)
        except (ValidationError, PermissionDenied, Http404, DomainError) as exc:
            raise BatchItemError(index, exc) from None
        active[(row.pk, item.phase)].append((code, rank))
        row.version += 1
        row.updated_at = now
        versions.append(row.version)
        diagnoses.append(
            Diagnosis(
                encounter=row,
                phase=item.phase,
                icd_code=code,
                text=icd.display_name[:500],
                rank=rank,
                recorded_by=actor,
                recorded_at=now,
            )
        )
    bulk_insert(Diagnosis, diagnoses)
    _versions_save(list(rows.values()), now)
    audit_record_each(
        actor=actor,
        action="diagnosis.add",
        entries=[
            (
                d.encounter,
                d.encounter.patient_id,
                _detail(
                    facility, d.encounter_id, d.phase, version, diagnosis_id=d.pk, code=d.icd_code
                ),
            )
            for d, version in zip(diagnoses, versions, strict=True)
        ],
    )
    return diagnoses


def _item_checked(
    actor,
    facility: Facility,
    item: DiagnosisItem,
    rows: dict[int, Encounter],
    catalog: dict[str, list[IcdCode]],
) -> tuple[Encounter, str, IcdCode]:
    """An item of a batch checked as `diagnosis_add` checks it before placing it: (the locked
    encounter, the normalised code, its catalog row in force on the encounter's day)."""
    _check_phase(item.phase)
    require_perm(actor, _perm_for(actor, item.phase, facility), facility.pk)
    row = rows.get(_encounter_id(item.encounter))
    if row is None or row.voided_at is not None:  # as `encounter_for_update`
        raise Http404
    require_at_facility(row, facility)
    ensure_unlocked(row)
    code = _normalized(item.code)
    on = local_day(row.started_at)
    icd = _in_force(catalog.get(code, []), on)
    if icd is None or not icd.billable:
        raise ValidationError({"code": [_icd_error(code, on)]})  # words it (queries: only here)
    return row, code, icd


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
