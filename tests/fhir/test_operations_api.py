"""Patient/$everything and $validate: through the providers, with their visibility, scopes, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ehealth.core.models import AuditEvent, Role
from patients.clinical_choices import EncounterStatus
from patients.models import Diagnosis, Patient
from tests.clinical.factories import make_encounter
from tests.core.factories import make_staff
from tests.fhir.conftest import body
from tests.fhir.test_patient_api import new_patient
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def record(facility):
    an = make_patient(facility, full_name="Nguyễn Văn An")
    other = make_patient(facility, full_name="Trần Thị Bình")
    at = datetime(2026, 3, 1, 2, tzinfo=UTC)
    visits = [
        make_encounter(
            facility=facility, patient=an, started_at=at, status=EncounterStatus.CONCLUDED
        ),
        make_encounter(facility=facility, patient=an, started_at=at + timedelta(days=3)),
    ]
    make_encounter(facility=facility, patient=other, started_at=at)
    doctor = make_staff(facility, Role.DOCTOR)
    dx = Diagnosis.objects.create(
        encounter=visits[0], icd_code="J06.9", text="Nhiễm trùng hô hấp trên cấp", rank=0,
        recorded_by=doctor, recorded_at=at + timedelta(minutes=30),
    )  # fmt: skip
    return {"an": an, "visits": visits, "dx": dx}


def _refs(data: dict, mode: str = "match") -> list[str]:
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in data.get("entry", [])
        if e["search"]["mode"] == mode
    ]


def test_everything_gives_the_patient_and_their_compartment(api, record):
    an = record["an"]
    response = api.get(f"Patient/{an.pk}/$everything")
    assert response.status_code == 200
    data = body(response)
    refs = _refs(data)
    assert refs[0] == f"Patient/{an.pk}"
    assert {f"Encounter/{v.pk}" for v in record["visits"]} <= set(refs)
    assert f"Condition/{record['dx'].pk}" in refs
    # nothing of the other patient
    assert all(
        not r.startswith("Encounter/") or int(r.split("/")[1]) in {v.pk for v in record["visits"]}
        for r in refs
    )
    assert data["total"] == len(refs)


def test_everything_is_audited_for_the_patient(api, record):
    an = record["an"]
    before = AuditEvent.objects.count()
    api.get(f"Patient/{an.pk}/$everything")
    actions = {
        r.action for r in AuditEvent.objects.order_by("pk")[before:] if r.patient_id == an.pk
    }
    assert {"fhir.patient.read", "fhir.encounter.search", "fhir.condition.search"} <= actions


def test_everything_filters_by_type_and_count(api, record):
    an = record["an"]
    data = body(api.get(f"Patient/{an.pk}/$everything", {"_type": "Encounter"}))
    assert sorted(_refs(data)) == sorted(f"Encounter/{v.pk}" for v in record["visits"])
    data = body(api.get(f"Patient/{an.pk}/$everything", {"_count": "2"}))
    assert len(_refs(data)) == 2
    outcome = [e["resource"] for e in data["entry"] if e["search"]["mode"] == "outcome"][0]
    assert outcome["issue"][0]["code"] == "too-costly"
    assert "$export" in outcome["issue"][0]["diagnostics"]


def test_everything_since_leaves_out_older_resources(api, record):
    an = record["an"]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    data = body(api.get(f"Patient/{an.pk}/$everything", {"_since": future}))
    assert _refs(data) == [f"Patient/{an.pk}"]


def test_everything_leaves_out_types_without_scope_and_says_so(api_for, facility, record):
    narrow = api_for(facility, scopes="system/Patient.r system/Encounter.s")
    data = body(narrow.get(f"Patient/{record['an'].pk}/$everything"))
    kinds = {r.split("/")[0] for r in _refs(data)}
    assert kinds == {"Patient", "Encounter"}
    outcome = [e["resource"] for e in data["entry"] if e["search"]["mode"] == "outcome"][0]
    assert "Condition" in outcome["issue"][0]["diagnostics"]


def test_everything_of_an_invisible_patient_is_404(api_for, other_facility, record):
    stranger = api_for(other_facility)
    assert stranger.get(f"Patient/{record['an'].pk}/$everything").status_code == 404


@pytest.mark.parametrize(
    "params, where",
    [({"_since": "yesterday"}, "_since"), ({"_type": "Nothing"}, "_type"), ({"x": "1"}, "x")],
)
def test_everything_refuses_bad_parameters(api, record, params, where):
    response = api.get(f"Patient/{record['an'].pk}/$everything", params)
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == [where]


# --- $validate ---------------------------------------------------------------------------------


def test_validate_a_good_patient_writes_nothing(api):
    before, audits = Patient.objects.count(), AuditEvent.objects.count()
    response = api.post("Patient/$validate", new_patient())
    assert response.status_code == 200
    data = body(response)
    assert data["resourceType"] == "OperationOutcome"
    assert data["issue"][0]["severity"] == "information"
    assert Patient.objects.count() == before
    # one audit row for the validation, none of the trial create
    assert list(AuditEvent.objects.order_by("pk")[audits:].values_list("action", flat=True)) == [
        "fhir.validate"
    ]


def test_validate_reports_the_errors_a_create_would_get(api):
    response = api.post("Patient/$validate", new_patient(birthDate="2999-01-01"))
    assert response.status_code == 200
    issue = body(response)["issue"][0]
    assert issue["severity"] == "error"
    assert issue["expression"] == ["Patient.birthDate"]


def test_validate_reports_structure_errors_and_a_registered_identifier(api):
    issue = body(api.post("Patient/$validate", new_patient(gender=5)))["issue"][0]
    assert issue["expression"][0].startswith("Patient.gender")
    taken = new_patient()
    assert api.post("Patient", taken).status_code == 201
    issue = body(api.post("Patient/$validate", taken))["issue"][0]
    assert issue["code"] == "conflict"


def test_validate_takes_parameters_and_update_mode(api, facility):
    patient = make_patient(facility)
    current = body(api.get(f"Patient/{patient.pk}"))
    sent = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": {**current, "birthDate": "2999-01-01"}},
            {"name": "mode", "valueCode": "update"},
        ],
    }
    issue = body(api.post("Patient/$validate", sent))["issue"][0]
    assert issue["expression"] == ["Patient.birthDate"]
    patient.refresh_from_db()
    assert patient.version == 1
    good = body(api.post(f"Patient/{patient.pk}/$validate", current))
    assert good["issue"][0]["severity"] == "information"


def test_validate_needs_the_write_scope(api_for, facility):
    reader = api_for(facility, scopes="system/Patient.rs")
    assert reader.post("Patient/$validate", new_patient()).status_code == 403


def test_validate_refuses_another_type_and_unknown_operations(api):
    response = api.post("Patient/$validate", {"resourceType": "Organization", "name": "x"})
    assert response.status_code == 400
    assert api.post("Organization/$validate", {"resourceType": "Organization"}).status_code == 404
    assert api.get("Patient/$validate").status_code == 405


def test_capability_statement_lists_the_operations(api):
    from tests.fhir.conftest import Api

    data = body(Api(None).get("metadata"))
    patient = [r for r in data["rest"][0]["resource"] if r["type"] == "Patient"][0]
    names = {o["name"] for o in patient["operation"]}
    assert {"everything", "validate"} <= names
