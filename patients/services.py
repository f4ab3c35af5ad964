"""Writes of the city-wide patient registry: register, enroll, update, share, merge.

Each service is one transaction with its permission check and its audit entry. Validation errors
are `ValidationError({field: [Vietnamese messages]})`; refusals are domain errors
(`ehealth.core.exceptions`) that views turn into messages beside the field. Input and checks live
in `patients.validation`, merging in `patients.merging`; everything is importable from here.
"""

from __future__ import annotations

import re
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ehealth.core import permissions
from ehealth.core.audit import audit_record, audit_record_each
from ehealth.core.bulk import bulk_insert
from ehealth.core.exceptions import ConcurrentEditError, DomainError, DuplicateIdentifierError
from ehealth.core.models import Facility
from patients import identifiers as idchecks
from patients.choices import IdentifierSystem, PatientStatus
from patients.duplicates import Candidate, Probe, similar_candidates
from patients.guards import (
    enqueue_duplicates_recompute,
    enqueue_duplicates_recompute_many,
    require_own_record,
    require_perm,
)
from patients.merging import MergeConflictError, patient_merge, patient_merge_reverse
from patients.models import DuplicateCandidate, Encounter, Patient, PatientIdentifier
from patients.normalize import clean_text
from patients.validation import (
    _PATIENT_FIELDS,
    IDENTIFIER_FIELDS,
    MIN_BIRTH_YEAR,
    VN_TZ,
    PatientInput,
    patient_validate,
)
from patients.versions import patient_version_capture, patient_version_keep, patient_version_record

SHARE_PERM = "patients.view_patient"

__all__ = [
    "IDENTIFIER_FIELDS",
    "MIN_BIRTH_YEAR",
    "VN_TZ",
    "Candidate",
    "MergeConflictError",
    "PatientHasEncounters",
    "PatientInput",
    "SimilarPatientsFound",
    "patient_duplicates_recompute",
    "patient_enroll",
    "patient_merge",
    "patient_merge_reverse",
    "patient_register",
    "patient_register_many",
    "patient_share_with_facility",
    "patient_unshare_with_facility",
    "patient_update",
    "patient_validate",
    "patient_void",
    "record_number_format",
    "record_numbers_reserve",
]

# Looked up through this module at call time, so that tests can replace them.
_enqueue_duplicates_recompute = enqueue_duplicates_recompute
_enqueue_duplicates_recompute_many = enqueue_duplicates_recompute_many


class SimilarPatientsFound(DomainError):
    """Registration found patients who may be the same person; confirm with allow_similar=True."""

    def __init__(self, candidates: list[Candidate]):
        super().__init__(_("Có người bệnh tương tự đã đăng ký. Hãy kiểm tra trước khi tạo mới."))
        self.candidates = candidates


def _identifier_values(d: PatientInput) -> dict[str, tuple[str, str]]:
    """system -> (value, form field that carries it). A card implies its social insurance number."""
    result: dict[str, tuple[str, str]] = {}
    for name, system in IDENTIFIER_FIELDS.items():
        value = getattr(d, name)
        if value:
            result[system] = (value, name)
    if d.bhyt_card and IdentifierSystem.SOCIAL_INSURANCE not in result:
        result[IdentifierSystem.SOCIAL_INSURANCE] = (
            idchecks.social_insurance_from_card(d.bhyt_card),
            "bhyt_card",
        )
    return result


_DUPLICATE_MESSAGES = {
    IdentifierSystem.CCCD: gettext_noop(
        "Số CCCD này đã được đăng ký cho một người bệnh khác (hồ sơ số %(id)s)."
    ),
    IdentifierSystem.BHYT: gettext_noop(
        "Mã thẻ BHYT này đã được đăng ký cho một người bệnh khác (hồ sơ số %(id)s)."
    ),
    IdentifierSystem.SOCIAL_INSURANCE: gettext_noop(
        "Mã số BHXH này đã được đăng ký cho một người bệnh khác (hồ sơ số %(id)s)."
    ),
    IdentifierSystem.PASSPORT: gettext_noop(
        "Số hộ chiếu này đã được đăng ký cho một người bệnh khác (hồ sơ số %(id)s)."
    ),
}


