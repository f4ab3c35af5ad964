"""The check of every FHIR response against the official R4 JSON schema (tests/fhir/schema.py)."""

from __future__ import annotations

import json

import pytest

from fhir_api.http import FhirResult
from fhir_api.providers.patient import PatientProvider
from tests.fhir import schema
from tests.fhir.conftest import SchemaViolation
from tests.patients.factories import make_patient


def test_a_patient_with_gender_5_is_refused_with_the_element_path():
    errors = schema.schema_errors({"resourceType": "Patient", "gender": 5})
    assert errors == ["Patient.gender: 5 is not one of ['male', 'female', 'other', 'unknown']"]


def test_an_error_inside_a_bundle_names_the_entry():
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "Patient", "birthDate": "1990-01-01"}},
            {"resource": {"resourceType": "Patient", "birthDate": "12/05/1990"}},
        ],
    }
    (error,) = schema.schema_errors(bundle)
    assert error.startswith("Bundle.entry[1].resource.birthDate: '12/05/1990' does not match")


def test_what_medplum_added_to_the_schema_is_refused_as_hl7_refuses_it():
    assert schema.schema_errors({"resourceType": "Project"}) == [
        "Project: resourceType 'Project' is not an R4 resource type"
    ]
    (error,) = schema.schema_errors({"resourceType": "Patient", "meta": {"project": "x"}})
    assert "'project' was unexpected" in error
    (error,) = schema.schema_errors(
        {"resourceType": "Patient", "managingOrganization": {"resource": {}}}
    )
    assert "'resource' was unexpected" in error


def test_valid_resources_and_non_fhir_bodies_pass():
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "expression": ["Patient.gender"]}],
    }
    assert schema.schema_errors(outcome) == []
    assert schema.check_body(b"", "application/fhir+json", "x") == []
    assert schema.check_body(b'{"output": []}', "application/json", "x") == []  # a manifest
    assert schema.check_body(b"<html/>", "text/html", "x") == []
    ndjson = b'{"resourceType": "Patient"}\n{"resourceType": "Patient", "gender": 5}\n'
    (error,) = schema.check_body(ndjson, "application/fhir+ndjson", "GET x")
    assert error.startswith("GET x: line 2: Patient.gender")


def test_an_unknown_or_missing_resource_type_is_refused():
    assert schema.check_body(b"[]", "application/fhir+json", "GET x") == [
        "GET x: ?: a resource must be a JSON object, not list"
    ]
    assert schema.schema_errors({"resourceType": "Patients"}) == [
        "Patients: resourceType 'Patients' is not an R4 resource type"
    ]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": [1]}]}
    assert schema.schema_errors(bundle) == [
        "Bundle.entry[0].resource: a resource must be a JSON object, not list"
    ]


def test_a_missing_schema_fails_loudly_with_how_to_install(monkeypatch, tmp_path):
    schema.validator.cache_clear()
    try:
        with monkeypatch.context() as patched:
            patched.setenv("FHIR_SCHEMA_PATH", str(tmp_path / "none.json"))
            with pytest.raises(schema.SchemaMissing, match="make fhir-schema"):
                schema.validator()
    finally:
        schema.validator.cache_clear()
    assert schema.validator() is schema.validator()  # built once, then reused


@pytest.mark.django_db
def test_a_response_the_schema_refuses_fails_the_test_at_the_call(api, facility, monkeypatch):
    # given a server that answers a Patient with gender 5 (fhir.resources is not asked here)
    patient = make_patient(facility)

    def broken_read(self, call, resource_id):
        return FhirResult(200, {"resourceType": "Patient", "id": resource_id, "gender": 5})

    monkeypatch.setattr(PatientProvider, "read", broken_read)
    # when a test reads it, then the call itself fails with the path and the request
    with pytest.raises(SchemaViolation) as refused:
        api.get(f"Patient/{patient.pk}")
    message = str(refused.value)
    assert f"GET /fhir/R4/Patient/{patient.pk} -> 200" in message
    assert "Patient.gender: 5 is not one of" in message


@pytest.mark.django_db
def test_error_bodies_are_checked_too(api):
    response = api.get("Patient/999999")
    assert response.status_code == 404
    data = json.loads(response.content)
    assert data["resourceType"] == "OperationOutcome" and schema.schema_errors(data) == []
