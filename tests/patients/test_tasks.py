"""The duplicate-candidates task: idempotent, and run by a real worker on a real broker."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pytest

from ehealth.celery import app
from patients.choices import Sex
from patients.models import DuplicateCandidate
from patients.services import patient_duplicates_recompute, patient_register
from patients.tasks import patient_duplicates_recompute_task
from tests.patients.factories import make_patient, patient_input


def test_recompute_stores_ranked_candidates_and_is_idempotent(db, facility):
    # given a patient with one likely duplicate and one unrelated record
    twin = make_patient(
        facility, full_name="Nguyễn Văn An", sex=Sex.MALE, birth_date=date(1985, 5, 12)
    )
    patient = make_patient(
        facility, full_name="Nguyen Van An", sex=Sex.MALE, birth_date=date(1985, 5, 12)
    )
    make_patient(facility, full_name="Hồ Thị Lan", sex=Sex.FEMALE, birth_date=date(1985, 5, 12))
    # when computed twice
    first = patient_duplicates_recompute(patient_id=patient.pk)
    second = patient_duplicates_recompute(patient_id=patient.pk)
    # then one stored row, same both times
    assert [(c.candidate_id, c.score) for c in first] == [(twin.pk, Decimal("0.800"))]
    assert [c.pk for c in second] == [c.pk for c in first]
    assert DuplicateCandidate.objects.filter(patient=patient).count() == 1


def test_recompute_drops_candidates_that_no_longer_match(db, facility):
    twin = make_patient(facility, full_name="Lê Văn Tám", sex=Sex.MALE)
    patient = make_patient(facility, full_name="Lê Văn Tám", sex=Sex.MALE)
    patient_duplicates_recompute(patient_id=patient.pk)
    twin.full_name = "Phan Thị Cúc"
    twin.save()
    assert patient_duplicates_recompute(patient_id=patient.pk) == []
    assert not DuplicateCandidate.objects.filter(patient=patient).exists()


def test_task_takes_an_id_and_ignores_a_missing_patient(db):
    assert patient_duplicates_recompute_task.run(987654321) == 0


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_registration_queues_the_task_and_a_real_worker_stores_candidates(
    celery_worker, receptionist, facility
):
    # given the test process sends to the broker (not eager) and a worker runs in another process
    assert app.conf.task_always_eager is False
    twin = make_patient(
        facility, full_name="Nguyễn Văn An", sex=Sex.MALE, birth_date=date(1985, 5, 12)
    )
    # when a similar patient is registered (confirmed) and the transaction commits
    patient = patient_register(
        actor=receptionist, facility=facility, data=patient_input(), allow_similar=True
    )
    # then the worker computes and stores the candidates
    deadline = time.monotonic() + 30
    rows = []
    while time.monotonic() < deadline:
        rows = list(DuplicateCandidate.objects.filter(patient=patient))
        if rows:
            break
        time.sleep(0.2)
    assert [(r.candidate_id, r.score) for r in rows] == [(twin.pk, Decimal("0.800"))]
    assert "Trùng ngày sinh" in rows[0].reasons
    log = celery_worker.read_text(errors="replace")
    assert "patients.tasks.patient_duplicates_recompute_task" in log
    assert "succeeded" in log
