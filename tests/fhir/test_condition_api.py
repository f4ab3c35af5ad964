"""Condition over HTTP: read, search parameters, visibility (404), scopes, audit, query counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ehealth.core.models import Role
from fhir_api import systems
from patients.clinical_choices import DiagnosisPhase, EncounterKind, EncounterStatus
from patients.models import Diagnosis
from patients.services import patient_share_with_facility
from tests.clinical.factories import make_encounter
from tests.core.factories import make_staff
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


def _diagnose(encounter, code, text, rank=0, phase=DiagnosisPhase.ENCOUNTER, **fields):
    return Diagnosis.objects.create(
        encounter=encounter,
        phase=phase,
        icd_code=code,
        text=text,
        rank=rank,
        recorded_by=make_staff(encounter.facility, Role.DOCTOR),
        recorded_at=encounter.started_at + timedelta(minutes=30),
        **fields,
    )


@pytest.fixture
def dx(facility, other_facility):
    """An: visit A on 1 March (finished): a = J06.9 main, i = I10 secondary; stay B since
    5 March (open): b = I21.0 on admission, x = a voided diagnosis. Bình: visit C from 20 Feb
    (waiting): c = J06.9. A stranger at another unit: e. A voided visit of An: f."""
    an = make_patient(facility, full_name="Nguyễn Văn An")
    binh = make_patient(facility, full_name="Trần Thị Bình")
    stranger = make_patient(other_facility, full_name="Lê Văn Lạ")
    visit_a = make_encounter(
        facility=facility,
        patient=an,
        status=EncounterStatus.CONCLUDED,
        started_at=_utc(1),
        ended_at=_utc(1, 3),
    )
    stay_b = make_encounter(
        facility=facility, patient=an, kind=EncounterKind.INPATIENT, started_at=_utc(5)
    )
    visit_c = make_encounter(facility=facility, patient=binh, started_at=_utc(20, month=2))
    visit_e = make_encounter(facility=other_facility, patient=stranger, started_at=_utc(1))
    visit_f = make_encounter(facility=facility, patient=an, started_at=_utc(1), voided_at=_utc(2))
    doctor = make_staff(facility, Role.DOCTOR)
    return {
        "a": _diagnose(visit_a, "J06.9", "Nhiễm trùng hô hấp trên cấp"),
        "i": _diagnose(visit_a, "I10", "Tăng huyết áp vô căn", rank=1),
        "b": _diagnose(stay_b, "I21.0", "Nhồi máu cơ tim cấp", phase=DiagnosisPhase.ADMISSION),
        "x": _diagnose(
            stay_b, "I20.0", "Đau thắt ngực", rank=1, voided_at=_utc(5, 5), voided_by=doctor
        ),
        "c": _diagnose(visit_c, "J06.9", "Nhiễm trùng hô hấp trên cấp"),
        "e": _diagnose(visit_e, "K29.7", "Viêm dạ dày"),
        "f": _diagnose(visit_f, "R51", "Đau đầu"),
        "an": an, "binh": binh, "A": visit_a, "B": stay_b,
    }  # fmt: skip


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200 and data["type"] == "searchset"
    return [e["resource"]["id"] for e in data.get("entry", [])]


# --- read --------------------------------------------------------------------------------------


def test_read_condition(api, dx):
    response = api.get(f"Condition/{dx['b'].pk}")
    assert response.status_code == 200
    assert response["ETag"] == 'W/"1"' and response["Last-Modified"]
    data = body(response)
    assert data["code"]["coding"][0] == {
        "system": systems.ICD_10,
        "code": "I21.0",
        "display": "Nhồi máu cơ tim cấp",
    }
    assert data["subject"] == {"reference": f"Patient/{dx['an'].pk}"}
    assert data["encounter"] == {"reference": f"Encounter/{dx['B'].pk}"}
    assert data["clinicalStatus"]["coding"][0]["code"] == "active"
    assert data["verificationStatus"]["coding"][0]["code"] == "provisional"


def test_referenced_patient_and_encounter_resolve(api, dx):
    data = body(api.get(f"Condition/{dx['a'].pk}"))
    for ref in (data["subject"]["reference"], data["encounter"]["reference"]):
        assert api.get(ref).status_code == 200, ref


def test_voided_diagnosis_reads_as_entered_in_error(api, dx):
    response = api.get(f"Condition/{dx['x'].pk}")
    assert response.status_code == 200 and response["ETag"] == 'W/"2"'
    data = body(response)
    assert data["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in data


@pytest.mark.parametrize("key", ["e", "f"])
def test_condition_not_visible_is_404_like_a_missing_one(api, dx, key):
    response = api.get(f"Condition/{dx[key].pk}")
    assert response.status_code == 404
    assert body(response)["issue"][0]["code"] == "not-found"
    assert api.get("Condition/99999999").status_code == 404
    assert api.get("Condition/abc").status_code == 404


def test_shared_patient_diagnoses_become_visible(api_for, dx, facility, other_facility):
    # given a client of another unit that cannot see An's diagnosis
    other = api_for(other_facility)
    assert other.get(f"Condition/{dx['a'].pk}").status_code == 404
    # when An's unit shares the record with the other unit
    patient_share_with_facility(
        actor=make_staff(facility, Role.DOCTOR),
        facility=facility,
        patient=dx["an"],
        target_facility=other_facility,
        reason="Chuyển tuyến",
    )
    # then the other unit's client reads it
    assert other.get(f"Condition/{dx['a'].pk}").status_code == 200


def test_staff_session_sees_what_the_clinical_pages_show(client, dx, facility):
    client.force_login(make_staff(facility, Role.DOCTOR))
    assert client.get(f"/fhir/R4/Condition/{dx['a'].pk}").status_code == 200
    assert client.get(f"/fhir/R4/Condition/{dx['e'].pk}").status_code == 404
    client.force_login(make_staff(facility, Role.RECEPTIONIST))  # no view_encounter
    assert client.get(f"/fhir/R4/Condition/{dx['a'].pk}").status_code == 404


# --- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "aibc"),
        ({"patient": "{an}"}, "aib"),
        ({"patient": "Patient/{binh}"}, "c"),
        ({"subject": "Patient/{an}"}, "aib"),
        ({"subject": "Group/{an}"}, ""),
        ({"patient": "{stranger}"}, ""),
        ({"encounter": "Encounter/{A}"}, "ai"),
        ({"encounter": "{B}"}, "b"),
        ({"code": "J06.9"}, "ac"),
        ({"code": "j06.9"}, "ac"),
        ({"code": f"{systems.ICD_10}|I10"}, "i"),
        ({"code": "http://snomed.info/sct|I10"}, ""),
        ({"code": "I10,I21.0"}, "ib"),
        ({"code": "I20.0"}, ""),
        ({"clinical-status": "active"}, "bc"),
        ({"clinical-status": f"{systems.CONDITION_CLINICAL_CS}|active"}, "bc"),
        ({"clinical-status": "resolved"}, ""),
        ({"onset-date": "2026-03-01"}, "ai"),
        ({"onset-date": "2026-03"}, "aib"),
        ({"onset-date": "ge2026-03-05"}, "b"),
        ({"onset-date": "lt2026-03-01"}, "c"),
        ({"onset-date": "sa2026-03-01"}, "b"),
        ({"onset-date": "eb2026-03-01"}, "c"),
        ({"onset-date": "ne2026-03-01"}, "bc"),
        ({"_id": "{b},{e},{x}"}, "b"),
        ({"patient": "{an}", "code": "I10"}, "i"),
    ],
)
def test_search_conditions(api, dx, params, expected):
    values = {
        "an": dx["an"].pk,
        "binh": dx["binh"].pk,
        "stranger": dx["e"].encounter.patient_id,
        "A": dx["A"].pk,
        "B": dx["B"].pk,
        "b": dx["b"].pk,
        "e": dx["e"].pk,
        "x": dx["x"].pk,
    }
    query = {k: v.format(**values) for k, v in params.items()}
    assert _ids(api.get("Condition", query)) == [str(dx[k].pk) for k in expected]


def test_bad_date_and_unknown_parameter_are_400(api):
    assert api.get("Condition", {"onset-date": "yesterday"}).status_code == 400
    response = api.get("Condition", {"severity": "mild"})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == ["severity"]


def test_condition_paging_follows_the_cursor(api, dx):
    seen: list[str] = []
    response = api.get("Condition", {"_count": 1})
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert seen == [str(dx[k].pk) for k in "aibc"]


def test_summary_count(api, dx):
    data = body(api.get("Condition", {"_summary": "count", "patient": str(dx["an"].pk)}))
    assert data["total"] == 3 and "entry" not in data


def test_post_search_is_the_same_search(api, dx):
    response = api.search_post("Condition/_search", {"patient": str(dx["binh"].pk)})
    assert _ids(response) == [str(dx["c"].pk)]


# --- scopes, audit, capability, query counts ---------------------------------------------------


@pytest.mark.parametrize(("scopes", "search", "read"), scope_cases("Condition", other="Encounter"))
def test_scopes_are_enforced(api_for, dx, facility, scopes, search, read):
    caller = api_for(facility, scopes)
    assert_scope_statuses(caller, search, read, Condition=dx["a"].pk)


def test_anonymous_gets_401(dx):
    assert_anonymous_gets_401(f"Condition/{dx['a'].pk}")


def test_every_access_is_audited_per_patient(api, dx):
    api.get(f"Condition/{dx['a'].pk}")
    api.get("Condition", {"code": "J06.9"})
    api.get("Condition", {"code": "Z00"})
    api.get(f"Condition/{dx['e'].pk}")
    rows = client_audit_rows(api, "action", "target_type", "patient_id")
    an, binh = dx["an"].pk, dx["binh"].pk
    assert rows == [
        ("fhir.condition.read", "patients.Diagnosis", an),
        ("fhir.condition.search", "patients.Patient", an),
        ("fhir.condition.search", "patients.Patient", binh),
        ("fhir.condition.search", "", None),
        ("fhir.refused", "", None),
    ]
    read = client_audit_events(api).get(action="fhir.condition.read")
    assert read.target_id == str(dx["a"].pk) and read.channel == "fhir"
    assert_refusal_audited(api, "Condition")


def test_capability_statement_lists_condition():
    data = body(Api(None).get("metadata"))
    (cond,) = [r for r in data["rest"][0]["resource"] if r["type"] == "Condition"]
    assert {i["code"] for i in cond["interaction"]} == {
        "read",
        "vread",
        "search-type",
        "create",
        "delete",
    }
    assert {p["name"] for p in cond["searchParam"]} == {
        "_lastUpdated",
        "_id",
        "patient",
        "subject",
        "encounter",
        "code",
        "clinical-status",
        "onset-date",
    }


def _queries(api, params) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get("Condition", params)
    return len(ctx.captured_queries), len(body(response)["entry"])


def test_search_page_runs_a_constant_number_of_queries(
    api, facility, dx, django_assert_max_num_queries
):
    api.get("Condition", {"_count": 1})  # warm the caller's caches
    small, small_rows = _queries(api, {"_count": 100})
    # when many more patients with visits and diagnoses are added
    for n in range(12):
        patient = make_patient(facility, full_name=f"Đỗ Văn {n}")
        visit = make_encounter(facility=facility, patient=patient, started_at=_utc(2))
        _diagnose(visit, "J06.9", "Nhiễm trùng hô hấp trên cấp")
        _diagnose(visit, "I10", "Tăng huyết áp vô căn", rank=1)
    # then a page of every diagnosis runs no more queries than the page of four
    with django_assert_max_num_queries(small):
        response = api.get("Condition", {"_count": 100})
    assert small_rows == 4 and len(body(response)["entry"]) == 4 + 24
    assert small <= 11  # token, client, permissions, page (with the encounter), kept, audit
