"""AuditEvent over HTTP: every FHIR access shows up, who sees which events, search parameters,
scopes, query counts."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ehealth.core.models import AuditEvent, Role
from fhir_api import systems
from tests.core.factories import make_staff
from tests.fhir.conftest import Api, body
from tests.fhir.shared import assert_scope_statuses, client_audit_rows, scope_cases
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


def _utc(day: int, hour: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def _row(at: datetime, **fields) -> AuditEvent:
    """A trail row recorded at `at` (the column is auto_now_add)."""
    with mock.patch("django.utils.timezone.now", return_value=at):
        return AuditEvent.objects.create(**fields)


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200 and data["type"] == "searchset", data
    return [e["resource"]["id"] for e in data.get("entry", [])]


def _entries(response) -> list[dict]:
    return [e["resource"] for e in body(response).get("entry", [])]


@pytest.fixture
def admin_session(client, facility):
    client.force_login(make_staff(facility, Role.UNIT_ADMIN))
    return client


@pytest.fixture
def trail(api, facility, other_facility):
    """At the unit: w1 a doctor viewed An (1 March), w2 updated An (2 March), t1 a task sent a
    claim batch (4 March), c1 the unit's client searched encounters (5 March, An on the page), f1
    it was refused an update of An (6 March). At the other unit: w3 a nurse viewed Bình."""
    an = make_patient(facility, full_name="Nguyễn Văn An")
    binh = make_patient(other_facility, full_name="Trần Thị Bình")
    doctor = make_staff(facility, Role.DOCTOR)
    nurse = make_staff(other_facility, Role.NURSE)
    account = api.registered.client.application.user
    client_id = api.registered.client_id
    web = {"channel": "web", "ip_address": "10.0.0.7"}
    doc = {
        "actor": doctor,
        "actor_username": doctor.username,
        "role": "doctor",
        "facility": facility,
    }
    fhir = {
        "actor": account,
        "actor_username": account.username,
        "role": "fhir_client",
        "facility": facility,
        "channel": "fhir",
    }
    patient_an = {"target_type": "patients.Patient", "target_id": str(an.pk), "patient_id": an.pk}
    rows = {
        "w1": _row(_utc(1), action="patient.view", **doc, **web, **patient_an),
        "w2": _row(_utc(2), action="patient.update", **doc, **web, **patient_an),
        "w3": _row(
            _utc(3),
            actor=nurse,
            actor_username=nurse.username,
            role="nurse",
            facility=other_facility,
            action="patient.view",
            target_type="patients.Patient",
            target_id=str(binh.pk),
            patient_id=binh.pk,
            **web,
        ),
        "t1": _row(
            _utc(4),
            facility=facility,
            channel="task",
            action="claims.batch_submit",
            target_type="insurance.ClaimBatch",
            target_id="4",
        ),
        "c1": _row(
            _utc(5),
            action="fhir.encounter.search",
            detail={"params": ["patient"], "count": 1, "client_id": client_id},
            **fhir,
            **patient_an,
        ),
        "f1": _row(
            _utc(6),
            action="fhir.refused",
            detail={
                "status": 403,
                "interaction": "update",
                "type": "Patient",
                "id": str(an.pk),
                "client_id": client_id,
            },
            **fhir,
        ),
    }
    return {**rows, "an": an, "binh": binh, "doctor": doctor, "client_id": client_id}


def _pks(trail, keys: str) -> list[str]:
    return [str(trail[k].pk) for k in keys.split()]


# --- every FHIR access is visible as an AuditEvent ---------------------------------------------


def test_a_clients_read_of_a_patient_shows_up_as_its_audit_event(api_for, facility):
    patient = make_patient(facility, full_name="Lê Văn Cường")
    a = api_for(facility, "system/Patient.rs system/AuditEvent.rs")
    b = api_for(facility, "system/Patient.rs system/AuditEvent.rs")
    # when client A reads the patient
    assert a.get(f"Patient/{patient.pk}").status_code == 200
    # then A finds that read by the patient and by itself as the agent
    by_patient = _entries(a.get("AuditEvent", {"patient": f"Patient/{patient.pk}"}))
    by_agent = _entries(a.get("AuditEvent", {"agent": a.registered.client_id}))
    assert [e["id"] for e in by_patient] == [e["id"] for e in by_agent[:1]]
    (event,) = by_patient
    assert event["type"]["code"] == "rest" and event["action"] == "R"
    assert {"system": systems.RESTFUL_INTERACTION_CS, "code": "read"} in event["subtype"]
    assert event["agent"][0]["altId"] == a.registered.client_id
    assert {"reference": f"Patient/{patient.pk}"} in [e.get("what") for e in event["entity"]]
    assert event["outcome"] == "0"
    # and client B of the same unit does not see A's accesses
    assert _ids(b.get("AuditEvent", {"patient": str(patient.pk)})) == []
    assert _ids(b.get("AuditEvent", {"agent": a.registered.client_id})) == []


def test_every_access_of_a_client_is_one_of_its_audit_events(api_for, facility):
    patient = make_patient(facility, full_name="Lê Văn Cường")
    a = api_for(facility, "system/Patient.rs system/Organization.rs system/AuditEvent.rs")
    a.get(f"Patient/{patient.pk}")
    a.get("Patient", {"name": "cuong"})
    a.get("Patient", {"name": "nobody"})
    a.get(f"Organization/{facility.pk}")
    a.get("Patient/99999999")  # refused: 404
    a.get("Encounter")  # refused: 403 (no scope)
    account = a.registered.client.application.user
    expected = {
        str(pk) for pk in AuditEvent.objects.filter(actor=account).values_list("pk", flat=True)
    }
    seen = {e["id"] for e in _entries(a.get("AuditEvent", {"_count": 100}))}
    assert seen == expected and len(seen) == 6
    outcomes = _entries(a.get("AuditEvent", {"outcome": "4"}))
    assert sorted(e["outcomeDesc"] for e in outcomes) == ["HTTP 403", "HTTP 404"]


def test_the_unit_admin_sees_the_units_clients_and_staff(trail, admin_session):
    got = _ids(admin_session.get("/fhir/R4/AuditEvent"))
    assert got == _pks(trail, "w1 w2 t1 c1 f1")  # not w3 (other unit)
    assert admin_session.get(f"/fhir/R4/AuditEvent/{trail['w3'].pk}").status_code == 404
    data = body(admin_session.get(f"/fhir/R4/AuditEvent/{trail['w1'].pk}"))
    assert data["agent"][0]["who"] == {"reference": f"Practitioner/{trail['doctor'].pk}"}


def test_a_client_sees_only_its_own_accesses(trail, api):
    assert _ids(api.get("AuditEvent")) == _pks(trail, "c1 f1")
    assert api.get(f"AuditEvent/{trail['w1'].pk}").status_code == 404
    assert api.get(f"AuditEvent/{trail['c1'].pk}").status_code == 200


def test_other_staff_are_refused(trail, client, facility):
    client.force_login(make_staff(facility, Role.DOCTOR))
    response = client.get("/fhir/R4/AuditEvent")
    assert response.status_code == 403 and body(response)["issue"][0]["code"] == "forbidden"
    assert client.get(f"/fhir/R4/AuditEvent/{trail['w1'].pk}").status_code == 403


# --- search parameters (as the unit admin) ------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "w1 w2 t1 c1 f1"),
        ({"date": "2026-03-01"}, "w1"),
        ({"date": "ge2026-03-04"}, "t1 c1 f1"),
        ({"date": "lt2026-03-02"}, "w1"),
        ({"date": "2026-03"}, "w1 w2 t1 c1 f1"),
        ({"date": "ne2026-03-05"}, "w1 w2 t1 f1"),
        ({"date": "ge2026-03-02", "type": "web"}, "w2"),
        ({"agent": "Practitioner/{doctor}"}, "w1 w2"),
        ({"agent": "{doctor}"}, "w1 w2"),
        ({"agent": "{client_id}"}, "c1 f1"),
        ({"agent": "Patient/{doctor}"}, ""),
        ({"altid": "{username}"}, "w1 w2"),
        ({"altid": "{client_id}"}, "c1 f1"),
        ({"patient": "Patient/{an}"}, "w1 w2 c1"),
        ({"patient": "{binh}"}, ""),
        ({"entity": "Patient/{an}"}, "w1 w2 c1 f1"),
        ({"entity": "Encounter/{an}"}, ""),
        ({"action": "R"}, "w1"),
        ({"action": "U"}, "w2 f1"),
        ({"action": "E"}, "t1 c1"),
        ({"action": "C,D"}, ""),
        ({"type": "rest"}, "c1 f1"),
        ({"type": f"{systems.AUDIT_EVENT_TYPE_CS}|rest"}, "c1 f1"),
        ({"type": "web"}, "w1 w2"),
        ({"type": f"{systems.AUDIT_CHANNEL_CS}|task"}, "t1"),
        ({"subtype": "search-type"}, "c1"),
        ({"subtype": f"{systems.RESTFUL_INTERACTION_CS}|update"}, "f1"),
        ({"subtype": f"{systems.AUDIT_ACTION_CS}|patient.view"}, "w1"),
        ({"subtype": "patient.update"}, "w2"),
        ({"outcome": "0"}, "w1 w2 t1 c1"),
        ({"outcome": "4"}, "f1"),
        ({"outcome": "8"}, ""),
        ({"_id": "{w1},{w3}"}, "w1"),
        ({"patient": "{an}", "action": "R"}, "w1"),
    ],
)
def test_search_audit_events(trail, admin_session, params, expected):
    values = {
        "doctor": trail["doctor"].pk,
        "username": trail["doctor"].username,
        "client_id": trail["client_id"],
        "an": trail["an"].pk,
        "binh": trail["binh"].pk,
        "w1": trail["w1"].pk,
        "w3": trail["w3"].pk,
    }
    query = {k: v.format(**values) for k, v in params.items()}
    got = _ids(admin_session.get("/fhir/R4/AuditEvent", query))
    assert got == (_pks(trail, expected) if expected else [])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"_sort": "-date"}, "f1 c1 t1 w2 w1"),
        ({"_sort": "date", "action": "U"}, "w2 f1"),
        ({"_lastUpdated": "ge2026-03-05"}, "c1 f1"),
        ({"action:not": "R"}, "w2 t1 c1 f1"),
        ({"type:not": "rest", "outcome": "0"}, "w1 w2 t1"),
    ],
)
def test_sort_last_updated_and_not(trail, admin_session, params, expected):
    got = _ids(admin_session.get("/fhir/R4/AuditEvent", params))
    assert got == _pks(trail, expected)


def test_latest_first_pages_follow_the_cursor_and_total(trail, admin_session):
    seen: list[str] = []
    response = admin_session.get(
        "/fhir/R4/AuditEvent",
        {"_sort": "-date", "_count": 2, "_total": "accurate", "date": "le2026-03-31"},
    )
    assert body(response)["total"] == 5
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = admin_session.get(nxt)
    assert seen == _pks(trail, "f1 c1 t1 w2 w1")


def test_bad_values_are_400(trail, admin_session):
    for params in ({"action": "X"}, {"date": "yesterday"}, {"entity-type": "1"}, {"user": "x"}):
        response = admin_session.get("/fhir/R4/AuditEvent", params)
        assert response.status_code == 400, params


def test_paging_follows_the_cursor(trail, admin_session):
    seen: list[str] = []
    response = admin_session.get("/fhir/R4/AuditEvent", {"_count": 2, "date": "le2026-03-31"})
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = admin_session.get(nxt)
    assert seen == _pks(trail, "w1 w2 t1 c1 f1")


# --- scopes, audit of the audit, capability, writes, query counts ------------------------------


@pytest.mark.parametrize(("scopes", "search", "read"), scope_cases("AuditEvent"))
def test_scopes_are_enforced(api_for, facility, scopes, search, read):
    caller = api_for(facility, scopes)
    caller.get("metadata")
    own = AuditEvent.objects.create(
        actor=caller.registered.client.application.user, action="fhir.patient.read"
    )
    assert_scope_statuses(caller, search, read, AuditEvent=own.pk)


def test_reading_the_trail_is_audited(trail, api):
    api.get(f"AuditEvent/{trail['c1'].pk}")
    api.get("AuditEvent", {"action": "R"})  # finds the read just made (R), nothing else
    rows = client_audit_rows(
        api, "action", "target_type", "detail", action__startswith="fhir.auditevent"
    )
    client_id = trail["client_id"]
    assert rows == [
        ("fhir.auditevent.read", "core.AuditEvent", {"client_id": client_id}),
        ("fhir.auditevent.search", "", {"params": ["action"], "count": 1, "client_id": client_id}),
    ]


def test_the_trail_is_read_only(trail, api):
    response = api.post("AuditEvent", {"resourceType": "AuditEvent"})
    assert response.status_code == 405
    assert Api(None).get("AuditEvent").status_code == 401


def test_capability_statement_lists_audit_event():
    data = body(Api(None).get("metadata"))
    (res,) = [r for r in data["rest"][0]["resource"] if r["type"] == "AuditEvent"]
    assert {i["code"] for i in res["interaction"]} == {"read", "search-type"}
    assert {p["name"] for p in res["searchParam"]} == {
        "_id", "_lastUpdated", "date", "agent", "altid", "patient", "entity", "action", "type",
        "subtype", "outcome",
    }  # fmt: skip


def test_search_page_runs_a_constant_number_of_queries(
    trail, admin_session, facility, django_assert_max_num_queries
):
    admin_session.get("/fhir/R4/AuditEvent", {"_count": 1})
    with CaptureQueriesContext(connection) as ctx:
        response = admin_session.get("/fhir/R4/AuditEvent", {"_count": 100, "date": "2026-03"})
    small = len(ctx.captured_queries)
    assert len(body(response)["entry"]) == 5
    for n in range(20):
        _row(_utc(7), action="patient.view", facility=facility, patient_id=n + 1, channel="web")
    with django_assert_max_num_queries(small):
        response = admin_session.get("/fhir/R4/AuditEvent", {"_count": 100, "date": "2026-03"})
    assert len(body(response)["entry"]) == 25
    assert small <= 12
