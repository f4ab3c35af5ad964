"""_include, _revinclude and _elements: what a searchset adds or leaves out, for any type."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ehealth.core.models import AuditEvent
from patients.clinical_choices import EncounterStatus
from tests.clinical.factories import make_encounter
from tests.fhir.conftest import body
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(facility, other_facility):
    an = make_patient(facility, full_name="Nguyễn Văn An")
    binh = make_patient(facility, full_name="Trần Thị Bình")
    lonely = make_patient(facility, full_name="Lê Văn Một")
    stranger = make_patient(other_facility, full_name="Phạm Văn Lạ")
    at = datetime(2026, 3, 1, 2, tzinfo=UTC)
    visits = [
        make_encounter(facility=facility, patient=an, started_at=at),
        make_encounter(
            facility=facility, patient=an, started_at=at, status=EncounterStatus.CONCLUDED
        ),
        make_encounter(facility=facility, patient=binh, started_at=at),
        make_encounter(facility=other_facility, patient=stranger, started_at=at),
    ]
    return {"an": an, "binh": binh, "lonely": lonely, "stranger": stranger, "visits": visits}


def _by_mode(data: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in data.get("entry", []):
        r = e["resource"]
        out.setdefault(e["search"]["mode"], []).append(f"{r['resourceType']}/{r['id']}")
    return out


def test_include_adds_each_referenced_patient_once(api, records):
    an, binh = records["an"], records["binh"]
    data = body(api.get("Encounter", {"_include": "Encounter:patient", "_count": "10"}))
    modes = _by_mode(data)
    assert len(modes["match"]) == 3  # the other unit's visit is not visible
    assert sorted(modes["include"]) == sorted([f"Patient/{an.pk}", f"Patient/{binh.pk}"])
    # the self link repeats the _include
    assert "_include=Encounter%3Apatient" in data["link"][0]["url"]


def test_include_with_a_target_type_and_subject(api, records):
    data = body(api.get("Encounter", {"_include": "Encounter:subject:Patient"}))
    assert len(_by_mode(data)["include"]) == 2
    data = body(api.get("Encounter", {"_include": "Encounter:subject:Group"}))
    assert "include" not in _by_mode(data)


def test_revinclude_adds_the_patients_encounters(api, records):
    an, lonely = records["an"], records["lonely"]
    data = body(
        api.get("Patient", {"_id": f"{an.pk},{lonely.pk}", "_revinclude": "Encounter:patient"})
    )
    modes = _by_mode(data)
    assert sorted(modes["match"]) == sorted([f"Patient/{an.pk}", f"Patient/{lonely.pk}"])
    assert sorted(modes["include"]) == sorted(f"Encounter/{v.pk}" for v in records["visits"][:2])


def test_included_resources_are_audited_per_patient(api, records):
    an = records["an"]
    before = AuditEvent.objects.count()
    api.get("Patient", {"_id": str(an.pk), "_revinclude": "Encounter:patient"})
    rows = AuditEvent.objects.order_by("pk")[before:]
    actions = {(r.action, r.patient_id) for r in rows}
    assert ("fhir.patient.search", an.pk) in actions
    assert ("fhir.encounter.search", an.pk) in actions


def test_include_needs_the_scope_of_the_included_type(api_for, facility, records):
    narrow = api_for(facility, scopes="system/Encounter.rs")
    response = narrow.get("Encounter", {"_include": "Encounter:patient"})
    assert response.status_code == 403
    assert "system/Patient.s" in body(response)["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "params, expression",
    [
        ({"_include": "Patient:organization"}, "_include"),  # not the searched type
        ({"_include": "Encounter:status"}, "_include"),  # not a reference parameter
        ({"_include": "Encounter"}, "_include"),
        ({"_include:iterate": "Encounter:patient"}, "_include:iterate"),
        ({"_revinclude": "Nothing:patient"}, "_revinclude"),
        ({"_elements": "status,not valid"}, "_elements"),
    ],
)
def test_bad_include_and_elements_are_400(api, records, params, expression):
    response = api.get("Encounter", params)
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == [expression]


def test_elements_keeps_what_was_asked_and_tags_the_subset(api, records):
    data = body(
        api.get("Encounter", {"_elements": "status,subject", "_include": "Encounter:patient"})
    )
    match = [e["resource"] for e in data["entry"] if e["search"]["mode"] == "match"][0]
    # what was asked, and the mandatory `class`
    assert set(match) == {"resourceType", "id", "meta", "status", "subject", "class"}
    assert {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
        "code": "SUBSETTED",
    } in match["meta"]["tag"]
    # included resources are whole
    included = [e["resource"] for e in data["entry"] if e["search"]["mode"] == "include"][0]
    assert "name" in included


def test_include_costs_one_search_per_included_type(api, records, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as plain:
        api.get("Encounter", {"_count": "10"})
    with CaptureQueriesContext(connection) as with_include:
        api.get("Encounter", {"_count": "10", "_include": "Encounter:patient"})
    with CaptureQueriesContext(connection) as patient_search:
        api.get("Patient", {"_id": str(records["an"].pk)})
    # the include adds a Patient search's queries, whatever the number of encounters
    assert len(with_include) <= len(plain) + len(patient_search)