def _raise_if_identifier_taken(
    wanted: dict[str, tuple[str, str]], *, exclude_patient_id: int | None = None
) -> None:
    """The same CCCD, card, BHXH number or passport is the same person: refuse a second record."""
    for system, (value, field_name) in wanted.items():
        qs = PatientIdentifier.objects.filter(system=system, value=value, voided_at__isnull=True)
        if exclude_patient_id is not None:
            qs = qs.exclude(patient_id=exclude_patient_id)
        owner = qs.values_list("patient_id", flat=True).first()
        if owner is not None:
            raise DuplicateIdentifierError(
                field_name, _(_DUPLICATE_MESSAGES[system]) % {"id": owner}, owner
            )


def _constraint_name(exc: IntegrityError) -> str:
    diag = getattr(getattr(exc, "__cause__", None), "diag", None)
    return getattr(diag, "constraint_name", "") or ""


def _insert_identifiers(
    rows: list[PatientIdentifier],
    wanted: dict[str, tuple[str, str]],
    *,
    patient_id: int,
) -> None:
    """Insert in a savepoint; a concurrent registration that won the unique index becomes a
    DuplicateIdentifierError (the caller's transaction then rolls back as a whole)."""
    try:
        with transaction.atomic():
            bulk_insert(PatientIdentifier, rows)
    except IntegrityError as exc:
        if _constraint_name(exc) != "identifier_city_unique":
            raise
        _raise_if_identifier_taken(wanted, exclude_patient_id=patient_id)
        raise DuplicateIdentifierError(  # the winner voided it meanwhile: ask to retry
            next(iter(wanted.values()))[1],
            _("Định danh vừa được đăng ký đồng thời cho hồ sơ khác. Vui lòng thử lại."),
        ) from exc


# --- Record numbers --------------------------------------------------------------------------


def record_number_format(facility_code: str, number: int) -> str:
    """The record number (MRN) shown and searched: facility code, dash, serial."""
    return f"{facility_code}-{number:06d}"


