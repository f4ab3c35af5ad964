"""Reception: check-in, card check as typed, arrival routes, race-safe queue numbers."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.utils import timezone

from ehealth.core.models import Role
from patients.clinical.reception import CheckInInput, encounter_cancel, encounter_check_in
from patients.clinical.selectors import queue_for_room
from patients.clinical_choices import (
    ArrivalMode,
    EncounterKind,
    EncounterStatus,
    QueueStatus,
    VisitType,
)
from patients.guards import has_record_at
from patients.models import Encounter, QueueTicket
from tests.clinical.factories import make_encounter, make_room
from tests.patients.factories import make_patient, unique_card

VN = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def room(facility):
    return make_room(facility)


@pytest.fixture
def patient(facility):
    return make_patient(facility)


def form(patient, room, **overrides) -> CheckInInput:
    values = {
        "patient_id": patient.pk,
        "room_id": room.pk,
        "arrival_mode": ArrivalMode.SELF_REFERRED,
        "reason": "Sốt, ho 3 ngày",
    }
    values.update(overrides)
    return CheckInInput(**values)


def test_check_in_opens_an_outpatient_visit_with_the_first_queue_number(
    receptionist, facility, room, patient
):
    # given a card valid today
    card = unique_card()
    today = timezone.localdate(timezone=VN)
    # when
    encounter = encounter_check_in(
        actor=receptionist,
        facility=facility,
        data=form(
            patient,
            room,
            arrival_mode=ArrivalMode.REGISTERED,
            insurance_card_code=card.lower(),
            insurance_card_valid_from=today - timedelta(days=30),
            insurance_card_valid_to=today + timedelta(days=300),
            registered_facility_code=facility.code,
        ),
    )
    # then
    encounter.refresh_from_db()
    assert encounter.kind == EncounterKind.OUTPATIENT
    assert encounter.visit_type == VisitType.EXAMINATION == "01"
    assert encounter.status == EncounterStatus.ARRIVED
    assert encounter.insurance_card_code == card
    assert encounter.card_check_status == "unchecked"
    assert encounter.registered_facility_code == facility.code
    assert encounter.room == room and encounter.department == room.department
    assert encounter.queue_ticket.number == 1
    assert encounter.queue_ticket.day == today


def test_queue_numbers_follow_each_other_per_room_and_restart_in_another_room(
    receptionist, facility, room
):
    # given
    other_room = make_room(facility)
    # when
    numbers = [
        encounter_check_in(
            actor=receptionist, facility=facility, data=form(make_patient(facility), r)
        ).queue_ticket.number
        for r in (room, room, other_room, room)
    ]
    # then
    assert numbers == [1, 2, 1, 3]


def test_queue_day_is_the_local_day_in_ho_chi_minh(receptionist, facility, room, patient):
    # given 23:30 UTC is already 06:30 the next day in Đà Nẵng
    moment = datetime(2026, 3, 1, 23, 30, tzinfo=ZoneInfo("UTC"))
    # when
    from patients.clinical.reception import queue_ticket_issue

    encounter = make_encounter(facility=facility, patient=patient, room=room, started_at=moment)
    ticket = queue_ticket_issue(encounter=encounter, room=room, at=moment)
    # then
    assert ticket.day == date(2026, 3, 2)


@pytest.mark.django_db(transaction=True)
def test_two_desks_checking_in_at_once_never_share_a_queue_number(facility, staff_factory):
    # given two receptionists and two patients for one room
    room = make_room(facility)
    desks = [staff_factory(facility, Role.RECEPTIONIST) for _ in range(2)]
    patients = [make_patient(facility) for _ in range(6)]
    barrier = threading.Barrier(3)
    errors: list[Exception] = []

    def desk(actor, batch):
        try:
            barrier.wait()
            for p in batch:
                encounter_check_in(actor=actor, facility=facility, data=form(p, room))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=desk, args=(desks[0], patients[:3])),
        threading.Thread(target=desk, args=(desks[1], patients[3:])),
        threading.Thread(target=desk, args=(desks[0], [])),
    ]
    # when
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then every check-in got its own number, 1..6
    assert errors == []
    numbers = sorted(QueueTicket.objects.filter(room=room).values_list("number", flat=True))
    assert numbers == [1, 2, 3, 4, 5, 6]


def test_referral_needs_the_paper_number_and_the_sending_facility(
    receptionist, facility, room, patient
):
    # when
    with pytest.raises(ValidationError) as exc:
        encounter_check_in(
            actor=receptionist,
            facility=facility,
            data=form(
                patient, room, arrival_mode=ArrivalMode.REFERRAL, insurance_card_code=unique_card()
            ),
        )
    # then
    errors = exc.value.message_dict
    assert "số giấy chuyển" in errors["referral_paper_number"][0]
    assert "referral_from_code" in errors
    assert not Encounter.objects.exists()


def test_referral_with_paper_and_card_is_accepted(receptionist, facility, room, patient):
    # when
    encounter = encounter_check_in(
        actor=receptionist,
        facility=facility,
        data=form(
            patient,
            room,
            arrival_mode=ArrivalMode.REFERRAL,
            insurance_card_code=unique_card(),
            referral_paper_number="123/GCT",
            referral_from_code="48001",
        ),
    )
    # then
    assert encounter.referral_paper_number == "123/GCT"
    assert encounter.referral_from_code == "48001"


def test_emergency_is_allowed_without_a_card_but_a_registered_visit_is_not(
    receptionist, facility, room, patient
):
    # when
    emergency = encounter_check_in(
        actor=receptionist,
        facility=facility,
        data=form(patient, room, arrival_mode=ArrivalMode.EMERGENCY),
    )
    with pytest.raises(ValidationError) as exc:
        encounter_check_in(
            actor=receptionist,
            facility=facility,
            data=form(make_patient(facility), room, arrival_mode=ArrivalMode.REGISTERED),
        )
    # then
    assert emergency.card_check_status == ""
    assert "mã thẻ BHYT" in exc.value.message_dict["insurance_card_code"][0]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"insurance_card_code": "XX123"}, "insurance_card_code"),
        ({"insurance_card_valid_to": date(2020, 1, 1)}, "insurance_card_valid_to"),
        ({"insurance_card_valid_from": date(2099, 1, 1)}, "insurance_card_valid_from"),
        ({"room_id": 0}, "room_id"),
        ({"arrival_mode": "teleport"}, "arrival_mode"),
        ({"registered_facility_code": "12"}, "registered_facility_code"),
    ],
)
def test_bad_reception_input_is_a_vietnamese_field_error_and_saves_nothing(
    receptionist, facility, room, patient, overrides, field
):
    # given
    values = {"insurance_card_code": unique_card(), **overrides}
    # when
    with pytest.raises(ValidationError) as exc:
        encounter_check_in(
            actor=receptionist, facility=facility, data=form(patient, room, **values)
        )
    # then
    assert field in exc.value.message_dict
    assert not Encounter.objects.exists() and not QueueTicket.objects.exists()


def test_a_room_of_another_facility_cannot_be_chosen(
    receptionist, facility, other_facility, patient
):
    # given
    foreign_room = make_room(other_facility)
    # when / then
    with pytest.raises(ValidationError) as exc:
        encounter_check_in(actor=receptionist, facility=facility, data=form(patient, foreign_room))
    assert "room_id" in exc.value.message_dict


def test_a_patient_found_city_wide_is_enrolled_here_at_check_in(
    receptionist, facility, other_facility, room
):
    # given a patient with a record only at another facility
    patient = make_patient(other_facility)
    # when
    encounter_check_in(actor=receptionist, facility=facility, data=form(patient, room))
    # then
    assert has_record_at(patient, facility)


def test_unknown_patient_is_404(receptionist, facility, room, patient):
    # when / then
    with pytest.raises(Http404):
        encounter_check_in(
            actor=receptionist,
            facility=facility,
            data=form(patient, room, patient_id=patient.pk + 999),
        )


def test_a_doctor_cannot_check_in(doctor, facility, room, patient):
    # when / then
    with pytest.raises(PermissionDenied):
        encounter_check_in(actor=doctor, facility=facility, data=form(patient, room))
    assert not Encounter.objects.exists()


def test_queue_shows_the_room_in_order_with_waiting_minutes(receptionist, facility, room, midday):
    # given three check-ins issued 30, 20 and 5 minutes ago; the first already called
    now = timezone.now()
    encounters = [
        make_encounter(
            facility=facility,
            room=room,
            started_at=now - timedelta(minutes=m),
            with_ticket=True,
        )
        for m in (30, 20, 5)
    ]
    QueueTicket.objects.filter(encounter=encounters[0]).update(
        status=QueueStatus.CALLED, called_at=now - timedelta(minutes=18)
    )
    # when
    queue = queue_for_room(user=receptionist, room_id=room.pk)
    # then
    assert [e.number for e in queue] == [1, 2, 3]
    assert [e.encounter_id for e in queue] == [e.pk for e in encounters]
    assert queue[0].waiting_minutes == 12  # until called
    assert queue[1].waiting_minutes in (19, 20)
    assert queue[2].waiting_minutes in (4, 5)


def test_queue_of_another_facilitys_room_is_404(receptionist, other_facility):
    # when / then
    with pytest.raises(Http404):
        queue_for_room(user=receptionist, room_id=make_room(other_facility).pk)


def test_a_patient_who_leaves_is_cancelled_and_the_ticket_marked_left(
    receptionist, facility, room, patient
):
    # given
    encounter = encounter_check_in(actor=receptionist, facility=facility, data=form(patient, room))
    # when
    encounter_cancel(
        actor=receptionist,
        facility=facility,
        encounter=encounter,
        expected_version=encounter.version,
        reason="Bỏ về",
    )
    # then
    encounter.refresh_from_db()
    assert encounter.status == EncounterStatus.CANCELLED
    assert encounter.queue_ticket.status == QueueStatus.LEFT
