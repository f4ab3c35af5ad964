"""A bed holds at most one patient: a database constraint, not only a check in Python."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from patients.models import BedOccupancy
from tests.core.factories import BedFactory
from tests.patients.factories import make_patient


@pytest.mark.django_db
def test_the_database_refuses_a_second_patient_in_an_occupied_bed():
    # given a bed with a patient in it
    bed = BedFactory()
    first, second = make_patient(), make_patient()
    BedOccupancy.objects.create(bed=bed, patient=first, started_at=timezone.now())
    # when another patient is put in the same bed, bypassing any Python check
    # then the database refuses
    with pytest.raises(IntegrityError), transaction.atomic():
        BedOccupancy.objects.create(bed=bed, patient=second, started_at=timezone.now())


@pytest.mark.django_db
def test_a_freed_bed_takes_the_next_patient():
    # given a bed whose occupancy has ended
    bed = BedFactory()
    first, second = make_patient(), make_patient()
    stay = BedOccupancy.objects.create(bed=bed, patient=first, started_at=timezone.now())
    stay.ended_at = timezone.now()
    stay.save(update_fields=["ended_at"])
    # when the next patient is put in it
    BedOccupancy.objects.create(bed=bed, patient=second, started_at=timezone.now())
    # then the bed has one open occupancy
    assert BedOccupancy.objects.filter(bed=bed, ended_at__isnull=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_nurses_filling_one_bed_at_once_leave_one_patient_in_it():
    # given a free bed and two patients
    bed = BedFactory()
    patients = [make_patient(), make_patient()]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def admit(patient):
        try:
            barrier.wait()
            with transaction.atomic():
                BedOccupancy.objects.create(bed=bed, patient=patient, started_at=timezone.now())
            outcomes.append("ok")
        except IntegrityError:
            outcomes.append("refused")
        finally:
            connection.close()

    # when both are put in the bed at the same moment
    threads = [threading.Thread(target=admit, args=(p,)) for p in patients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then exactly one succeeds and the bed holds one patient
    assert sorted(outcomes) == ["ok", "refused"]
    assert BedOccupancy.objects.filter(bed=bed, ended_at__isnull=True).count() == 1
