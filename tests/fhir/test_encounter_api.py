"""Encounter over HTTP: read, search parameters, visibility (404), scopes, audit, query counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ehealth.core.models import Role
from fhir_api import systems
from patients.clinical_choices import EncounterKind, EncounterStatus
from patients.models import BedOccupancy, Transfer
from patients.services import patient_share_with_facility
from tests.clinical.factories import make_encounter
from tests.core.factories import BedFactory, DepartmentFactory, WardFactory, make_staff
from tests.fhir.conftest import Api, body
from tests.fhir.shared import (
    assert_anonymous_gets_401,
    assert_refusal_audited,
    assert_scope_statuses,
    client_audit_events,
    client_audit_rows,
    scope_cases,
)
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


def _utc(day: int, hour: int = 2, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def visits(facility, other_facility):
    """A: a visit on 1 March (finished); B: a stay since 5 March (open, moved once, in a bed);
    C: a visit from 20 Feb still waiting; D: a visit cancelled on 10 March;
    E: a visit of a patient of another unit; F: a voided visit."""
    an = make_patient(facility, full_name="Nguyễn Văn An")
    binh = make_patient(facility, full_name="Trần Thị Bình")
    stranger = make_patient(other_facility, full_name="Lê Văn Lạ")
    cardio, icu = DepartmentFactory(facility=facility), DepartmentFactory(facility=facility)
    bed = BedFactory(ward=WardFactory(department=icu))
    a = make_encounter(
        facility=facility,
        patient=an,
        status=EncounterStatus.CONCLUDED,
        started_at=_utc(1),
        ended_at=_utc(1, 3),
        department=cardio,
    )
    b = make_encounter(
        facility=facility,
        patient=an,
        kind=EncounterKind.INPATIENT,
        started_at=_utc(5),
        department=icu,
        parent=a,
    )
    nurse = make_staff(facility, Role.NURSE)
    Transfer.objects.create(
        encounter=b,
        from_department=cardio,
        to_department=icu,
        to_bed=bed,
        moved_at=_utc(6),
        moved_by=nurse,
        reason="Chuyển hồi sức",
    )
    BedOccupancy.objects.create(bed=bed, patient=an, encounter=b, started_at=_utc(6))
    c = make_encounter(facility=facility, patient=binh, started_at=_utc(20, month=2))
    d = make_encounter(
        facility=facility, patient=binh, status=EncounterStatus.CANCELLED, started_at=_utc(10)
    )
    e = make_encounter(facility=other_facility, patient=stranger, started_at=_utc(1))
    f = make_encounter(facility=facility, patient=an, started_at=_utc(1), voided_at=_utc(2))
    return {
        "A": a, "B": b, "C": c, "D": d, "E": e, "F": f,
        "an": an, "binh": binh, "cardio": cardio, "icu": icu, "bed": bed,
    }  # fmt: skip


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200 and data["type"] == "searchset"
    return [e["resource"]["id"] for e in data.get("entry", [])]


# --- read --------------------------------------------------------------------------------------


def test_read_encounter_with_version_and_location_history(api, visits, facility):
    b = visits["B"]
    response = api.get(f"Encounter/{b.pk}")
    assert response.status_code == 200
    assert response["ETag"] == f'W/"{b.version}"' and response["Last-Modified"]
    data = body(response)
    assert data["status"] == "in-progress" and data["class"]["code"] == "IMP"
    assert data["subject"] == {"reference": f"Patient/{visits['an'].pk}"}
    assert data["serviceProvider"]["reference"] == f"Organization/{facility.pk}"
    assert data["partOf"] == {"reference": f"Encounter/{visits['A'].pk}"}
    assert data["identifier"][0] == {
        "use": "official",
        "system": systems.MA_LK,
        "value": b.claim_key,
    }
    assert [(p["location"]["reference"], p["status"]) for p in data["location"]] == [
        (f"Location/dept-{visits['cardio'].pk}", "completed"),
        (f"Location/dept-{visits['icu'].pk}", "active"),
        (f"Location/bed-{visits['bed'].pk}", "active"),
    ]


def test_referenced_locations_and_organization_resolve(api, visits):
    data = body(api.get(f"Encounter/{visits['B'].pk}"))
    for ref in [p["location"]["reference"] for p in data["location"]] + [
        data["serviceProvider"]["reference"]
    ]:
        assert api.get(ref).status_code == 200, ref


@pytest.mark.parametrize("key", ["E", "F"])
def test_encounter_not_visible_is_404_like_a_missing_one(api, visits, key):
    response = api.get(f"Encounter/{visits[key].pk}")
    assert response.status_code == 404
    assert body(response)["issue"][0]["code"] == "not-found"
    assert api.get("Encounter/99999999").status_code == 404
    assert api.get("Encounter/abc").status_code == 404


def test_shared_patient_encounters_become_visible(api_for, visits, facility, other_facility):
    # given a client of another unit that cannot see the patient's visit
    other = api_for(other_facility)
    assert other.get(f"Encounter/{visits['A'].pk}").status_code == 404
    # when the patient's unit shares the record with the other unit
    patient_share_with_facility(
        actor=make_staff(facility, Role.DOCTOR),
        facility=facility,
        patient=visits["an"],
        target_facility=other_facility,
        reason="Chuyển tuyến",
    )
    # then the other unit's client reads it
    assert other.get(f"Encounter/{visits['A'].pk}").status_code == 200


def test_staff_session_sees_what_the_clinical_pages_show(client, visits, facility):
    client.force_login(make_staff(facility, Role.DOCTOR))
    assert client.get(f"/fhir/R4/Encounter/{visits['A'].pk}").status_code == 200
    assert client.get(f"/fhir/R4/Encounter/{visits['E'].pk}").status_code == 404
    client.force_login(make_staff(facility, Role.RECEPTIONIST))  # no view_encounter
    assert client.get(f"/fhir/R4/Encounter/{visits['A'].pk}").status_code == 404


# --- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"patient": "{an}"}, "AB"),
        ({"patient": "Patient/{binh}"}, "CD"),
        ({"subject": "Patient/{an}"}, "AB"),
        ({"subject": "Group/{an}"}, ""),
        ({"patient": "{stranger}"}, ""),
        ({"date": "2026-03-01"}, "A"),
        ({"date": "2026-03"}, "A"),
        ({"date": "ge2026-03-05"}, "BCD"),
        ({"date": "lt2026-03-01"}, "C"),
        ({"date": "sa2026-03-01"}, "BD"),
        ({"date": "eb2026-03-02"}, "A"),
        ({"date": "ne2026-03-01"}, "BCD"),
        ({"status": "in-progress"}, "B"),
        ({"status": "arrived"}, "C"),
        ({"status": "finished,cancelled"}, "AD"),
        ({"status": "http://hl7.org/fhir/encounter-status|finished"}, "A"),
        ({"status": "planned"}, ""),
        ({"class": "IMP"}, "B"),
        ({"class": f"{systems.ACT_CODE_CS}|AMB"}, "ACD"),
        ({"class": "http://example.org|AMB"}, ""),
        ({"service-provider": "Organization/{facility}"}, "ABCD"),
        ({"service-provider": "Organization/{other}"}, ""),
        ({"identifier": f"{systems.MA_LK}|{{claim_a}}"}, "A"),
        ({"_id": "{b},{e}"}, "B"),
        ({"patient": "{an}", "class": "AMB"}, "A"),
    ],
)
def test_search_encounters(api, visits, facility, other_facility, params, expected):
    values = {
        "an": visits["an"].pk,
        "binh": visits["binh"].pk,
        "stranger": visits["E"].patient_id,
        "facility": facility.pk,
        "other": other_facility.pk,
        "claim_a": visits["A"].claim_key,
        "b": visits["B"].pk,
        "e": visits["E"].pk,
    }
    query = {k: v.format(**values) for k, v in params.items()}
    assert _ids(api.get("Encounter", query)) == [str(visits[k].pk) for k in expected]


def test_repeated_date_is_anded(api, visits):
    response = api.http.get(
        "/fhir/R4/Encounter?date=ge2026-03-01&date=lt2026-03-06",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert _ids(response) == [str(visits[k].pk) for k in "ABC"]


def test_bad_date_and_unknown_parameter_are_400(api):
    assert api.get("Encounter", {"date": "yesterday"}).status_code == 400
    response = api.get("Encounter", {"reason-code": "R51"})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == ["reason-code"]


def test_encounter_paging_follows_the_cursor(api, visits):
    seen: list[str] = []
    response = api.get("Encounter", {"_count": 1})
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert seen == [str(visits[k].pk) for k in "ABCD"]


def test_summary_count(api, visits):
    data = body(api.get("Encounter", {"_summary": "count"}))
    assert data["total"] == 4 and "entry" not in data


# --- scopes, audit, capability, query counts ---------------------------------------------------


@pytest.mark.parametrize(("scopes", "search", "read"), scope_cases("Encounter"))
def test_scopes_are_enforced(api_for, visits, facility, scopes, search, read):
    caller = api_for(facility, scopes)
    assert_scope_statuses(caller, search, read, Encounter=visits["A"].pk)


def test_anonymous_gets_401(visits):
    assert_anonymous_gets_401(f"Encounter/{visits['A'].pk}")


def test_every_access_is_audited_per_patient(api, visits):
    api.get(f"Encounter/{visits['A'].pk}")
    api.get("Encounter", {"status": "finished,cancelled,arrived"})
    api.get("Encounter", {"status": "planned"})
    api.get(f"Encounter/{visits['E'].pk}")
    rows = client_audit_rows(api, "action", "target_type", "patient_id")
    an, binh = visits["an"].pk, visits["binh"].pk
    assert rows == [
        ("fhir.encounter.read", "patients.Encounter", an),
        ("fhir.encounter.search", "patients.Patient", an),
        ("fhir.encounter.search", "patients.Patient", binh),
        ("fhir.encounter.search", "", None),
        ("fhir.refused", "", None),
    ]
    read = client_audit_events(api).get(action="fhir.encounter.read")
    assert read.target_id == str(visits["A"].pk) and read.channel == "fhir"
    assert_refusal_audited(api, "Encounter")


def test_capability_statement_lists_encounter():
    data = body(Api(None).get("metadata"))
    (enc,) = [r for r in data["rest"][0]["resource"] if r["type"] == "Encounter"]
    assert {i["code"] for i in enc["interaction"]} == {
        "read",
        "vread",
        "search-type",
        "create",
        "update",
    }
    assert {p["name"] for p in enc["searchParam"]} == {
        "_lastUpdated",
        "location",
        "_id",
        "patient",
        "subject",
        "date",
        "status",
        "class",
        "service-provider",
        "identifier",
    }


def _queries(api, params) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get("Encounter", params)
    return len(ctx.captured_queries), len(body(response)["entry"])


def test_search_page_runs_a_constant_number_of_queries(
    api, facility, visits, django_assert_max_num_queries
):
    api.get("Encounter", {"_count": 1})  # warm the caller's caches
    small, small_rows = _queries(api, {"_count": 100})
    # when many more patients, visits, stays with transfers and beds are added
    nurse = make_staff(facility, Role.NURSE)
    for n in range(12):
        patient = make_patient(facility, full_name=f"Đỗ Văn {n}")
        make_encounter(facility=facility, patient=patient, started_at=_utc(1) + timedelta(hours=n))
        stay = make_encounter(
            facility=facility,
            patient=patient,
            kind=EncounterKind.INPATIENT,
            started_at=_utc(2),
            department=visits["cardio"],
        )
        bed = BedFactory(ward=WardFactory(department=visits["icu"]))
        Transfer.objects.create(
            encounter=stay,
            from_department=visits["cardio"],
            to_department=visits["icu"],
            to_bed=bed,
            moved_at=_utc(3),
            moved_by=nurse,
            reason="Chuyển",
        )
        BedOccupancy.objects.create(bed=bed, patient=patient, encounter=stay, started_at=_utc(3))
    # then a page of every encounter runs no more queries than the page of four
    with django_assert_max_num_queries(small):
        response = api.get("Encounter", {"_count": 100})
    assert small_rows == 4 and len(body(response)["entry"]) == 4 + 24
    assert small <= 13  # token, client, permissions (5), page, transfers, beds, kept, audit


def test_post_search_is_the_same_search(api, visits):
    response = api.search_post("Encounter/_search", {"patient": str(visits["binh"].pk)})
    assert _ids(response) == [str(visits[k].pk) for k in "CD"]
