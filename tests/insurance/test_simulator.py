"""The local insurer-portal simulator: its answers, faults, control endpoints and command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import requests

from insurance.clients.portal import parse_portal_date
from insurance.simulator.app import SimulatorApp
from insurance.simulator.data import DEFAULT_DATA_FILE, cards_from_db, cards_from_file
from patients.choices import IdentifierSystem
from tests.core.factories import FacilityFactory
from tests.insurance.conftest import portal_card
from tests.patients.factories import make_patient, unique_card

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 6, 15)


def ask(url: str, code: str, name: str = "", birth: str = "", *, timeout: float = 5):
    token = requests.post(
        f"{url}/api/token/take", json={"username": "u", "password": "p"}, timeout=5
    )
    params = {"token": token.json()["APIKey"]["access_token"]}
    return requests.post(
        f"{url}/api/egw/KQNhanLichSuKCB2024",
        params=params,
        json={"maThe": code, "hoTen": name, "ngaySinh": birth},
        timeout=timeout,
    )


@pytest.fixture
def fixed_day(simulator):
    """The simulator's calendar at TODAY."""
    real = simulator.app._today
    simulator.app._today = lambda: TODAY
    yield simulator
    simulator.app._today = real


def test_answers_say_they_come_from_the_simulator(simulator):
    # when
    response = ask(simulator.url, unique_card())
    # then
    assert response.headers["X-Insurer-Simulator"] == "1"
    assert response.json()["simulator"] is True
    assert response.json()["ghiChu"].startswith("[MÔ PHỎNG]")


def test_a_valid_card_is_confirmed_with_its_data(fixed_day):
    # given
    code = unique_card()
    fixed_day.app.add_cards(
        [portal_card(code, valid_from=date(2026, 1, 1), valid_to=date(2026, 12, 31))]
    )
    # when
    body = ask(fixed_day.url, code, "TRAN THI BINH", "04/03/1990").json()
    # then (names compare without diacritics or case)
    assert body["maKetQua"] == "000"
    assert (body["maThe"], body["gtTheTu"], body["gtTheDen"]) == (code, "01/01/2026", "31/12/2026")


def test_lookup_by_social_insurance_number_gives_the_latest_card(fixed_day):
    # given an old and a new card of one person
    old = unique_card(group="HS", level=4)
    new = "DN4" + old[3:]
    fixed_day.app.add_cards(
        [
            portal_card(old, valid_from=date(2020, 1, 1), valid_to=date(2025, 12, 31)),
            portal_card(new, valid_from=date(2026, 1, 1), valid_to=date(2026, 12, 31)),
        ]
    )
    # when
    by_number = ask(fixed_day.url, old[5:]).json()
    by_old_code = ask(fixed_day.url, old).json()
    # then
    assert (by_number["maKetQua"], by_number["maThe"]) == ("000", new)
    assert (by_old_code["maKetQua"], by_old_code["maTheMoi"]) == ("003", new)


@pytest.mark.parametrize(
    ("card", "name", "birth", "code"),
    [
        ({"gtTheDen": "31/12/2025"}, "", "", "010"),
        ({"trangThai": "revoked"}, "", "", "110"),
        ({}, "Lê Văn Khác", "", "060"),
        ({}, "Trần Thị Bình Khác", "", "061"),
        ({}, "", "05/03/1990", "070"),
        ({}, "", "1990", "000"),
    ],
)
def test_the_portal_rules(fixed_day, card, name, birth, code):
    # given
    number = unique_card()
    fixed_day.app.add_cards(
        [{**portal_card(number, valid_from=date(2025, 1, 1), valid_to=date(2026, 12, 31)), **card}]
    )
    # when
    body = ask(fixed_day.url, number, name, birth).json()
    # then
    assert body["maKetQua"] == code


def test_unknown_card_and_missing_token(simulator):
    # when
    unknown = ask(simulator.url, unique_card()).json()
    no_token = requests.post(
        f"{simulator.url}/api/egw/KQNhanLichSuKCB2024", json={"maThe": "x"}, timeout=5
    )
    # then
    assert unknown["maKetQua"] == "050"
    assert no_token.status_code == 401


