"""`patient_register_many`: a batch registers exactly what `patient_register` registers item by
item, all or nothing, in a number of statements that does not grow with the batch."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ehealth.core.exceptions import DuplicateIdentifierError
from ehealth.core.models import AuditEvent, Role
from patients import services
from patients.choices import IdentifierSystem, Sex
from patients.models import Patient, PatientIdentifier, RecordNumberCounter
from patients.services import (
    BatchItemError,
    DuplicateInBatch,
    SimilarPatientsFound,
    patient_register,
    patient_register_many,
)
from tests.core.factories import make_staff
from tests.patients.factories import make_patient, patient_input, unique_card

pytestmark = pytest.mark.django_db

# Columns that differ between any two registrations.
_OWN = {"id", "uuid", "created_at", "updated_at", "full_name"}


@pytest.fixture
def queued(monkeypatch):
    """The patient ids handed to the duplicate recompute, per call."""
    calls: list[list[int]] = []
    monkeypatch.setattr(services, "_enqueue_duplicates_recompute_many", calls.append)
    return calls


def _row(patient: Patient) -> dict:
    patient.refresh_from_db()
    return {f.attname: getattr(patient, f.attname) for f in Patient._meta.concrete_fields}


def _identifiers(patient: Patient) -> list[tuple[str, str | None]]:
    rows = PatientIdentifier.objects.filter(patient=patient, voided_at__isnull=True)
    return sorted((i.system, i.facility_id) for i in rows)


def test_a_batch_registers_what_patient_register_registers_item_by_item(
    receptionist, facility, queued
):
    # given the same form registered alone and in a batch of three (card: its BHXH number too)
    single = patient_register(
        actor=receptionist, facility=facility, data=patient_input(bhyt_card=unique_card())
    )
    datas = [patient_input(bhyt_card=unique_card(), full_name=f"Lê Văn {n}") for n in "ABC"]
    # when
    batch = patient_register_many(actor=receptionist, facility=facility, datas=datas)
    # then each batch patient has the single one's columns (apart from its own), identifiers ...
    assert [p.full_name for p in batch] == ["Lê Văn A", "Lê Văn B", "Lê Văn C"]
    expected = {k: v for k, v in _row(single).items() if k not in _OWN}
    for patient, data in zip(batch, datas, strict=True):
        assert {k: v for k, v in _row(patient).items() if k not in _OWN} == expected
        assert _identifiers(patient) == _identifiers(single)
        assert PatientIdentifier.objects.get(patient=patient, system="cccd").value == data.cccd
    # ... the next record numbers of the unit, in order
    mrns = [
        PatientIdentifier.objects.get(patient=p, system=IdentifierSystem.MRN).value for p in batch
    ]
    assert mrns == [f"{facility.code}-00000{n}" for n in (2, 3, 4)]
    assert RecordNumberCounter.objects.get(facility=facility).last_number == 4
    # ... an audit entry each, like the single one's (ids only), and one duplicate recompute
    first = AuditEvent.objects.get(action="patient.create", patient_id=single.pk)
    for patient in batch:
        event = AuditEvent.objects.get(action="patient.create", patient_id=patient.pk)
        mrn = PatientIdentifier.objects.get(patient=patient, system=IdentifierSystem.MRN)
        assert (event.actor, event.target_type, event.target_id) == (
            receptionist,
            "patients.Patient",
            str(patient.pk),
        )
        assert (event.role, event.facility_id, event.channel) == (
            first.role,
            first.facility_id,
            first.channel,
        )
        assert event.detail == {**first.detail, "record_number_id": mrn.pk}
    assert queued == [[p.pk for p in batch]]


def test_the_first_refused_item_is_raised_with_patient_register_s_error_and_nothing_is_kept(
    receptionist, facility, queued
):
    # given a batch whose 2nd item holds a CCCD already registered and whose 3rd is invalid
    taken = make_patient(facility)
    owner_cccd = PatientIdentifier.objects.create(
        patient=taken, system=IdentifierSystem.CCCD, value=patient_input().cccd
    ).value
    datas = [
        patient_input(full_name="Lê A"),
        patient_input(full_name="Lê B", cccd=owner_cccd),
        patient_input(full_name=""),
    ]
    before = Patient.objects.count()
    # when
    with pytest.raises(BatchItemError) as caught:
        patient_register_many(actor=receptionist, facility=facility, datas=datas)
    # then the error is the 2nd item's, as patient_register raises it for that form
    assert caught.value.index == 1
    with pytest.raises(DuplicateIdentifierError) as alone:
        patient_register(actor=receptionist, facility=facility, data=datas[1])
    error = caught.value.error
    assert isinstance(error, DuplicateIdentifierError)
    assert (error.field, error.message, error.existing_patient_id) == (
        alone.value.field,
        alone.value.message,
        taken.pk,
    )
    # and nothing of the batch was written
    assert Patient.objects.count() == before
    assert not AuditEvent.objects.filter(action="patient.create").exists()
    assert queued == []


def test_an_invalid_item_is_refused_with_its_validation_error(receptionist, facility, queued):
    datas = [patient_input(), patient_input(full_name="")]
    with pytest.raises(BatchItemError) as caught:
        patient_register_many(actor=receptionist, facility=facility, datas=datas)
    assert caught.value.index == 1
    assert isinstance(caught.value.error, ValidationError)
    assert "full_name" in caught.value.error.message_dict
    assert not Patient.objects.exists()


def test_similar_patients_stop_the_batch_unless_confirmed(receptionist, facility, queued):
    # given a patient like the batch's second form (same name, sex and date of birth)
    make_patient(facility, full_name="Nguyễn Văn An", sex=Sex.MALE, birth_date=date(1985, 5, 12))
    other = patient_input(
        full_name="Lê Thị Hoa", sex=Sex.FEMALE, birth_date=date(1970, 1, 2), phone="0914000111"
    )
    datas = [other, patient_input()]
    with pytest.raises(SimilarPatientsFound):  # as patient_register refuses that form
        patient_register(actor=receptionist, facility=facility, data=datas[1])
    # when unconfirmed: refused at that item, as patient_register would refuse it
    with pytest.raises(BatchItemError) as caught:
        patient_register_many(actor=receptionist, facility=facility, datas=datas)
    assert caught.value.index == 1 and isinstance(caught.value.error, SimilarPatientsFound)
    # when confirmed: registered
    batch = patient_register_many(
        actor=receptionist, facility=facility, datas=datas, allow_similar=True
    )
    assert len(batch) == 2


def test_an_identifier_twice_in_the_batch_is_left_to_one_by_one(receptionist, facility, queued):
    data = patient_input()
    with pytest.raises(DuplicateInBatch):
        patient_register_many(actor=receptionist, facility=facility, datas=[data, data])
    assert not Patient.objects.exists()


def test_a_batch_needs_the_permission_at_that_facility(facility, other_facility, queued):
    elsewhere = make_staff(other_facility, Role.RECEPTIONIST)
    with pytest.raises(PermissionDenied):
        patient_register_many(actor=elsewhere, facility=facility, datas=[patient_input()])
    assert patient_register_many(actor=elsewhere, facility=other_facility, datas=[]) == []


def test_statements_do_not_grow_with_the_batch(receptionist, facility, queued):
    patient_register_many(
        actor=receptionist, facility=facility, datas=[patient_input()], allow_similar=True
    )

    def statements(size: int) -> int:
        datas = [patient_input(bhyt_card=unique_card()) for _ in range(size)]
        with CaptureQueriesContext(connection) as ctx:
            patient_register_many(
                actor=receptionist, facility=facility, datas=datas, allow_similar=True
            )
        return len(ctx.captured_queries)

    assert statements(2) == statements(25)
