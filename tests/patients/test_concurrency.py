"""Races on the registry, with real concurrent transactions on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from ehealth.core.exceptions import DuplicateIdentifierError
from ehealth.core.models import AuditEvent
from patients.choices import IdentifierSystem
from patients.models import Patient, PatientIdentifier
from patients.services import patient_enroll, patient_register
from tests.core.factories import make_staff
from tests.patients.factories import make_patient, patient_input, unique_cccd

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def _race(n: int, work) -> list:
    """Run `work(i)` in n threads released together; return their results or exceptions."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_parallel_registrations_of_one_cccd_give_one_patient(facility):
    # given two receptionists about to register the same person at the same moment
    staff = [make_staff(facility), make_staff(facility)]
    cccd = unique_cccd()
    # when both submit at once (each checks "not yet registered" before the other commits)
    results = _race(
        2,
        lambda i: patient_register(
            actor=staff[i], facility=facility, data=patient_input(cccd=cccd), allow_similar=True
        ),
    )
    # then exactly one patient exists; the other registration failed cleanly, naming the field
    created = [r for r in results if isinstance(r, Patient)]
    refused = [r for r in results if isinstance(r, DuplicateIdentifierError)]
    assert len(created) == 1 and len(refused) == 1, results
    assert refused[0].field == "cccd"
    assert refused[0].existing_patient_id == created[0].pk
    assert Patient.objects.count() == 1
    assert PatientIdentifier.objects.filter(system=IdentifierSystem.CCCD).count() == 1
    assert PatientIdentifier.objects.filter(system=IdentifierSystem.MRN).count() == 1
    assert AuditEvent.objects.filter(action="patient.create").count() == 1


def test_parallel_registrations_get_distinct_record_numbers(facility):
    staff = [make_staff(facility) for _ in range(4)]
    names = ["Lê Văn Một", "Lê Văn Hai", "Lê Văn Ba", "Lê Văn Bốn"]
    results = _race(
        4,
        lambda i: patient_register(
            actor=staff[i],
            facility=facility,
            data=patient_input(full_name=names[i]),
            allow_similar=True,
        ),
    )
    assert all(isinstance(r, Patient) for r in results), results
    numbers = sorted(
        PatientIdentifier.objects.filter(system=IdentifierSystem.MRN).values_list(
            "value", flat=True
        )
    )
    assert numbers == [f"{facility.code}-{n:06d}" for n in range(1, 5)]


def test_parallel_enrolments_give_one_record_number(facility, other_facility):
    patient = make_patient(other_facility)
    staff = [make_staff(facility), make_staff(facility)]
    results = _race(2, lambda i: patient_enroll(actor=staff[i], facility=facility, patient=patient))
    assert all(isinstance(r, PatientIdentifier) for r in results), results
    assert results[0].pk == results[1].pk
    assert (
        PatientIdentifier.objects.filter(
            patient=patient, system=IdentifierSystem.MRN, facility=facility
        ).count()
        == 1
    )
