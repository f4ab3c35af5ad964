"""Reception with the insurer portal as the card lookup (INSURANCE_CARD_LOOKUP), via the simulator."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from insurance.models import CardLookup, CardVerification, InsuranceCard
from patients.clinical.reception import CheckInInput, encounter_check_in
from patients.clinical_choices import ArrivalMode
from patients.models import Encounter
from tests.clinical.factories import make_room
from tests.insurance.conftest import RETRIES, TIMEOUT, portal_card
from tests.patients.factories import make_patient, unique_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(facility):
    return make_room(facility)


@pytest.fixture
def patient(facility):
    return make_patient(facility)


def today():
    return timezone.localdate()


def form(patient, room, code, **overrides) -> CheckInInput:
    values = {
        "patient_id": patient.pk,
        "room_id": room.pk,
        "arrival_mode": ArrivalMode.REGISTERED,
        "insurance_card_code": code,
        "insurance_card_valid_from": today() - timedelta(days=30),
        "insurance_card_valid_to": today() + timedelta(days=30),
        "registered_facility_code": "48001",
        "reason": "Ho, sốt",
    }
    values.update(overrides)
    return CheckInInput(**values)


def test_check_in_stores_the_portal_confirmation_on_the_encounter(
    portal, receptionist, facility, room, patient
):
    # given a card the portal holds with other dates than typed
    code = unique_card()
    start, end = today() - timedelta(days=100), today() + timedelta(days=265)
    portal.app.add_cards([portal_card(code, valid_from=start, valid_to=end, facility_code="48002")])
    # when
    encounter = encounter_check_in(
        actor=receptionist, facility=facility, data=form(patient, room, code)
    )
    # then
    encounter.refresh_from_db()
    assert encounter.card_check_status == "valid"
    assert (encounter.insurance_card_valid_from, encounter.insurance_card_valid_to) == (start, end)
    assert encounter.registered_facility_code == "48002"
    assert InsuranceCard.objects.get(patient=patient).verification == CardVerification.VALID


def test_check_in_with_another_persons_card_is_refused_and_nothing_written(
    portal, receptionist, facility, room, patient
):
    # given the portal holds the card for someone with another name
    code = unique_card()
    portal.app.add_cards([portal_card(code, name="Lê Văn Khác", valid_from=today(), valid_to=None)])
    # when
    with pytest.raises(ValidationError) as exc:
        encounter_check_in(actor=receptionist, facility=facility, data=form(patient, room, code))
    # then the message stands beside the card field
    assert "không đúng người" in exc.value.message_dict["insurance_card_code"][0]
    assert not Encounter.objects.exists()
    assert not InsuranceCard.objects.exists()


def test_check_in_goes_on_when_the_portal_is_down_flagged_for_recheck(
    settings, portal, closed_port, receptionist, facility, room, patient
):
    # given nothing listens where the portal should be
    settings.INSURER_PORTAL_URL = f"http://127.0.0.1:{closed_port}"
    code = unique_card()
    # when
    encounter = encounter_check_in(
        actor=receptionist, facility=facility, data=form(patient, room, code)
    )
    # then
    encounter.refresh_from_db()
    assert encounter.card_check_status == "unchecked"
    assert encounter.insurance_card_code == code
    card = InsuranceCard.objects.get(patient=patient, code=code)
    assert card.verification == CardVerification.RECHECK
    assert CardLookup.objects.get(requested_code=code).outcome == "unreachable"


def test_check_in_waits_a_bounded_time_when_the_portal_hangs(
    portal, receptionist, facility, room, patient
):
    # given a portal that never answers in time
    portal.app.set_fault("timeout", delay=3)
    code = unique_card()
    # when
    started = time.monotonic()
    encounter = encounter_check_in(
        actor=receptionist, facility=facility, data=form(patient, room, code)
    )
    elapsed = time.monotonic() - started
    # then
    assert encounter.card_check_status == "unchecked"
    assert elapsed < (RETRIES + 1) * 2 * TIMEOUT + 1
    assert InsuranceCard.objects.get(code=code).verification == CardVerification.RECHECK
