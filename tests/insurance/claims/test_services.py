"""Building dossier versions: statuses, corrections after a rejection, old versions readable."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from ehealth.core.models import AuditEvent
from insurance.claims.envelope import envelope_tables, envelope_verify
from insurance.claims.models import Dossier, DossierStatus, DossierVersion, IllegalDossierMove
from insurance.claims.services import DossierNotBuildable, dossier_build, dossier_version
from patients.models import Diagnosis
from tests.insurance.claims.records import inpatient_stay, outpatient_visit

pytestmark = pytest.mark.django_db


def build(s, **kwargs):
    return dossier_build(
        actor=s.officer, facility=s.facility, encounter=s.encounter, charges=s.charges, **kwargs
    )


def test_build_makes_a_ready_signed_version_one_and_audits_it(signing):
    # given
    s = inpatient_stay()
    # when
    version = build(s)
    # then
    dossier = Dossier.objects.get(pk=version.dossier_id)
    assert (version.number, version.errors) == (1, [])
    assert dossier.status == DossierStatus.READY
    assert dossier.claim_key == s.encounter.claim_key
    assert (dossier.settlement_year, dossier.settlement_month) == (2026, 11)
    assert dossier.total_hospital == Decimal("1550000.00")
    assert dossier.total_fund == Decimal("1453500.00")
    verified = envelope_verify(version.envelope.encode(), cert_pem=signing.cert_pem)
    (tables,) = envelope_tables(verified)
    assert {k: v.decode() for k, v in tables.items()} == version.tables
    assert AuditEvent.objects.filter(
        action="claims.dossier_build", patient_id=s.encounter.patient_id
    ).exists()


def test_a_defect_makes_the_dossier_invalid_with_the_issue_stored(signing):
    # given
    s = outpatient_visit()
    Diagnosis.objects.filter(encounter=s.encounter, rank=0).update(
        voided_at=s.encounter.ended_at, void_reason="nhập nhầm"
    )
    # when
    version = build(s)
    # then
    assert version.dossier.status == DossierStatus.INVALID
    assert [(e["table"], e["field"], e["rule_code"]) for e in version.errors] == [
        ("XML1", "MA_BENH_CHINH", "REQUIRED")
    ]


def test_correction_after_rejection_makes_version_two_and_version_one_stays_readable(signing):
    # given: version 1 sent and rejected by the insurer
    s = outpatient_visit()
    v1 = build(s)
    dossier = v1.dossier
    dossier.move_to(DossierStatus.SENT)
    dossier.move_to(DossierStatus.REJECTED)
    dossier.rejection_reasons = [{"code": "ICD", "message": "Mã bệnh chính không phù hợp"}]
    dossier.save()
    # ... and the doctor's record corrected: J06.9 becomes the secondary I10's main? No: a new
    # main diagnosis replaces the old one.
    old = Diagnosis.objects.get(encounter=s.encounter, rank=0)
    old.voided_at, old.void_reason = s.encounter.ended_at, "sửa theo giám định"
    old.save()
    from tests.clinical.factories import make_icd

    make_icd("J20.9", "Viêm phế quản cấp")
    Diagnosis.objects.create(
        encounter=s.encounter, phase=old.phase, icd_code="J20.9", text="Viêm phế quản cấp",
        rank=0, recorded_by=s.doctor, recorded_at=s.encounter.ended_at,
    )  # fmt: skip
    # when
    v2 = build(s, reason="Sửa mã bệnh chính theo ý kiến giám định")
    # then
    dossier.refresh_from_db()
    assert (v2.number, dossier.current_version, dossier.status) == (2, 2, DossierStatus.READY)
    assert "<MA_BENH_CHINH>J20.9</MA_BENH_CHINH>" in v2.tables["XML1"]
    first = dossier_version(actor=s.officer, dossier=dossier, number=1)
    assert "<MA_BENH_CHINH>J06.9</MA_BENH_CHINH>" in first.tables["XML1"]
    assert first.envelope == v1.envelope
    assert dossier_version(actor=s.officer, dossier=dossier).number == 2
    assert DossierVersion.objects.filter(dossier=dossier).count() == 2


def test_rejected_dossier_needs_a_reason_to_be_corrected(signing):
    # given
    s = outpatient_visit()
    dossier = build(s).dossier
    dossier.move_to(DossierStatus.SENT)
    dossier.move_to(DossierStatus.REJECTED)
    dossier.save()
    # when / then
    with pytest.raises(DossierNotBuildable):
        build(s)
    assert DossierVersion.objects.filter(dossier=dossier).count() == 1


@pytest.mark.parametrize("status", [DossierStatus.SENT, DossierStatus.ACCEPTED, DossierStatus.PAID])
def test_sent_accepted_or_paid_dossier_is_never_rebuilt(signing, status):
    # given
    s = outpatient_visit()
    dossier = build(s).dossier
    Dossier.objects.filter(pk=dossier.pk).update(status=status)
    # when / then
    with pytest.raises(DossierNotBuildable):
        build(s, reason="thử")
    assert DossierVersion.objects.filter(dossier=dossier).count() == 1


def test_status_moves_follow_the_state_machine():
    # given
    dossier = Dossier(status=DossierStatus.READY)
    # when / then
    with pytest.raises(IllegalDossierMove):
        dossier.move_to(DossierStatus.PAID)
    dossier.move_to(DossierStatus.SENT)
    with pytest.raises(IllegalDossierMove):
        dossier.move_to(DossierStatus.READY)
    dossier.move_to(DossierStatus.ACCEPTED)
    dossier.move_to(DossierStatus.PAID)
    assert dossier.status == DossierStatus.PAID


def test_only_an_insurance_officer_of_the_unit_builds_dossiers(signing):
    # given
    s = outpatient_visit()
    # when / then: the doctor has no claims permission
    with pytest.raises(PermissionDenied):
        dossier_build(actor=s.doctor, facility=s.facility, encounter=s.encounter, charges=s.charges)
    assert not Dossier.objects.exists()


def test_open_visit_or_visit_without_card_is_not_claimable(signing):
    # given
    s = outpatient_visit()
    s.encounter.status = "in_examination"
    s.encounter.save(update_fields=["status"])
    # when / then
    with pytest.raises(DossierNotBuildable):
        build(s)
    assert not Dossier.objects.exists()


def test_database_allows_one_dossier_per_encounter_and_unique_version_numbers(signing):
    # given
    s = outpatient_visit()
    v1 = build(s)
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        Dossier.objects.create(encounter=s.encounter, facility=s.facility, claim_key="OTHER-KEY")
    with pytest.raises(IntegrityError), transaction.atomic():
        DossierVersion.objects.create(dossier=v1.dossier, number=1)
