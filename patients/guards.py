"""Permission and state checks shared by the registry services, and the on-commit task hook."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from ehealth.core import permissions
from ehealth.core.exceptions import DomainError
from ehealth.core.models import Facility
from patients.choices import IdentifierSystem, PatientStatus
from patients.models import Patient, PatientIdentifier


def require_perm(actor, perm: str, facility: Facility) -> None:
    if not permissions.has_perm_at(actor, perm, facility.pk):
        raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này tại cơ sở này."))


def has_record_at(patient: Patient, facility: Facility) -> bool:
    return PatientIdentifier.objects.filter(
        patient=patient,
        system=IdentifierSystem.MRN,
        facility=facility,
        voided_at__isnull=True,
    ).exists()


def require_own_record(patient: Patient, facility: Facility) -> None:
    """Changes are made by a facility where the patient has a record number (not by a share)."""
    if patient.status != PatientStatus.ACTIVE or patient.voided_at is not None:
        raise DomainError(_("Hồ sơ này đã được gộp hoặc hủy, không thể thay đổi."))
    if not has_record_at(patient, facility):
        raise PermissionDenied(_("Người bệnh chưa có hồ sơ tại cơ sở này."))


def require_visible(actor, *patients: Patient) -> None:
    from patients.selectors import patient_visible_qs

    ids = {p.pk for p in patients}
    if patient_visible_qs(user=actor).filter(pk__in=ids).count() != len(ids):
        raise PermissionDenied(_("Bạn không xem được hồ sơ này."))


def enqueue_duplicates_recompute(patient_id: int) -> None:
    from patients.tasks import patient_duplicates_recompute_task

    def enqueue_duplicates_recompute() -> None:
        patient_duplicates_recompute_task.delay(patient_id)

    # robust: the registration is committed; a broker outage must not turn it into an error page.
    transaction.on_commit(enqueue_duplicates_recompute, robust=True)


def enqueue_duplicates_recompute_many(patient_ids: list[int]) -> None:
    """As `enqueue_duplicates_recompute` for each patient, in one task message (a batch of
    registrations: one broker round trip instead of one per patient)."""
    from patients.tasks import patient_duplicates_recompute_many_task

    ids = list(patient_ids)
    if not ids:
        return

    def enqueue_duplicates_recompute_many() -> None:
        patient_duplicates_recompute_many_task.delay(ids)

    transaction.on_commit(enqueue_duplicates_recompute_many, robust=True)
