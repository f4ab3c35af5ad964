"""Merging two records of one person, and reversing it, on PostgreSQL."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from ehealth.core.exceptions import DomainError
from ehealth.core.models import AuditEvent, Role
from ehealth.core.permissions import share_with_user
from patients.choices import IdentifierSystem, PatientStatus
from patients.models import (
    BedOccupancy,
    DuplicateCandidate,
    PatientIdentifier,
    PatientMerge,
    PatientUserObjectPermission,
)
from patients.selectors import patient_visible_qs
from patients.services import MergeConflictError, patient_merge, patient_merge_reverse
from tests.core.factories import BedFactory, FacilityFactory, make_staff
from tests.patients.factories import give_record_number, make_patient, unique_card, unique_cccd

pytestmark = pytest.mark.django_db


def _owned(patient):
    return set(PatientIdentifier.objects.filter(patient=patient).values_list("pk", flat=True))


@pytest.fixture
def pair(facility, other_facility):
    """The same person registered twice: here with a CCCD, at another facility with a card."""
    survivor = make_patient(facility, identifiers={IdentifierSystem.CCCD: unique_cccd()})
    merged = make_patient(other_facility, identifiers={IdentifierSystem.BHYT: unique_card()})
    give_record_number(merged, facility)  # enrolled here too, so this unit's admin sees both
    return survivor, merged


def test_merge_moves_every_row_and_is_audited_on_both(unit_admin, facility, other_facility, pair):
    # given the merged record has identifiers, a bed, a share and a duplicate-candidate row
    survivor, merged = pair
    merged_idents = _owned(merged)
    occupancy = BedOccupancy.objects.create(
        bed=BedFactory(), patient=merged, started_at=timezone.now()
    )
    nurse = make_staff(other_facility, Role.NURSE)
    share_with_user(perm="patients.view_patient", obj=merged, user=nurse)
    DuplicateCandidate.objects.create(patient=survivor, candidate=merged, score="0.9")
    # when
    merge = patient_merge(
        actor=unit_admin, facility=facility, survivor=survivor, merged=merged, reason="Trùng người"
    )
    # then every row moved to the survivor and is recorded for reversal
    assert merged_idents <= _owned(survivor)
    assert not _owned(merged)
    occupancy.refresh_from_db()
    assert occupancy.patient_id == survivor.pk
    assert PatientUserObjectPermission.objects.get(user=nurse).content_object_id == survivor.pk
    assert sorted(merge.moved["patients.PatientIdentifier"]) == sorted(merged_idents)
    assert merge.moved["patients.BedOccupancy"] == [occupancy.pk]
    assert "patients.PatientUserObjectPermission" in merge.moved
    assert not DuplicateCandidate.objects.filter(candidate=merged).exists()
    merged.refresh_from_db()
    survivor.refresh_from_db()
    assert (merged.status, merged.merged_into_id) == (PatientStatus.MERGED, survivor.pk)
    assert survivor.version == 2
    # and the survivor is now visible where the merged record was (its record number moved)
    assert patient_visible_qs(user=nurse).filter(pk=survivor.pk).exists()
    # and both patients' trails carry the merge
    events = AuditEvent.objects.filter(action="patient.merge")
    assert sorted(e.patient_id for e in events) == sorted([survivor.pk, merged.pk])
    assert all(e.detail["moved"]["patients.PatientIdentifier"] == 3 for e in events)


def test_reverse_restores_exactly_the_moved_rows(unit_admin, facility, pair):
    # given a merge, after which the survivor got a new identifier
    survivor, merged = pair
    before_survivor, before_merged = _owned(survivor), _owned(merged)
    merge = patient_merge(
        actor=unit_admin, facility=facility, survivor=survivor, merged=merged, reason="Trùng"
    )
    later = PatientIdentifier.objects.create(
        patient=survivor, system=IdentifierSystem.PASSPORT, value="B7654321"
    )
    # when reversed
    patient_merge_reverse(actor=unit_admin, facility=facility, merge=merge, reason="Nhầm người")
    # then each identifier is back where it was; the later one stays with the survivor
    assert _owned(merged) == before_merged
    assert _owned(survivor) == before_survivor | {later.pk}
    merged.refresh_from_db()
    assert (merged.status, merged.merged_into_id) == (PatientStatus.ACTIVE, None)
    merge.refresh_from_db()
    assert merge.reversed_by == unit_admin and merge.reverse_reason == "Nhầm người"
    events = AuditEvent.objects.filter(action="patient.merge_reverse")
    assert sorted(e.patient_id for e in events) == sorted([survivor.pk, merged.pk])
    # and the record can be merged again later
    patient_merge(actor=unit_admin, facility=facility, survivor=survivor, merged=merged, reason="x")


def test_reverse_twice_is_refused(unit_admin, facility, pair):
    survivor, merged = pair
    merge = patient_merge(
        actor=unit_admin, facility=facility, survivor=survivor, merged=merged, reason="Trùng"
    )
    patient_merge_reverse(actor=unit_admin, facility=facility, merge=merge, reason="Nhầm")
    with pytest.raises(DomainError):
        patient_merge_reverse(actor=unit_admin, facility=facility, merge=merge, reason="Nhầm")


def test_merge_into_itself_is_refused(unit_admin, facility, pair):
    survivor, _ = pair
    with pytest.raises(DomainError, match="chính nó"):
        patient_merge(
            actor=unit_admin, facility=facility, survivor=survivor, merged=survivor, reason="x"
        )


def test_merging_an_already_merged_record_is_refused(unit_admin, facility, pair):
    survivor, merged = pair
    third = make_patient(facility)
    patient_merge(actor=unit_admin, facility=facility, survivor=survivor, merged=merged, reason="x")
    for a, b in ((third, merged), (merged, third)):
        with pytest.raises(DomainError, match="đã được gộp"):
            patient_merge(actor=unit_admin, facility=facility, survivor=a, merged=b, reason="x")
    assert PatientMerge.objects.count() == 1


def test_conflicting_rows_refuse_the_merge_and_change_nothing(unit_admin, facility, pair):
    # given both records lie in a bed (one open bed stay per patient is a DB constraint)
    survivor, merged = pair
    now = timezone.now()
    BedOccupancy.objects.create(bed=BedFactory(), patient=survivor, started_at=now)
    BedOccupancy.objects.create(bed=BedFactory(), patient=merged, started_at=now)
    merged_idents = _owned(merged)
    # when
    with pytest.raises(MergeConflictError):
        with transaction.atomic():
            patient_merge(
                actor=unit_admin, facility=facility, survivor=survivor, merged=merged, reason="x"
            )
    # then
    merged.refresh_from_db()
    assert merged.status == PatientStatus.ACTIVE
    assert _owned(merged) == merged_idents
    assert not PatientMerge.objects.exists()
    assert not AuditEvent.objects.filter(action="patient.merge").exists()


def test_merge_needs_the_merge_permission_and_both_visible(facility, pair):
    survivor, merged = pair
    receptionist = make_staff(facility, Role.RECEPTIONIST)
    with pytest.raises(PermissionDenied):
        patient_merge(
            actor=receptionist, facility=facility, survivor=survivor, merged=merged, reason="x"
        )
    # a unit admin of one facility cannot reach a record of another facility
    other_admin = make_staff(facility, Role.UNIT_ADMIN)
    hidden = make_patient(FacilityFactory())
    with pytest.raises(PermissionDenied):
        patient_merge(
            actor=other_admin, facility=facility, survivor=survivor, merged=hidden, reason="x"
        )
    assert not PatientMerge.objects.exists()


def test_reverse_is_for_admins_only(unit_admin, facility, pair):
    survivor, merged = pair
    merge = patient_merge(
        actor=unit_admin, facility=facility, survivor=survivor, merged=merged, reason="x"
    )
    doctor = make_staff(facility, Role.DOCTOR)
    with pytest.raises(PermissionDenied):
        patient_merge_reverse(actor=doctor, facility=facility, merge=merge, reason="x")
    merge.refresh_from_db()
    assert merge.reversed_at is None
