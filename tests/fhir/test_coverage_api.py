"""Coverage over HTTP: read, search parameters, visibility (404), scopes, audit, query counts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ehealth.core.models import Role
from fhir_api import systems
from insurance.models import InsuranceCard
from patients.services import patient_share_with_facility, patient_void
from tests.core.factories import make_staff
from tests.fhir.conftest import Api, body
from tests.fhir.shared import (
    assert_anonymous_gets_401,
    assert_scope_statuses,
    client_audit_events,
    client_audit_rows,
    scope_cases,
)
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


def _card(patient, code: str, year: int, **fields) -> InsuranceCard:
    values = {
        "patient": patient,
        "code": code,
        "group_code": code[:2],
        "benefit_digit": int(code[2]),
        "province_code": code[3:5],
        "social_insurance_number": code[5:],
        "valid_from": date(year, 1, 1),
        "valid_to": date(year, 12, 31),
        "registered_facility_code": "48001",
    }
    values.update(fields)
    return InsuranceCard.objects.create(**values)


@pytest.fixture
def cards(facility, other_facility):
    """An holds an old card (o, 2025) and a current one (n, 2026), plus a voided card (x);
    Bình holds b; a stranger of another unit holds s."""
    an = make_patient(facility, full_name="Nguyễn Văn An")
    binh = make_patient(facility, full_name="Trần Thị Bình")
    stranger = make_patient(other_facility, full_name="Lê Văn Lạ")
    return {
        "o": _card(an, "DN4481234567890", 2025),
        "n": _card(an, "DN4481234567890", 2026, version=2),
        "b": _card(binh, "HT3480000000001", 2026),
        "s": _card(stranger, "GD4480000000002", 2026),
        "x": _card(
            an,
            "CN3480000000003",
            2026,
            voided_at=datetime(2026, 2, 1, tzinfo=UTC),
            void_reason="Nhập nhầm",
        ),
        "an": an, "binh": binh, "stranger": stranger,
    }  # fmt: skip


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200 and data["type"] == "searchset"
    return [e["resource"]["id"] for e in data.get("entry", [])]


# --- read --------------------------------------------------------------------------------------


def test_read_coverage(api, cards):
    response = api.get(f"Coverage/{cards['n'].pk}")
    assert response.status_code == 200
    assert response["ETag"] == 'W/"2"' and response["Last-Modified"]
    data = body(response)
    assert data["identifier"] == [
        {"use": "official", "system": systems.BHYT, "value": "DN4481234567890"}
    ]
    assert data["beneficiary"] == {"reference": f"Patient/{cards['an'].pk}"}
    assert data["period"] == {"start": "2026-01-01", "end": "2026-12-31"}
    assert data["status"] == "active" and "reference" not in data["payor"][0]


def test_beneficiary_resolves(api, cards):
    data = body(api.get(f"Coverage/{cards['b'].pk}"))
    assert api.get(data["beneficiary"]["reference"]).status_code == 200


def test_voided_card_reads_as_entered_in_error(api, cards):
    data = body(api.get(f"Coverage/{cards['x'].pk}"))
    assert data["status"] == "entered-in-error"


def test_coverage_not_visible_is_404_like_a_missing_one(api, cards):
    response = api.get(f"Coverage/{cards['s'].pk}")
    assert response.status_code == 404
    assert body(response)["issue"][0]["code"] == "not-found"
    assert api.get("Coverage/99999999").status_code == 404
    assert api.get("Coverage/abc").status_code == 404


def test_shared_patient_cards_become_visible(api_for, cards, facility, other_facility):
    # given a client of another unit that cannot see An's card
    other = api_for(other_facility)
    assert other.get(f"Coverage/{cards['n'].pk}").status_code == 404
    # when An's unit shares the record with the other unit
    patient_share_with_facility(
        actor=make_staff(facility, Role.DOCTOR),
        facility=facility,
        patient=cards["an"],
        target_facility=other_facility,
        reason="Chuyển tuyến",
    )
    # then the other unit's client reads it
    assert other.get(f"Coverage/{cards['n'].pk}").status_code == 200


# --- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "onb"),
        ({"patient": "{an}"}, "on"),
        ({"beneficiary": "Patient/{binh}"}, "b"),
        ({"beneficiary": "Group/{binh}"}, ""),
        ({"patient": "{stranger}"}, ""),
        ({"identifier": f"{systems.BHYT}|DN4481234567890"}, "on"),
        ({"identifier": "ht3480000000001"}, "b"),
        ({"identifier": f"{systems.CCCD}|HT3480000000001"}, ""),
        ({"identifier": "GD4480000000002"}, ""),
        ({"identifier": "CN3480000000003"}, ""),
        ({"_id": "{n},{s},{x}"}, "n"),
        ({"patient": "{an}", "_id": "{o}"}, "o"),
    ],
)
def test_search_coverages(api, cards, params, expected):
    values = {
        "an": cards["an"].pk,
        "binh": cards["binh"].pk,
        "stranger": cards["stranger"].pk,
        "n": cards["n"].pk,
        "o": cards["o"].pk,
        "s": cards["s"].pk,
        "x": cards["x"].pk,
    }
    query = {k: v.format(**values) for k, v in params.items()}
    assert _ids(api.get("Coverage", query)) == [str(cards[k].pk) for k in expected]


def test_payor_is_not_a_search_parameter(api):
    response = api.get("Coverage", {"payor": "Organization/1"})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == ["payor"]


def test_coverage_paging_follows_the_cursor(api, cards):
    seen: list[str] = []
    response = api.get("Coverage", {"_count": 2})
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert seen == [str(cards[k].pk) for k in "onb"]


# --- scopes, audit, capability, query counts ---------------------------------------------------


@pytest.mark.parametrize(("scopes", "search", "read"), scope_cases("Coverage"))
def test_scopes_are_enforced(api_for, cards, facility, scopes, search, read):
    caller = api_for(facility, scopes)
    assert_scope_statuses(caller, search, read, Coverage=cards["n"].pk)


def test_anonymous_gets_401(cards):
    assert_anonymous_gets_401(f"Coverage/{cards['n'].pk}")


def test_every_access_is_audited_per_patient(api, cards):
    api.get(f"Coverage/{cards['n'].pk}")
    api.get("Coverage")
    api.get("Coverage", {"identifier": "XX0000000000000"})
    api.get(f"Coverage/{cards['s'].pk}")
    rows = client_audit_rows(api, "action", "target_type", "patient_id")
    an, binh = cards["an"].pk, cards["binh"].pk
    assert rows == [
        ("fhir.coverage.read", "insurance.InsuranceCard", an),
        ("fhir.coverage.search", "patients.Patient", an),
        ("fhir.coverage.search", "patients.Patient", binh),
        ("fhir.coverage.search", "", None),
        ("fhir.refused", "", None),
    ]
    read = client_audit_events(api).get(action="fhir.coverage.read")
    assert read.target_id == str(cards["n"].pk) and read.channel == "fhir"


def test_capability_statement_lists_coverage():
    data = body(Api(None).get("metadata"))
    (cov,) = [r for r in data["rest"][0]["resource"] if r["type"] == "Coverage"]
    assert {i["code"] for i in cov["interaction"]} == {"read", "search-type"}
    assert {p["name"] for p in cov["searchParam"]} == {
        "_lastUpdated",
        "_id",
        "patient",
        "beneficiary",
        "identifier",
    }


def _queries(api, params) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get("Coverage", params)
    return len(ctx.captured_queries), len(body(response)["entry"])


def test_search_page_runs_a_constant_number_of_queries(
    api, facility, cards, django_assert_max_num_queries
):
    api.get("Coverage", {"_count": 1})  # warm the caller's caches
    small, small_rows = _queries(api, {"_count": 100})
    # when many more patients with cards are added
    for n in range(12):
        patient = make_patient(facility, full_name=f"Đỗ Văn {n}")
        _card(patient, f"DN448{n:010d}", 2025)
        _card(patient, f"DN448{n:010d}", 2026)
    # then a page of every card runs no more queries than the page of three
    with django_assert_max_num_queries(small):
        response = api.get("Coverage", {"_count": 100})
    assert small_rows == 3 and len(body(response)["entry"]) == 3 + 24
    assert small <= 10  # token, client, permissions, page, audit


def test_the_cards_of_a_patient_voided_in_error_are_no_longer_served(api, facility, cards):
    # given Bình's record voided as registered in error
    binh = cards["binh"]
    patient_void(
        actor=make_staff(facility, Role.RECEPTIONIST),
        facility=facility,
        patient=binh,
        reason="Nhầm",
    )
    # then his card is unknown on read and absent from a search, like a stranger's
    assert api.get(f"Coverage/{cards['b'].pk}").status_code == 404
    assert _ids(api.get("Coverage", {"beneficiary": f"Patient/{binh.pk}"})) == []
    assert str(cards["n"].pk) in _ids(api.get("Coverage"))