def record_numbers_reserve(*, facility: Facility, count: int = 1) -> int:
    """Reserve `count` consecutive serials at the facility; return the last one.

    One upsert statement: the counter row stays locked until the caller's transaction ends, so two
    registrations never get the same number (bulk seeding reserves a whole block at once).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO patients_recordnumbercounter (facility_id, last_number) VALUES (%s, %s) "
            "ON CONFLICT (facility_id) DO UPDATE SET last_number = "
            "patients_recordnumbercounter.last_number + EXCLUDED.last_number "
            "RETURNING last_number",
            [facility.pk, count],
        )
        return cursor.fetchone()[0]


def _record_number_counter_resync(facility: Facility) -> None:
    """Move the counter past record numbers written without it (imports, bulk seeds)."""
    prefix = f"{facility.code}-"
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE patients_recordnumbercounter SET last_number = GREATEST(last_number, "
            "(SELECT COALESCE(MAX(substring(value FROM %s)::bigint), 0) "
            "FROM patients_patientidentifier WHERE system = 'mrn' AND facility_id = %s "
            "AND value ~ %s)) WHERE facility_id = %s",
            [
                f"^{re.escape(prefix)}(\\d+)$",
                facility.pk,
                f"^{re.escape(prefix)}\\d{{1,15}}$",
                facility.pk,
            ],
        )


def _record_number_issue(*, patient: Patient, facility: Facility) -> PatientIdentifier:
    for _attempt in range(3):
        number = record_numbers_reserve(facility=facility)
        ident = PatientIdentifier(
            patient=patient,
            system=IdentifierSystem.MRN,
            value=record_number_format(facility.code, number),
            facility=facility,
        )
        try:
            with transaction.atomic():
                ident.save()
        except IntegrityError as exc:
            if _constraint_name(exc) != "identifier_mrn_unique_per_facility":
                raise
            _record_number_counter_resync(facility)
            continue
        return ident
    raise DomainError(_("Không cấp được mã người bệnh tại cơ sở. Vui lòng thử lại."))


# --- Register, enroll, update ----------------------------------------------------------------


def _apply(patient: Patient, d: PatientInput) -> list[str]:
    """Copy the input onto the patient; return the names of the fields that changed."""
    changed = []
    for name in _PATIENT_FIELDS:
        if getattr(patient, name) != getattr(d, name):
            setattr(patient, name, getattr(d, name))
            changed.append(name)
    for name, value in (
        ("province_id", d.province_code or None),
        ("commune_id", d.commune_code or None),
    ):
        if getattr(patient, name) != value:
            setattr(patient, name, value)
            changed.append(name.removesuffix("_id"))
    return changed


@transaction.atomic
def patient_register(
    *, actor, facility: Facility, data: PatientInput, allow_similar: bool = False
) -> Patient:
    """Register a new patient city-wide and give them a record number at `facility`.

    Refuses a second record for the same CCCD, card, BHXH number or passport (also under
    concurrent registrations: the unique index decides) and, unless `allow_similar`, stops at
    similar patients so that reception can pick the existing record instead.
    """
    require_perm(actor, "patients.add_patient", facility)
    d = patient_validate(data=data)
    wanted = _identifier_values(d)
    _raise_if_identifier_taken(wanted)
    if not allow_similar:
        candidates = similar_candidates(_probe(d))
        if candidates:
            raise SimilarPatientsFound(candidates)

    patient = Patient(created_by=actor, created_at_facility=facility)
    _apply(patient, d)
    patient.save()
    rows = [
        PatientIdentifier(patient=patient, system=system, value=value)
        for system, (value, _field) in wanted.items()
    ]
    _insert_identifiers(rows, wanted, patient_id=patient.pk)
    mrn = _record_number_issue(patient=patient, facility=facility)
    audit_record(
        actor=actor,
        action="patient.create",
        target=patient,
        patient_id=patient.pk,
        detail={
            "facility_id": facility.pk,
            "record_number_id": mrn.pk,
            "identifiers": sorted(wanted),
            "similar_confirmed": allow_similar,
        },
    )
    _enqueue_duplicates_recompute(patient.pk)
    return patient


class DuplicateInBatch(ValueError):
    """Two items of a `patient_register_many` batch hold the same identifier."""


class BatchItemError(Exception):
    """A batch service (`patient_register_many`, `encounter_check_in_many`, `vitals_record_many`,
    `diagnosis_add_many`) refused item `index`: `error` is what the one-item service would have
    raised for it (nothing of the batch was written)."""

    def __init__(self, index: int, error: Exception):
        super().__init__(str(error))
        self.index = index
        self.error = error


def _taken_identifiers(
    wanted: list[dict[str, tuple[str, str]]], *, exclude_patient_ids: tuple[int, ...] = ()
) -> dict[int, DuplicateIdentifierError]:
    """Item index -> the error `_raise_if_identifier_taken` raises for it, for the items of
    `wanted` with an identifier that is live on another patient (one query for the batch)."""
    pairs = {(system, value) for w in wanted for system, (value, _f) in w.items()}
    if not pairs:
        return {}
    rows = PatientIdentifier.objects.filter(
        system__in={s for s, _v in pairs}, value__in={v for _s, v in pairs}, voided_at__isnull=True
    ).exclude(patient_id__in=exclude_patient_ids)
    owners = {(s, v): pid for s, v, pid in rows.values_list("system", "value", "patient_id")}
    errors = {}
    for i, w in enumerate(wanted):
        for system, (value, field_name) in w.items():  # in the order patient_register checks
            owner = owners.get((system, value))
            if owner is not None:
                message = _(_DUPLICATE_MESSAGES[system]) % {"id": owner}
                errors[i] = DuplicateIdentifierError(field_name, message, owner)
                break
    return errors


@transaction.atomic
def patient_register_many(
    *,
    actor,
    facility: Facility,
    datas: list[PatientInput],
    allow_similar: bool = False,
    defer=None,
) -> list[Patient]:
    """`patient_register` for each item, all or nothing, in a constant number of statements (the
    batch of a partner's transaction): the same permission, validation, identifier and similarity
    checks, each item's record number, audit entry and duplicate recompute.

    The first item (in order) that `patient_register` would refuse is raised as BatchItemError,
    with the error it would have raised. Two items holding the same identifier are refused at the
    second with DuplicateInBatch: register them one by one (the second then names the first's
    record). `defer`: the record numbers are given by work handed to it, which the caller runs at
    the end of its transaction (`_record_numbers_insert`).
    """
    require_perm(actor, "patients.add_patient", facility)
    if not datas:
        return []
    validated: list[PatientInput | None] = []
    errors: dict[int, Exception] = {}
    for i, data in enumerate(datas):
        try:
            validated.append(patient_validate(data=data))
        except ValidationError as exc:
            validated.append(None)
            errors[i] = exc
    wanted = [_identifier_values(d) if d is not None else {} for d in validated]
    seen: set[tuple[str, str]] = set()
    for w in wanted:
        for system, (value, _f) in w.items():
            if (system, value) in seen:
                raise DuplicateInBatch("two items of the batch hold the same identifier")
            seen.add((system, value))
    for i, error in _taken_identifiers(wanted).items():
        errors.setdefault(i, error)
    for i in range(len(datas)):
        if i not in errors and not allow_similar:
            candidates = similar_candidates(_probe(validated[i]))
            if candidates:
                errors[i] = SimilarPatientsFound(candidates)
    if errors:
        first = min(errors)
        raise BatchItemError(first, errors[first])

    patients = []
    for d in validated:
        patient = Patient(created_by=actor, created_at_facility=facility)
        _apply(patient, d)
        patients.append(patient)
    bulk_insert(Patient, patients)
    rows = [
        PatientIdentifier(patient=patient, system=system, value=value)
        for patient, w in zip(patients, wanted, strict=True)
        for system, (value, _field) in w.items()
    ]
    mrns = _record_numbers_insert(patients, facility, rows, wanted, defer=defer)
    audit_record_each(
        actor=actor,
        action="patient.create",
        entries=[
            (
                patient,
                patient.pk,
                {
                    "facility_id": facility.pk,
                    "record_number_id": mrn.pk,
                    "identifiers": sorted(w),
                    "similar_confirmed": allow_similar,
                },
            )
            for patient, mrn, w in zip(patients, mrns, wanted, strict=True)
        ],
    )
    _enqueue_duplicates_recompute_many([p.pk for p in patients])
    return patients


def _record_numbers_insert(
    patients: list[Patient],
    facility: Facility,
    rows: list[PatientIdentifier],
    wanted: list[dict[str, tuple[str, str]]],
    *,
    defer=None,
) -> list[PatientIdentifier]:
    """Insert the batch's identifiers with a record number per patient at `facility` (one block of
    serials reserved), in one savepoint; as `_insert_identifiers` and `_record_number_issue` do for
    one patient: a concurrent registration that won a city-wide identifier is refused at its item,
    a record number written without the counter moves the counter on and the block is retried.

    `defer` (a list's `append`, from a caller whose transaction goes on after the batch): the
    record-number rows are written now with a placeholder value (the patient is enrolled here, so
    seen by this unit, from now on) and given their numbers by the work handed to `defer`, which
    the caller runs at the end of its transaction. The unit's counter row is then locked only from
    there to the commit, not while the rest of the transaction runs (a partner's Bundle of
    patients and their visits): numbers stay consecutive and are never lost to a rollback.
    """
    if defer is not None:
        mrns = _record_number_rows(patients, facility, [f"~{p.pk}" for p in patients])
        _batch_identifiers_insert(patients, [*rows, *mrns], wanted)
        defer(partial(_record_numbers_assign, mrns, facility))
        return mrns
    for _attempt in range(3):
        last = record_numbers_reserve(facility=facility, count=len(patients))
        first = last - len(patients) + 1
        values = [record_number_format(facility.code, first + i) for i in range(len(patients))]
        mrns = _record_number_rows(patients, facility, values)
        try:
            _batch_identifiers_insert(patients, [*rows, *mrns], wanted)
        except IntegrityError as exc:
            if _constraint_name(exc) != "identifier_mrn_unique_per_facility":
                raise
            _record_number_counter_resync(facility)
            continue
        return mrns
    raise DomainError(_("Không cấp được mã người bệnh tại cơ sở. Vui lòng thử lại."))


def _record_number_rows(
    patients: list[Patient], facility: Facility, values: list[str]
) -> list[PatientIdentifier]:
    return [
        PatientIdentifier(patient=p, system=IdentifierSystem.MRN, value=v, facility=facility)
        for p, v in zip(patients, values, strict=True)
    ]


def _batch_identifiers_insert(
    patients: list[Patient], rows: list[PatientIdentifier], wanted: list[dict]
) -> None:
    """Insert in a savepoint; a city-wide identifier another registration holds is refused at
    its item (BatchItemError). A record number taken is raised as is (IntegrityError)."""
    try:
        with transaction.atomic():
            bulk_insert(PatientIdentifier, rows)
    except IntegrityError as exc:
        if _constraint_name(exc) != "identifier_city_unique":
            raise
        taken = _taken_identifiers(wanted, exclude_patient_ids=tuple(p.pk for p in patients))
        if taken:
            first = min(taken)
            raise BatchItemError(first, taken[first]) from exc
        raise BatchItemError(  # the winner voided it meanwhile: ask to retry
            0,
            DuplicateIdentifierError(
                next(iter(wanted[0].values()))[1],
                _("Định danh vừa được đăng ký đồng thời cho hồ sơ khác. Vui lòng thử lại."),
            ),
        ) from exc


_ASSIGN = (
    "UPDATE patients_patientidentifier AS i SET value = v.value "
    "FROM unnest(%s::bigint[], %s::text[]) AS v(id, value) WHERE i.id = v.id"
)


def _record_numbers_assign(mrns: list[PatientIdentifier], facility: Facility) -> None:
    """The deferred half of `_record_numbers_insert`: one block of serials reserved now, written
    over the placeholders in one statement (retried past numbers written without the counter)."""
    for _attempt in range(3):
        last = record_numbers_reserve(facility=facility, count=len(mrns))
        for i, mrn in enumerate(mrns):
            mrn.value = record_number_format(facility.code, last - len(mrns) + 1 + i)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(_ASSIGN, [[m.pk for m in mrns], [m.value for m in mrns]])
        except IntegrityError as exc:
            if _constraint_name(exc) != "identifier_mrn_unique_per_facility":
                raise
            _record_number_counter_resync(facility)
            continue
        return
    raise DomainError(_("Không cấp được mã người bệnh tại cơ sở. Vui lòng thử lại."))


def _probe(d: PatientInput) -> Probe:
    return Probe(
        full_name=d.full_name,
        sex=d.sex,
        birth_date=d.birth_date,
        birth_year=d.birth_year,
        commune_id=d.commune_code or None,
        address_line=d.address_line,
        legacy_address=d.legacy_address,
        phone=d.phone,
    )


@transaction.atomic
def patient_enroll(*, actor, facility: Facility, patient: Patient) -> PatientIdentifier:
    """Give a patient found city-wide a record number here (idempotent: returns the existing one)."""
    require_perm(actor, "patients.add_patient", facility)
    patient = Patient.objects.select_for_update(no_key=True).get(pk=patient.pk)
    if patient.status != PatientStatus.ACTIVE or patient.voided_at is not None:
        raise DomainError(_("Hồ sơ này đã được gộp hoặc hủy, không thể tiếp nhận."))
    existing = (
        PatientIdentifier.objects.filter(
            patient=patient, system=IdentifierSystem.MRN, facility=facility, voided_at__isnull=True
        )
        .order_by("id")
        .first()
    )
    if existing is not None:
        return existing
    mrn = _record_number_issue(patient=patient, facility=facility)
    audit_record(
        actor=actor,
        action="patient.enroll",
        target=patient,
        patient_id=patient.pk,
        detail={"facility_id": facility.pk, "record_number_id": mrn.pk},
    )
    return mrn


@transaction.atomic
def patient_update(
    *, actor, facility: Facility, patient: Patient, data: PatientInput, expected_version: int
) -> Patient:
    """Change demographics and identifiers; a stale `expected_version` is refused.

    A changed identifier is voided (with the reason) and a new row added, so the history stays.
    """
    require_perm(actor, "patients.change_patient", facility)
    patient = Patient.objects.select_for_update(no_key=True).get(pk=patient.pk)
    require_own_record(patient, facility)
    if patient.version != expected_version:
        raise ConcurrentEditError(
            _("Hồ sơ đã được người khác cập nhật. Vui lòng tải lại trang và nhập lại.")
        )
    d = patient_validate(data=data)
    wanted = _identifier_values(d)
    before = patient_version_capture(patient)

    live = list(
        PatientIdentifier.objects.filter(patient=patient, voided_at__isnull=True).exclude(
            system=IdentifierSystem.MRN
        )
    )
    now = timezone.now()
    to_void: list[PatientIdentifier] = []
    to_add: dict[str, tuple[str, str]] = {}
    for system in IDENTIFIER_FIELDS.values():
        current = [i for i in live if i.system == system]
        new = wanted.get(system)
        if new is None:
            to_void.extend(current)
        elif new[0] not in {i.value for i in current}:
            to_void.extend(current)
            to_add[system] = new
    for ident in to_void:
        ident.voided_at, ident.voided_by = now, actor
        ident.void_reason = _("Thay bằng giá trị mới khi cập nhật hồ sơ")
        ident.save(update_fields=["voided_at", "voided_by", "void_reason"])
    _raise_if_identifier_taken(to_add, exclude_patient_id=patient.pk)
    _insert_identifiers(
        [PatientIdentifier(patient=patient, system=s, value=v) for s, (v, _f) in to_add.items()],
        to_add,
        patient_id=patient.pk,
    )

    changed = _apply(patient, d)
    changed += sorted({f for _v, f in to_add.values()} | {_field_of(i.system) for i in to_void})
    if not changed:
        return patient
    patient_version_keep(before, actor=actor)
    patient.version += 1
    patient.save()
    audit_record(
        actor=actor,
        action="patient.update",
        target=patient,
        patient_id=patient.pk,
        detail={
            "facility_id": facility.pk,
            "fields": sorted(set(changed)),
            "version": patient.version,
        },
    )
    _enqueue_duplicates_recompute(patient.pk)
    return patient


class PatientHasEncounters(DomainError):
    """A record with visits or stays is a real patient's: it is corrected or merged, not voided."""

    def __init__(self, count: int):
        super().__init__(
            _("Người bệnh đã có %(count)s lượt khám/điều trị, không thể hủy hồ sơ.")
            % {"count": count}
        )
        self.count = count


@transaction.atomic
def patient_void(
    *, actor, facility: Facility, patient: Patient, reason: str, expected_version: int | None = None
) -> Patient:
    """Void a record registered in error (one with no encounters), as a new version with who and
    why. Its city-wide identifiers are voided with it, so the person can be registered again; its
    record numbers stay, never handed out again. Reads and searches no longer find it.
    """
    require_perm(actor, "patients.change_patient", facility)
    patient = Patient.objects.select_for_update(no_key=True).get(pk=patient.pk)
    require_own_record(patient, facility)
    if expected_version is not None and patient.version != expected_version:
        raise ConcurrentEditError(
            _("Hồ sơ đã được người khác cập nhật. Vui lòng tải lại trang và nhập lại.")
        )
    reason = clean_text(reason)[:500]
    if not reason:
        raise ValidationError({"reason": [_("Cần ghi lý do hủy hồ sơ.")]})
    encounters = Encounter.objects.filter(patient=patient, voided_at__isnull=True).count()
    if encounters:
        raise PatientHasEncounters(encounters)
    patient_version_record(patient, actor=actor)
    now = timezone.now()
    voided = (
        PatientIdentifier.objects.filter(patient=patient, voided_at__isnull=True)
        .exclude(system=IdentifierSystem.MRN)
        .update(voided_at=now, voided_by=actor, void_reason=reason)
    )
    patient.voided_at, patient.voided_by, patient.void_reason = now, actor, reason
    patient.version += 1
    patient.save(update_fields=["voided_at", "voided_by", "void_reason", "version", "updated_at"])
    audit_record(
        actor=actor,
        action="patient.void",
        target=patient,
        patient_id=patient.pk,
        detail={"facility_id": facility.pk, "version": patient.version, "identifiers": voided},
    )
    return patient


def _field_of(system: str) -> str:
    return next(name for name, s in IDENTIFIER_FIELDS.items() if s == system)


# --- Sharing ---------------------------------------------------------------------------------


@transaction.atomic
def patient_share_with_facility(
    *, actor, facility: Facility, patient: Patient, target_facility: Facility, reason: str
) -> None:
    """Let the staff of another facility see the patient (e.g. after a referral)."""
    require_perm(actor, "patients.share_patient", facility)
    require_own_record(patient, facility)
    if target_facility.pk == facility.pk:
        raise DomainError(_("Không thể chia sẻ hồ sơ với chính cơ sở của mình."))
    if not clean_text(reason):
        raise ValidationError({"reason": [_("Cần ghi lý do chia sẻ.")]})
    permissions.share_with_facility(perm=SHARE_PERM, obj=patient, facility=target_facility)
    audit_record(
        actor=actor,
        action="patient.share",
        target=patient,
        patient_id=patient.pk,
        detail={
            "facility_id": facility.pk,
            "target_facility_id": target_facility.pk,
            "reason": clean_text(reason)[:500],
        },
    )


@transaction.atomic
def patient_unshare_with_facility(
    *, actor, facility: Facility, patient: Patient, target_facility: Facility, reason: str = ""
) -> None:
    """Withdraw a share given to another facility."""
    require_perm(actor, "patients.share_patient", facility)
    require_own_record(patient, facility)
    permissions.unshare_with_facility(perm=SHARE_PERM, obj=patient, facility=target_facility)
    audit_record(
        actor=actor,
        action="patient.unshare",
        target=patient,
        patient_id=patient.pk,
        detail={
            "facility_id": facility.pk,
            "target_facility_id": target_facility.pk,
            "reason": clean_text(reason)[:500],
        },
    )


# --- Duplicate candidates --------------------------------------------------------------------


@transaction.atomic
def patient_duplicates_recompute(*, patient_id: int) -> list[DuplicateCandidate]:
    """Recompute and store the ranked possible duplicates of a patient (idempotent)."""
    from patients.duplicates import probe_of

    patient = Patient.objects.select_for_update(no_key=True).filter(pk=patient_id).first()
    if patient is None:
        return []
    if patient.status != PatientStatus.ACTIVE or patient.voided_at is not None:
        DuplicateCandidate.objects.filter(patient=patient).delete()
        return []
    found = similar_candidates(probe_of(patient), exclude_ids=[patient.pk], limit=20)
    DuplicateCandidate.objects.filter(patient=patient).exclude(
        candidate_id__in=[c.patient.pk for c in found]
    ).delete()
    if found:
        DuplicateCandidate.objects.bulk_create(
            [
                DuplicateCandidate(
                    patient=patient, candidate=c.patient, score=c.score, reasons=c.reasons
                )
                for c in found
            ],
            update_conflicts=True,
            unique_fields=["patient", "candidate"],
            update_fields=["score", "reasons", "computed_at"],
        )
    return list(
        DuplicateCandidate.objects.filter(patient=patient)
        .select_related("candidate")
        .order_by("-score", "candidate_id")
    )
