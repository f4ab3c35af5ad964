"""`encounter_check_in_many`: the visits of a batch opened as `encounter_check_in` opens each,
all or nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from ehealth.core.models import AuditEvent
from patients.clinical.reception import encounter_check_in, encounter_check_in_many
from patients.clinical_choices import ArrivalMode, EncounterStatus
from patients.models import Encounter, QueueTicket
from patients.services import BatchItemError
from tests.clinical.factories import make_room
from tests.clinical.test_reception import form
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


def test_queue_numbers_continue_each_rooms_day_in_item_order(receptionist, facility):
    room_a, room_b = make_room(facility), make_room(facility)
    encounter_check_in(
        actor=receptionist, facility=facility, data=form(make_patient(facility), room_a)
    )
    patients = [make_patient(facility) for _ in range(4)]
    rooms = [room_a, room_b, room_a, room_b]
    opened = encounter_check_in_many(
        actor=receptionist,
        facility=facility,
        datas=[form(p, r) for p, r in zip(patients, rooms, strict=True)],
    )
    assert [e.status for e in opened] == [EncounterStatus.ARRIVED] * 4
    numbers = [QueueTicket.objects.get(encounter=e).number for e in opened]
    assert numbers == [2, 1, 3, 2]
    events = AuditEvent.objects.filter(
        action="encounter.check_in", target_id__in=[str(e.pk) for e in opened]
    )
    assert sorted(e.detail["queue_number"] for e in events) == [1, 2, 2, 3]
    assert {e.patient_id for e in events} == {p.pk for p in patients}


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"arrival_mode": ArrivalMode.REFERRAL}, ValidationError),  # no card, no paper
        ({"patient_id": 0}, Http404),
        ({"room_id": 0}, ValidationError),
    ],
)
def test_the_first_refused_item_is_raised_with_its_index_and_nothing_is_written(
    receptionist, facility, bad, error
):
    room = make_room(facility)
    datas = [form(make_patient(facility), room) for _ in range(3)]
    for i in (1, 2):
        datas[i] = form(make_patient(facility), room, **bad)
    with pytest.raises(BatchItemError) as caught:
        encounter_check_in_many(actor=receptionist, facility=facility, datas=datas)
    assert caught.value.index == 1 and isinstance(caught.value.error, error)
    assert not Encounter.objects.exists() and not QueueTicket.objects.exists()


def test_the_check_in_permission_is_needed(doctor, facility):
    room = make_room(facility)
    with pytest.raises(PermissionDenied):
        encounter_check_in_many(
            actor=doctor, facility=facility, datas=[form(make_patient(facility), room)]
        )
    assert not Encounter.objects.exists()


def test_patients_and_rooms_the_caller_loaded_are_not_read_again(receptionist, facility):
    room = make_room(facility)
    patients = [make_patient(facility) for _ in range(5)]
    datas = [form(p, room) for p in patients]
    encounter_check_in_many(actor=receptionist, facility=facility, datas=datas[:1])  # warm caches
    given = {"patients": {p.pk: p for p in patients[1:3]}, "rooms": {room.pk: room}}
    # a patient missing from those given is unknown, as a missing one (nothing written)
    with pytest.raises(BatchItemError) as caught:
        encounter_check_in_many(actor=receptionist, facility=facility, datas=datas[:3], **given)
    assert caught.value.index == 0 and isinstance(caught.value.error, Http404)
    assert not Encounter.objects.filter(patient__in=patients[1:3]).exists()
    # with them, the statements of the batch read neither the patients nor the rooms
    with CaptureQueriesContext(connection) as loaded:
        opened = encounter_check_in_many(
            actor=receptionist, facility=facility, datas=datas[1:3], **given
        )
    with CaptureQueriesContext(connection) as alone:
        encounter_check_in_many(actor=receptionist, facility=facility, datas=datas[3:])
    assert _patient_and_room_reads(loaded) == []
    assert len(_patient_and_room_reads(alone)) == 2
    assert len(alone.captured_queries) - len(loaded.captured_queries) == 2
    assert [e.patient_id for e in opened] == [p.pk for p in patients[1:3]]


def _patient_and_room_reads(ctx) -> list[str]:
    return [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith("SELECT")
        and ('FROM "patients_patient" ' in q["sql"] or 'JOIN "core_department"' in q["sql"])
    ]
