"""The insurer-portal client against the simulator: answers, retries, timeouts, logging."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
import requests
from django.utils import timezone

from insurance.clients import portal as portal_api
from insurance.clients.portal import InsurerPortalClient, MalformedAnswer, interpret_answer
from insurance.models import CardLookup
from tests.insurance.conftest import BACKOFF, RETRIES, TIMEOUT, portal_card
from tests.patients.factories import unique_card

pytestmark = pytest.mark.django_db

LOOKUP = "POST /api/egw/KQNhanLichSuKCB2024"


def client_for(url: str) -> InsurerPortalClient:
    return InsurerPortalClient(
        url, timeout=TIMEOUT, retries=RETRIES, backoff=BACKOFF, username="bv48001", password="x"
    )


def today() -> date:
    return timezone.localdate()


def test_valid_card_comes_back_with_its_dates_and_the_call_is_logged(simulator):
    # given a card the portal holds
    code = unique_card()
    start, end = today() - timedelta(days=100), today() + timedelta(days=200)
    simulator.app.add_cards(
        [portal_card(code, valid_from=start, valid_to=end, ngayDu5Nam="01/01/2027", maKV="K2")]
    )
    # when
    answer = client_for(simulator.url).card_lookup(
        card_code=code, full_name="Trần Thị Bình", birth_date=date(1990, 3, 4)
    )
    # then
    assert (answer.outcome, answer.portal_code) == ("valid", "000")
    assert (answer.valid_from, answer.valid_to) == (start, end)
    assert answer.registered_facility_code == "48001"
    assert answer.five_years_date == date(2027, 1, 1)
    assert answer.region_code == "K2"
    row = CardLookup.objects.get(pk=answer.lookup_id)
    assert (row.outcome, row.portal_code, row.requested_code) == ("valid", "000", code)
    assert row.duration_ms is not None and row.duration_ms < 2000
    # the holder's name and birth date are never stored
    assert "hoTen" not in row.response and "ngaySinh" not in row.response
    assert "Bình" not in str(row.response)


def test_unknown_card_is_invalid_with_a_message_staff_understand(simulator):
    # given an empty portal
    # when
    answer = client_for(simulator.url).card_lookup(card_code=unique_card(), full_name="A")
    # then
    assert (answer.outcome, answer.portal_code) == ("invalid", "050")
    assert answer.message_vi == "Cổng BHXH không tìm thấy thông tin thẻ này."
    assert CardLookup.objects.get(pk=answer.lookup_id).outcome == "invalid"


def test_expired_card_is_reported_expired(simulator):
    # given a card that ended yesterday
    code = unique_card()
    simulator.app.add_cards(
        [
            portal_card(
                code, valid_from=today() - timedelta(days=400), valid_to=today() - timedelta(days=1)
            )
        ]
    )
    # when
    answer = client_for(simulator.url).card_lookup(
        card_code=code, full_name="Trần Thị Bình", birth_date=date(1990, 3, 4)
    )
    # then
    assert (answer.outcome, answer.portal_code) == ("expired", "010")
    assert answer.valid_to == today() - timedelta(days=1)


def test_wrong_person_is_reported_by_name_and_by_birth_date(simulator):
    # given a card of someone else
    code = unique_card()
    simulator.app.add_cards(
        [portal_card(code, valid_from=today() - timedelta(days=10), valid_to=None)]
    )
    client = client_for(simulator.url)
    # when
    by_name = client.card_lookup(
        card_code=code, full_name="Lê Văn Khác", birth_date=date(1990, 3, 4)
    )
    by_birth = client.card_lookup(
        card_code=code, full_name="Tran Thi Binh", birth_date=date(1991, 3, 4)
    )
    # then
    assert (by_name.outcome, by_name.portal_code) == ("wrong_person", "060")
    assert "họ tên" in by_name.message_vi
    assert (by_birth.outcome, by_birth.portal_code) == ("wrong_person", "070")
    assert "ngày sinh" in by_birth.message_vi


def test_timeout_gives_up_after_the_retries_within_the_configured_time(simulator):
    # given a portal that holds every answer far longer than the client waits
    simulator.app.set_fault("timeout", delay=3)
    client = client_for(simulator.url)
    # when
    started = time.monotonic()
    answer = client.card_lookup(card_code=unique_card(), full_name="A")
    elapsed = time.monotonic() - started
    # then 1 + RETRIES attempts, each cut at the timeout, and no more
    assert answer.outcome == "unreachable"
    assert answer.attempts == RETRIES + 1
    assert simulator.app.calls[LOOKUP] == RETRIES + 1
    budget = (RETRIES + 1) * 2 * TIMEOUT + BACKOFF * (2**RETRIES) + 0.5
    assert TIMEOUT * (RETRIES + 1) <= elapsed < budget
    row = CardLookup.objects.get(pk=answer.lookup_id)
    assert row.outcome == "unreachable" and row.response["attempts"] == RETRIES + 1


def test_a_5xx_is_retried_and_the_second_attempt_succeeds(simulator):
    # given one 503 before the portal recovers
    code = unique_card()
    simulator.app.add_cards([portal_card(code, valid_from=today(), valid_to=None)])
    simulator.app.set_fault("error", count=1)
    # when
    answer = client_for(simulator.url).card_lookup(
        card_code=code, full_name="Trần Thị Bình", birth_date=date(1990, 3, 4)
    )
    # then
    assert answer.outcome == "valid"
    assert answer.attempts == 2
    assert simulator.app.calls[LOOKUP] == 2
    assert CardLookup.objects.filter(requested_code=code).count() == 1  # one call, one row


def test_a_malformed_answer_is_not_retried_and_is_kept_for_a_person(simulator, caplog):
    # given a portal answering HTML
    simulator.app.set_fault("malformed", count=1)
    # when
    answer = client_for(simulator.url).card_lookup(card_code=unique_card(), full_name="A")
    # then
    assert answer.outcome == "malformed"
    assert answer.attempts == 1
    row = CardLookup.objects.get(pk=answer.lookup_id)
    assert row.outcome == "malformed"
    assert row.response["_content_type"].startswith("text/html")
    assert f"id={row.pk}" in caplog.text


def test_a_partial_answer_is_malformed(simulator):
    # given an "ok" answer without the card's dates
    simulator.app.set_fault("partial", count=1)
    # when
    answer = client_for(simulator.url).card_lookup(card_code=unique_card(), full_name="A")
    # then
    assert answer.outcome == "malformed"
    assert CardLookup.objects.get(pk=answer.lookup_id).response["maKetQua"] == "000"


def test_nobody_listening_is_unreachable_quickly(closed_port):
    # given a closed port
    client = client_for(f"http://127.0.0.1:{closed_port}")
    # when
    started = time.monotonic()
    answer = client.card_lookup(card_code=unique_card(), full_name="A")
    # then
    assert answer.outcome == "unreachable"
    assert answer.attempts == RETRIES + 1
    assert time.monotonic() - started < 1.5


def test_an_expired_token_is_taken_again(simulator):
    # given a client that took a token, then the portal forgot it
    code = unique_card()
    simulator.app.add_cards([portal_card(code, valid_from=today(), valid_to=None)])
    client = client_for(simulator.url)
    assert client.card_lookup(card_code=code, full_name="Trần Thị Bình").outcome == "valid"
    requests.post(simulator.url + "/_simulator/reset", timeout=2)
    # when
    answer = client.card_lookup(card_code=code, full_name="Trần Thị Bình")
    # then
    assert answer.outcome == "valid"
    assert simulator.app.calls["POST /api/token/take"] == 1


def test_every_code_of_the_table_has_a_vietnamese_message_and_a_known_outcome():
    outcomes = {
        portal_api.VALID, portal_api.INVALID, portal_api.WRONG_PERSON, portal_api.EXPIRED,
        portal_api.NOT_IN_PORTAL, portal_api.UNREACHABLE, portal_api.REJECTED,
    }  # fmt: skip
    for code, meaning in portal_api.PORTAL_CODES.items():
        assert len(code) == 3 and code.isdigit()
        assert meaning.outcome in outcomes
        assert str(meaning.message).strip()


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"maKetQua": "999"},
        {"maKetQua": 0},
        {"maKetQua": "000", "maThe": "X", "gtTheTu": "32/13/2025", "gtTheDen": ""},
        {"maKetQua": "000", "maThe": "X", "gtTheTu": "01/01/2026", "gtTheDen": "01/01/2025"},
    ],
)
def test_unreadable_answers_are_refused(payload):
    with pytest.raises(MalformedAnswer):
        interpret_answer(payload)
