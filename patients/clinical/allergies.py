"""Allergies of a patient (city-wide: they follow the patient to every facility) and the match
between a drug and the recorded allergies used by the prescription safety check.

A drug matches an allergy when it is the same catalog drug, or when they share an active
ingredient (case and Vietnamese diacritics ignored; combination drugs split on '+', ',', ';',
'/' and ' và ').
"""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core import permissions
from ehealth.core.audit import audit_record
from ehealth.core.models import Drug, Facility
from patients.clinical_choices import AllergySeverity
from patients.models import Allergy, Encounter, Patient
from patients.normalize import clean_text, fold

EXAMINE_PERM = "patients.examine_encounter"
VITALS_PERM = "patients.record_vitals"


def _audit(actor, action: str, target, patient_id: int, facility: Facility, **detail) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=target,
        patient_id=patient_id,
        detail={"facility_id": facility.pk, **detail},
    )


def _require_any(actor, perms: tuple[str, ...], facility: Facility) -> None:
    if not any(permissions.has_perm_at(actor, p, facility.pk) for p in perms):
        raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này tại cơ sở này."))


def _int_id(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@transaction.atomic
def allergy_record(
    *,
    actor,
    facility: Facility,
    patient: Patient,
    substance: str = "",
    drug_id: int | None = None,
    reaction: str = "",
    severity: str = "",
    encounter: Encounter | None = None,
) -> Allergy:
    """Record an allergy of the patient; it follows the patient to every facility."""
    from patients.selectors import patient_visible_qs

    _require_any(actor, (EXAMINE_PERM, VITALS_PERM), facility)
    if not patient_visible_qs(user=actor).filter(pk=patient.pk).exists():
        raise Http404
    errors: dict[str, list[str]] = {}
    drug = None
    if drug_id not in (None, ""):
        drug = Drug.objects.filter(pk=_int_id(drug_id)).first()
        if drug is None:
            errors["drug_id"] = [_("Thuốc không có trong danh mục.")]
    substance = clean_text(substance) or (drug.active_ingredient or drug.name if drug else "")
    if not substance:
        errors["substance"] = [_("Cần ghi chất hoặc thuốc gây dị ứng.")]
    if severity and severity not in AllergySeverity.values:
        errors["severity"] = [_("Mức độ không hợp lệ.")]
    if errors:
        raise ValidationError(errors)
    if any(_same(a.substance, substance) for a in active_allergies(patient.pk)):
        raise ValidationError({"substance": [_("Dị ứng này đã được ghi nhận.")]})
    allergy = Allergy.objects.create(
        patient=patient,
        substance=substance[:255],
        drug=drug,
        active_ingredient=(drug.active_ingredient if drug else "")[:255],
        reaction=clean_text(reaction)[:500],
        severity=severity,
        recorded_by=actor,
        recorded_at=timezone.now(),
        encounter=encounter
        if encounter is not None and encounter.patient_id == patient.pk
        else None,
    )
    _audit(
        actor, "allergy.record", allergy, patient.pk, facility, drug_id=drug.pk if drug else None
    )
    return allergy


@transaction.atomic
def allergy_void(*, actor, facility: Facility, allergy: Allergy, reason: str) -> Allergy:
    """Void an allergy recorded in error (kept, with who and why)."""
    from patients.selectors import patient_visible_qs

    _require_any(actor, (EXAMINE_PERM,), facility)
    allergy = Allergy.objects.select_for_update().get(pk=allergy.pk)
    if not patient_visible_qs(user=actor).filter(pk=allergy.patient_id).exists():
        raise Http404
    if not clean_text(reason):
        raise ValidationError({"reason": [_("Cần ghi lý do huỷ.")]})
    if allergy.voided_at is None:
        allergy.voided_at, allergy.voided_by = timezone.now(), actor
        allergy.void_reason = clean_text(reason)[:500]
        allergy.save(update_fields=["voided_at", "voided_by", "void_reason"])
        _audit(actor, "allergy.void", allergy, allergy.patient_id, facility)
    return allergy


def active_allergies(patient_id: int) -> list[Allergy]:
    return list(Allergy.objects.filter(patient_id=patient_id, voided_at__isnull=True))


def _same(a: str, b: str) -> bool:
    return bool(fold(a)) and fold(a) == fold(b)


def ingredients(text: str) -> set[str]:
    """Folded active ingredients of a drug: 'Amoxicilin + Acid clavulanic' -> two entries."""
    return {fold(p) for p in re.split(r"[+,;/]| và ", text or "") if fold(p)}


def allergy_conflicts(drug: Drug, allergies: list[Allergy]) -> list[Allergy]:
    """Active allergies the drug matches: the same drug, or a shared active ingredient."""
    drug_parts = ingredients(drug.active_ingredient) or {fold(drug.name)}
    found = []
    for allergy in allergies:
        parts = ingredients(allergy.active_ingredient) | ingredients(allergy.substance)
        if allergy.drug_id == drug.pk or parts & drug_parts:
            found.append(allergy)
    return found
