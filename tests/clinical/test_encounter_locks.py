"""`encounters_for_update`, the batches' prepared row lock: the rows it returns stay locked to
another session until the transaction ends."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connections, transaction

from patients.clinical.common import encounters_for_update
from patients.models import Encounter
from tests.clinical.factories import make_encounter

LOCK_NOWAIT = "SELECT id FROM patients_encounter WHERE id = %s FOR UPDATE NOWAIT"


@pytest.mark.django_db(transaction=True)
def test_the_encounters_stay_locked_until_the_commit(facility):
    first, second = make_encounter(facility=facility), make_encounter(facility=facility)
    other = connections.create_connection("default")  # a second session
    try:
        with transaction.atomic():
            # ids of no row (too large, missing) match nothing, as in the ORM
            got = encounters_for_update([second.pk, first.pk, second.pk + 1000, 2**70])
            assert list(got) == sorted([first.pk, second.pk])
            assert got[first.pk].claim_key == Encounter.objects.get(pk=first.pk).claim_key
            with pytest.raises(OperationalError), other.cursor() as cursor:
                cursor.execute(LOCK_NOWAIT, [first.pk])
        with other.cursor() as cursor:  # committed: the row is free
            cursor.execute(LOCK_NOWAIT, [first.pk])
            assert cursor.fetchone() == (first.pk,)
    finally:
        other.close()
