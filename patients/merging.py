"""Merging two records of one person, and reversing it (admins only). Every row moves, reversibly."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record
from ehealth.core.exceptions import DomainError
from ehealth.core.models import Facility
from patients.choices import PatientStatus
from patients.guards import enqueue_duplicates_recompute, require_perm, require_visible
from patients.models import (
    DuplicateCandidate,
    Patient,
    PatientGroupObjectPermission,
    PatientMerge,
    PatientUserObjectPermission,
    PatientVersion,
)
from patients.normalize import clean_text
from patients.versions import patient_version_record


class MergeConflictError(DomainError):
    """A merge (or its reversal) would break a constraint, e.g. both records hold a bed."""


# Rows that describe the merge itself or are recomputed: never moved.
_MERGE_SKIP = {PatientMerge, DuplicateCandidate, PatientVersion}
# Object permissions: moved unless the survivor already holds the same one.
_GUARDIAN = {
    PatientUserObjectPermission: "user",
    PatientGroupObjectPermission: "group",
}


def _patient_references() -> list[tuple[type[models.Model], models.ForeignKey]]:
    """Every foreign key to Patient in any installed model (future clinical models included)."""
    refs = []
    for rel in Patient._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)):
            continue
        model = rel.related_model
        if model in _MERGE_SKIP or model._meta.proxy:
            continue
        refs.append((model, rel.field))
    return refs


def _moved_key(model: type[models.Model], fk: models.ForeignKey, refs) -> str:
    same_model = [f for m, f in refs if m is model]
    return model._meta.label if len(same_model) == 1 else f"{model._meta.label}:{fk.name}"


def _jsonable(pk):
    return pk if isinstance(pk, int) else str(pk)


def _move_rows(
    *, refs, source: Patient, target: Patient, only: dict[str, list] | None
) -> dict[str, list]:
    """Re-point rows from `source` to `target`; with `only`, exactly those primary keys."""
    moved: dict[str, list] = {}
    for model, fk in refs:
        key = _moved_key(model, fk, refs)
        qs = model._base_manager.filter(**{fk.name: source})
        if only is not None:
            if not only.get(key):
                continue
            qs = qs.filter(pk__in=only[key])
        if model in _GUARDIAN:
            holder = _GUARDIAN[model]
            qs = qs.exclude(
                Exists(
                    model._base_manager.filter(
                        **{fk.name: target},
                        **{holder: OuterRef(holder)},
                        permission=OuterRef("permission"),
                    )
                )
            )
        pks = list(qs.values_list("pk", flat=True))
        if not pks:
            continue
        try:
            with transaction.atomic():
                model._base_manager.filter(pk__in=pks).update(**{fk.name: target})
        except IntegrityError as exc:
            raise MergeConflictError(
                _("Không gộp được: hai hồ sơ có dữ liệu không thể cùng tồn tại (%(model)s).")
                % {"model": model._meta.verbose_name}
            ) from exc
        moved[key] = [_jsonable(pk) for pk in pks]
    return moved


@transaction.atomic
def patient_merge(
    *, actor, facility: Facility, survivor: Patient, merged: Patient, reason: str
) -> PatientMerge:
    """Merge two records of one person: every row of `merged` moves to `survivor`, reversibly."""
    require_perm(actor, "patients.merge_patient", facility)
    if survivor.pk == merged.pk:
        raise DomainError(_("Không thể gộp một hồ sơ vào chính nó."))
    if not clean_text(reason):
        raise ValidationError({"reason": [_("Cần ghi lý do gộp hồ sơ.")]})
    # Lock both in id order: two merges of the same pair cannot deadlock.
    locked = {
        p.pk: p
        for p in Patient.objects.select_for_update(no_key=True)
        .filter(pk__in=[survivor.pk, merged.pk])
        .order_by("pk")
    }
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    for p in (survivor, merged):
        if p.status != PatientStatus.ACTIVE or p.voided_at is not None:
            raise DomainError(_("Hồ sơ số %(id)s đã được gộp hoặc hủy trước đó.") % {"id": p.pk})
    require_visible(actor, survivor, merged)
    for p in (survivor, merged):
        patient_version_record(p, actor=actor)

    moved = _move_rows(refs=_patient_references(), source=merged, target=survivor, only=None)
    DuplicateCandidate.objects.filter(
        models.Q(patient=merged) | models.Q(candidate=merged)
    ).delete()  # derived data; the survivor's list is recomputed on commit
    merged.status, merged.merged_into = PatientStatus.MERGED, survivor
    merged.version += 1
    merged.save(update_fields=["status", "merged_into", "version", "updated_at"])
    survivor.version += 1
    survivor.save(update_fields=["version", "updated_at"])
    merge = PatientMerge.objects.create(
        survivor=survivor,
        merged=merged,
        reason=clean_text(reason)[:500],
        moved=moved,
        merged_by=actor,
    )
    counts = {k: len(v) for k, v in moved.items()}
    for patient_id, role in ((survivor.pk, "survivor"), (merged.pk, "merged")):
        audit_record(
            actor=actor,
            action="patient.merge",
            target=merge,
            patient_id=patient_id,
            detail={
                "facility_id": facility.pk,
                "role": role,
                "moved": counts,
                "survivor_id": survivor.pk,
                "merged_id": merged.pk,
            },
        )
    enqueue_duplicates_recompute(survivor.pk)
    return merge


@transaction.atomic
def patient_merge_reverse(
    *, actor, facility: Facility, merge: PatientMerge, reason: str
) -> PatientMerge:
    """Undo a merge (admins only): exactly the rows that moved go back; the record is active again."""
    require_perm(actor, "patients.merge_patient", facility)
    if not clean_text(reason):
        raise ValidationError({"reason": [_("Cần ghi lý do tách hồ sơ.")]})
    merge = PatientMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.reversed_at is not None:
        raise DomainError(_("Lần gộp này đã được hoàn tác."))
    locked = {
        p.pk: p
        for p in Patient.objects.select_for_update(no_key=True)
        .filter(pk__in=[merge.survivor_id, merge.merged_id])
        .order_by("pk")
    }
    survivor, merged = locked[merge.survivor_id], locked[merge.merged_id]
    if survivor.status != PatientStatus.ACTIVE:
        raise DomainError(_("Hồ sơ giữ lại đã được gộp tiếp; hãy hoàn tác lần gộp sau trước."))
    require_visible(actor, survivor)
    for p in (survivor, merged):
        patient_version_record(p, actor=actor)

    _move_rows(refs=_patient_references(), source=survivor, target=merged, only=merge.moved)
    merged.status, merged.merged_into = PatientStatus.ACTIVE, None
    merged.version += 1
    merged.save(update_fields=["status", "merged_into", "version", "updated_at"])
    survivor.version += 1
    survivor.save(update_fields=["version", "updated_at"])
    merge.reversed_at, merge.reversed_by = timezone.now(), actor
    merge.reverse_reason = clean_text(reason)[:500]
    merge.save(update_fields=["reversed_at", "reversed_by", "reverse_reason"])
    for patient_id, role in ((survivor.pk, "survivor"), (merged.pk, "merged")):
        audit_record(
            actor=actor,
            action="patient.merge_reverse",
            target=merge,
            patient_id=patient_id,
            detail={
                "facility_id": facility.pk,
                "role": role,
                "survivor_id": survivor.pk,
                "merged_id": merged.pk,
            },
        )
    enqueue_duplicates_recompute(survivor.pk)
    enqueue_duplicates_recompute(merged.pk)
    return merge
