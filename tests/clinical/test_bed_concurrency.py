"""Two nurses putting two patients into one bed at the same moment: one succeeds, the other gets
a clear message on `bed_id`, and the bed holds one patient (database constraint under load)."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from patients.clinical.inpatient import admission_create, bed_assign
from patients.clinical_choices import EncounterKind
from patients.models import BedOccupancy, Encounter
from tests.clinical.inpatient_factories import make_department_with_beds, nurse_at
from tests.patients.factories import make_patient


def _race(work, arguments) -> list[tuple[str, object]]:
    """Run `work(arg)` in one thread per argument, released together; collect the outcomes."""
    barrier = threading.Barrier(len(arguments))
    outcomes: list[tuple[str, object]] = []
    lock = threading.Lock()

    def run(arg):
        try:
            barrier.wait()
            result = work(arg)
            outcome = ("ok", result)
        except ValidationError as exc:
            outcome = ("refused", exc.message_dict)
        except Exception as exc:  # noqa: BLE001 - any other outcome fails the test below
            outcome = ("error", repr(exc))
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(a,)) for a in arguments]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_nurses_admitting_two_patients_into_one_bed_at_once(facility):
    # given one free bed, two nurses and two patients
    department, _ward, (bed,) = make_department_with_beds(facility, beds=1)
    nurses = [nurse_at(facility), nurse_at(facility)]
    patients = [make_patient(facility), make_patient(facility)]

    def admit(i):
        return admission_create(
            actor=nurses[i],
            facility=facility,
            patient=patients[i].pk,
            department_id=department.pk,
            bed_id=bed.pk,
            source="emergency",
            reason="Cấp cứu",
        )

    # when both admit into the bed at the same moment
    outcomes = _race(admit, [0, 1])
    # then exactly one succeeds and the other is told at the bed field, in Vietnamese
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["ok", "refused"], outcomes
    refusal = next(value for kind, value in outcomes if kind == "refused")
    assert refusal == {
        "bed_id": [f"Giường {bed.code} đã có người bệnh. Vui lòng chọn giường khác."]
    }
    # and the bed holds one patient, of the one stay that was written
    stays = Encounter.objects.filter(kind=EncounterKind.INPATIENT)
    assert stays.count() == 1
    occupancy = BedOccupancy.objects.get(bed=bed, ended_at__isnull=True)
    assert occupancy.encounter_id == stays.get().pk


@pytest.mark.django_db(transaction=True)
def test_two_nurses_assigning_one_bed_to_two_admitted_patients_at_once(facility):
    # given two patients admitted without a bed, and one free bed
    department, _ward, (bed,) = make_department_with_beds(facility, beds=1)
    nurses = [nurse_at(facility), nurse_at(facility)]
    stays = [
        admission_create(
            actor=nurses[i],
            facility=facility,
            patient=make_patient(facility),
            department_id=department.pk,
            source="emergency",
            reason="Cấp cứu",
        )
        for i in range(2)
    ]

    def assign(i):
        return bed_assign(actor=nurses[i], facility=facility, encounter=stays[i].pk, bed_id=bed.pk)

    # when both nurses give the bed at the same moment
    outcomes = _race(assign, [0, 1])
    # then one succeeds, the other gets the message on bed_id, the bed holds one patient
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
    refusal = next(value for kind, value in outcomes if kind == "refused")
    assert list(refusal) == ["bed_id"]
    assert "đã có người bệnh" in refusal["bed_id"][0]
    assert BedOccupancy.objects.filter(bed=bed, ended_at__isnull=True).count() == 1
    assert BedOccupancy.objects.count() == 1