def test_faults_from_the_control_endpoint_apply_count_times(simulator):
    # given
    set_fault = requests.post(
        f"{simulator.url}/_simulator/faults", json={"mode": "error", "count": 2}, timeout=5
    )
    # when
    statuses = [ask(simulator.url, unique_card()).status_code for _ in range(3)]
    # then
    assert set_fault.json()["fault"]["mode"] == "error"
    assert statuses == [503, 503, 200]


def test_an_unknown_fault_mode_is_refused(simulator):
    response = requests.post(f"{simulator.url}/_simulator/faults", json={"mode": "fire"}, timeout=5)
    assert response.status_code == 400
    assert simulator.app.fault is None


def test_special_card_codes_fail_on_every_call(simulator):
    # when
    error = ask(simulator.url, "DN4489999999902")
    malformed = ask(simulator.url, "DN4489999999903")
    wrong = ask(simulator.url, "DN4489999999904")
    started = time.monotonic()
    simulator.app.set_fault(None)
    with pytest.raises(requests.Timeout):
        ask(simulator.url, "DN4489999999901", timeout=0.3)
    # then
    assert error.status_code == 503
    assert malformed.headers["Content-Type"].startswith("text/html")
    assert wrong.json()["maKetQua"] == "070"
    assert time.monotonic() - started < 2


def test_cards_can_be_added_through_the_control_endpoint(simulator):
    # given
    code = unique_card()
    card = portal_card(code, valid_from=date(2020, 1, 1), valid_to=None)
    # when
    added = requests.post(f"{simulator.url}/_simulator/cards", json={"cards": [card]}, timeout=5)
    # then
    assert added.json()["added"] == 1
    assert ask(simulator.url, code).json()["maKetQua"] == "000"


def test_routes_can_be_added_for_other_insurer_apis(simulator):
    # given an extension route (as the claims simulator will add)
    app = SimulatorApp()

    @app.route("POST", "/api/egw/guiHoSo")
    def receive(app_, request):
        return 200, {"maKetQua": "000", "simulator": True}

    # then it is served by that app only
    assert ("POST", "/api/egw/guiHoSo") in app.routes
    assert ("POST", "/api/egw/guiHoSo") not in SimulatorApp().routes


def test_the_demo_data_file_loads():
    cards = cards_from_file(DEFAULT_DATA_FILE)
    assert len(cards) >= 5
    assert all(len(c["maThe"]) == 15 for c in cards)


@pytest.mark.django_db
def test_cards_of_seeded_patients_load_from_the_database():
    # given a patient with a registry card and a record at a facility
    facility = FacilityFactory()
    code = unique_card()
    make_patient(facility, identifiers={IdentifierSystem.BHYT: code})
    # when
    cards = {c["maThe"]: c for c in cards_from_db(today=TODAY)}
    # then
    card = cards[code]
    assert (card["hoTen"], card["ngaySinh"]) == ("Trần Thị Bình", "04/03/1990")
    assert (card["gtTheTu"], card["gtTheDen"]) == ("01/01/2026", "31/12/2026")
    assert card["maDKBD"] == facility.code


def test_the_command_starts_a_server_named_a_simulator(closed_port):
    # given
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ehealth.settings.test"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_insurer_simulator", "--port", str(closed_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # when
        health = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and health is None:
            try:
                health = requests.get(
                    f"http://127.0.0.1:{closed_port}/_simulator/health", timeout=1
                ).json()
            except requests.ConnectionError:
                time.sleep(0.2)
        # then
        assert health is not None, "the simulator did not start"
        assert health["simulator"] is True and health["cards"] >= 5
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "SIMULATOR" in out


def test_dates_in_the_demo_file_are_readable():
    for card in cards_from_file(DEFAULT_DATA_FILE):
        start = parse_portal_date(card["gtTheTu"])
        end = parse_portal_date(card["gtTheDen"])
        assert start is not None and (end is None or end >= start)
