"""Registration, enrolment, update and sharing of the city-wide registry, on PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction

from ehealth.core.exceptions import ConcurrentEditError, DuplicateIdentifierError
from ehealth.core.models import AuditEvent, Role
from patients import services
from patients.choices import IdentifierSystem, Sex
from patients.models import Patient, PatientIdentifier, RecordNumberCounter
from patients.selectors import patient_visible_qs
from patients.services import (
    SimilarPatientsFound,
    patient_enroll,
    patient_register,
    patient_share_with_facility,
    patient_unshare_with_facility,
    patient_update,
)
from tests.core.factories import make_staff
from tests.patients.factories import (
    AdminUnitFactory,
    make_patient,
    patient_input,
    unique_card,
    unique_cccd,
)

pytestmark = pytest.mark.django_db


def _live(patient, system):
    return list(
        PatientIdentifier.objects.filter(
            patient=patient, system=system, voided_at__isnull=True
        ).values_list("value", flat=True)
    )


# --- register ----------------------------------------------------------------------------


def test_register_creates_patient_identifiers_record_number_and_audit(receptionist, facility):
    # given a valid form with a CCCD and a BHYT card
    card = unique_card()
    data = patient_input(bhyt_card=card)
    # when
    patient = patient_register(actor=receptionist, facility=facility, data=data)
    # then the patient, city-wide identifiers (the card implies its BHXH number) and an MRN exist
    patient.refresh_from_db()
    assert patient.full_name == "Nguyễn Văn An"
    assert patient.birth_year == 1985
    assert patient.version == 1
    assert _live(patient, IdentifierSystem.CCCD) == [data.cccd]
    assert _live(patient, IdentifierSystem.BHYT) == [card]
    assert _live(patient, IdentifierSystem.SOCIAL_INSURANCE) == [card[5:]]
    mrn = PatientIdentifier.objects.get(patient=patient, system=IdentifierSystem.MRN)
    assert mrn.facility == facility
    assert mrn.value == f"{facility.code}-000001"
    # and one audit entry, with ids only
    event = AuditEvent.objects.get(action="patient.create")
    assert (event.actor, event.patient_id, event.target_id) == (
        receptionist,
        patient.pk,
        str(patient.pk),
    )
    assert data.cccd not in str(event.detail)
    assert "Nguyễn" not in str(event.detail)


def test_record_numbers_are_sequential_per_facility(receptionist, facility, other_facility):
    # given a receptionist at two facilities
    from ehealth.core.models import StaffMembership
    from ehealth.core.permissions import forget_cached_permissions

    StaffMembership.objects.create(
        user=receptionist, facility=other_facility, role=Role.RECEPTIONIST
    )
    forget_cached_permissions(receptionist)
    # when three patients are registered
    a = patient_register(
        actor=receptionist, facility=facility, data=patient_input(full_name="Lê A")
    )
    b = patient_register(
        actor=receptionist, facility=facility, data=patient_input(full_name="Lê B")
    )
    c = patient_register(
        actor=receptionist, facility=other_facility, data=patient_input(full_name="Lê C")
    )
    # then
    assert _live(a, IdentifierSystem.MRN) == [f"{facility.code}-000001"]
    assert _live(b, IdentifierSystem.MRN) == [f"{facility.code}-000002"]
    assert _live(c, IdentifierSystem.MRN) == [f"{other_facility.code}-000001"]
    assert RecordNumberCounter.objects.get(facility=facility).last_number == 2


def test_record_number_skips_numbers_written_without_the_counter(receptionist, facility):
    # given an imported patient holding the next number, unknown to the counter
    imported = make_patient()
    PatientIdentifier.objects.create(
        patient=imported,
        system=IdentifierSystem.MRN,
        value=f"{facility.code}-000001",
        facility=facility,
    )
    # when
    patient = patient_register(actor=receptionist, facility=facility, data=patient_input())
    # then the counter resyncs instead of failing
    assert _live(patient, IdentifierSystem.MRN) == [f"{facility.code}-000002"]


@pytest.mark.parametrize(
    ("field", "system"),
    [
        ("cccd", IdentifierSystem.CCCD),
        ("bhyt_card", IdentifierSystem.BHYT),
        ("social_insurance_number", IdentifierSystem.SOCIAL_INSURANCE),
        ("passport", IdentifierSystem.PASSPORT),
    ],
)
def test_same_identifier_is_refused_naming_the_field(receptionist, facility, field, system):
    # given a patient holding one identifier
    value = {
        "cccd": unique_cccd(),
        "bhyt_card": unique_card(),
        "social_insurance_number": "4812345678",
        "passport": "B1234567",
    }[field]
    first = make_patient(facility, identifiers={system: value})
    # when a second registration, otherwise different, gives the same value
    data = patient_input(full_name="Phạm Văn Hòa", **{field: value})
    if field != "cccd":
        data.cccd = ""
    # then
    with pytest.raises(DuplicateIdentifierError) as exc:
        patient_register(actor=receptionist, facility=facility, data=data)
    assert exc.value.field == field
    assert exc.value.existing_patient_id == first.pk
    assert "đã được đăng ký" in exc.value.message
    assert Patient.objects.count() == 1
    assert not AuditEvent.objects.filter(action="patient.create").exists()


def test_card_of_a_known_social_insurance_number_is_a_duplicate(receptionist, facility):
    # given a patient known by social insurance number only
    first = make_patient(facility, identifiers={IdentifierSystem.SOCIAL_INSURANCE: "4800000042"})
    # when a new card carries that number in characters 6–15
    data = patient_input(full_name="Võ Thị Hà", bhyt_card="HT3484800000042", cccd="")
    # then
    with pytest.raises(DuplicateIdentifierError) as exc:
        patient_register(actor=receptionist, facility=facility, data=data)
    assert (exc.value.field, exc.value.existing_patient_id) == ("bhyt_card", first.pk)


def test_invalid_input_saves_nothing(receptionist, facility):
    with pytest.raises(ValidationError) as exc:
        patient_register(actor=receptionist, facility=facility, data=patient_input(cccd="048085"))
    assert "cccd" in exc.value.message_dict
    assert not Patient.objects.exists()
    assert not AuditEvent.objects.exists()


def test_similar_patients_are_found_ranked_before_creating(receptionist, facility):
    # given three existing records: same person (date + commune), same name and year, other name
    commune = AdminUnitFactory()
    best = make_patient(
        facility,
        full_name="Nguyễn Văn An",
        sex=Sex.MALE,
        birth_date=date(1985, 5, 12),
        commune=commune,
        province_id=commune.province_id,
    )
    weaker = make_patient(
        facility, full_name="NGUYEN VAN AN", sex=Sex.MALE, birth_date=None, birth_year=1985
    )
    make_patient(facility, full_name="Trần Văn Bảy", sex=Sex.MALE, birth_date=date(1985, 5, 12))
    # when registering "Nguyễn Văn An" born 12/05/1985 in the same commune, without a CCCD
    data = patient_input(cccd="", commune_code=commune.code)
    with pytest.raises(SimilarPatientsFound) as exc:
        patient_register(actor=receptionist, facility=facility, data=data)
    # then the candidates come ranked, with reasons, and nothing was created
    candidates = exc.value.candidates
    assert [c.patient.pk for c in candidates] == [best.pk, weaker.pk]
    assert candidates[0].score > candidates[1].score
    assert "Trùng ngày sinh" in candidates[0].reasons
    assert "Cùng xã/phường" in candidates[0].reasons
    assert "Trùng năm sinh" in candidates[1].reasons
    assert Patient.objects.count() == 3
    # and confirming registers anyway
    patient = patient_register(actor=receptionist, facility=facility, data=data, allow_similar=True)
    assert patient.pk not in (best.pk, weaker.pk)
    assert AuditEvent.objects.get(action="patient.create").detail["similar_confirmed"] is True


def test_register_requires_the_permission_at_that_facility(facility, other_facility):
    nurse = make_staff(facility, Role.NURSE)
    elsewhere = make_staff(other_facility, Role.RECEPTIONIST)
    for actor in (nurse, elsewhere):
        with pytest.raises(PermissionDenied):
            patient_register(actor=actor, facility=facility, data=patient_input())
    assert not Patient.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_database_error_mid_registration_leaves_nothing_behind(receptionist, facility, monkeypatch):
    # given the database fails after the patient and its identifiers were inserted
    def failing_issue(*, patient, facility):
        assert PatientIdentifier.objects.filter(patient=patient).exists()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")  # a real PostgreSQL error (division_by_zero)

    monkeypatch.setattr(services, "_record_number_issue", failing_issue)
    # when
    with pytest.raises(DatabaseError):
        patient_register(actor=receptionist, facility=facility, data=patient_input())
    # then nothing was committed: no patient, no identifier, no audit entry
    assert not Patient.objects.exists()
    assert not PatientIdentifier.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_failure_after_audit_rolls_the_audit_back(receptionist, facility, monkeypatch):
    # given the last step of the registration fails after the audit entry was written
    def fail_after(patient_id):
        raise DatabaseError("late failure")

    monkeypatch.setattr(services, "_enqueue_duplicates_recompute", fail_after)
    # when
    with pytest.raises(DatabaseError):
        patient_register(actor=receptionist, facility=facility, data=patient_input())
    # then the audit entry written in the same transaction is gone with the patient
    assert not AuditEvent.objects.exists()
    assert not Patient.objects.exists()


# --- enroll --------------------------------------------------------------------------------


def test_enroll_gives_a_record_number_once(facility, other_facility):
    # given a patient registered elsewhere and a receptionist here who cannot see them yet
    patient = make_patient(other_facility)
    receptionist = make_staff(facility, Role.RECEPTIONIST)
    assert not patient_visible_qs(user=receptionist).filter(pk=patient.pk).exists()
    # when enrolled twice
    first = patient_enroll(actor=receptionist, facility=facility, patient=patient)
    second = patient_enroll(actor=receptionist, facility=facility, patient=patient)
    # then one record number here, the patient is visible, one audit entry
    assert first.pk == second.pk
    assert first.facility == facility
    assert patient_visible_qs(user=receptionist).filter(pk=patient.pk).exists()
    assert AuditEvent.objects.filter(action="patient.enroll", patient_id=patient.pk).count() == 1


# --- update --------------------------------------------------------------------------------


def test_update_changes_fields_voids_replaced_identifiers_and_audits_names_only(
    receptionist, facility
):
    # given a registered patient
    patient = patient_register(actor=receptionist, facility=facility, data=patient_input())
    old_cccd = _live(patient, IdentifierSystem.CCCD)[0]
    new_cccd = unique_cccd()
    data = services.PatientInput.from_patient(patient)
    data.phone, data.cccd, data.occupation = "0912000111", new_cccd, "Giáo viên"
    # when
    patient = patient_update(
        actor=receptionist, facility=facility, patient=patient, data=data, expected_version=1
    )
    # then
    patient.refresh_from_db()
    assert (patient.phone, patient.occupation, patient.version) == ("0912000111", "Giáo viên", 2)
    assert _live(patient, IdentifierSystem.CCCD) == [new_cccd]
    voided = PatientIdentifier.objects.get(value=old_cccd)
    assert voided.voided_at is not None and voided.voided_by == receptionist
    assert voided.void_reason
    event = AuditEvent.objects.get(action="patient.update")
    assert event.detail["fields"] == ["cccd", "occupation", "phone"]
    assert new_cccd not in str(event.detail) and "0912000111" not in str(event.detail)


def test_stale_version_is_refused(receptionist, facility):
    patient = patient_register(actor=receptionist, facility=facility, data=patient_input())
    data = services.PatientInput.from_patient(patient)
    data.phone = "0912000111"
    patient_update(
        actor=receptionist, facility=facility, patient=patient, data=data, expected_version=1
    )
    # when a second user saves the form they loaded at version 1
    data.phone = "0912000222"
    with pytest.raises(ConcurrentEditError):
        patient_update(
            actor=receptionist, facility=facility, patient=patient, data=data, expected_version=1
        )
    patient.refresh_from_db()
    assert (patient.phone, patient.version) == ("0912000111", 2)


def test_update_to_an_identifier_of_another_patient_is_refused(receptionist, facility):
    other = make_patient(facility, identifiers={IdentifierSystem.CCCD: unique_cccd()})
    taken = _live(other, IdentifierSystem.CCCD)[0]
    patient = patient_register(actor=receptionist, facility=facility, data=patient_input())
    data = services.PatientInput.from_patient(patient)
    data.cccd = taken
    with pytest.raises(DuplicateIdentifierError) as exc:
        with transaction.atomic():
            patient_update(
                actor=receptionist,
                facility=facility,
                patient=patient,
                data=data,
                expected_version=1,
            )
    assert exc.value.field == "cccd"
    assert len(_live(patient, IdentifierSystem.CCCD)) == 1  # old one not voided: rolled back


def test_update_needs_a_record_at_the_acting_facility(facility, other_facility):
    patient = make_patient(other_facility)
    receptionist = make_staff(facility, Role.RECEPTIONIST)
    data = services.PatientInput.from_patient(patient)
    with pytest.raises(PermissionDenied):
        patient_update(
            actor=receptionist, facility=facility, patient=patient, data=data, expected_version=1
        )


# --- sharing -------------------------------------------------------------------------------


def test_share_and_unshare_with_a_facility_are_audited(doctor, facility, other_facility):
    # given a patient of the doctor's facility and a nurse elsewhere
    patient = make_patient(facility)
    nurse = make_staff(other_facility, Role.NURSE)
    assert not patient_visible_qs(user=nurse).filter(pk=patient.pk).exists()
    # when shared
    patient_share_with_facility(
        actor=doctor,
        facility=facility,
        patient=patient,
        target_facility=other_facility,
        reason="Chuyển tuyến",
    )
    # then visible there, audited
    assert patient_visible_qs(user=nurse).filter(pk=patient.pk).exists()
    share = AuditEvent.objects.get(action="patient.share")
    assert share.detail["target_facility_id"] == other_facility.pk
    # when unshared
    patient_unshare_with_facility(
        actor=doctor, facility=facility, patient=patient, target_facility=other_facility
    )
    assert not patient_visible_qs(user=nurse).filter(pk=patient.pk).exists()
    assert AuditEvent.objects.filter(action="patient.unshare", patient_id=patient.pk).exists()


def test_share_needs_a_reason(doctor, facility, other_facility):
    patient = make_patient(facility)
    with pytest.raises(ValidationError):
        patient_share_with_facility(
            actor=doctor,
            facility=facility,
            patient=patient,
            target_facility=other_facility,
            reason=" ",
        )
