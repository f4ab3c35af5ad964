"""Transactions create their plain Patients together (`PatientProvider.create_many`): the same
answers, kept elements, audit and errors as one by one, in statements that do not grow with the
number of entries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ehealth.core.models import AuditEvent
from fhir_api import systems
from patients.models import Patient, PatientIdentifier
from tests.fhir.conftest import body
from tests.fhir.test_bundle_api import bundle, outcome, post_entry, urn
from tests.fhir.test_patient_api import new_patient
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db

KEPT = {
    "maritalStatus": {"coding": [{"system": "http://his.example/ms", "code": "M"}]},
    "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "vi"}]}}],
}


def _statements(api, size: int) -> tuple[int, dict]:
    sent = bundle("transaction", *(post_entry(new_patient(), urn()) for _ in range(size)))
    with CaptureQueriesContext(connection) as ctx:
        response = api.post("", sent)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), body(response)


def test_patients_of_a_transaction_are_created_together_in_constant_statements(api):
    _statements(api, 1)  # warm: the client's prepared statements
    small, _ = _statements(api, 3)
    large, data = _statements(api, 20)
    assert small == large
    # every entry answered in Bundle order, each a created Patient with its location and ETag
    assert [e["response"]["status"] for e in data["entry"]] == ["201 Created"] * 20
    for entry in data["entry"]:
        created = entry["resource"]
        assert entry["response"]["location"].startswith(f"Patient/{created['id']}/_history/1")
        assert entry["response"]["etag"] == 'W/"1"'
        assert entry["fullUrl"].endswith(f"Patient/{created['id']}")


def test_a_batched_create_answers_and_keeps_what_a_create_alone_does(api):
    # given the same resource (with elements the registry does not model) posted alone ...
    alone = new_patient(**KEPT)
    single = body(api.post("Patient", alone))
    # ... and in a transaction beside another Patient
    batched = new_patient(**KEPT)
    response = api.post(
        "",
        bundle("transaction", post_entry(new_patient(), urn()), post_entry(batched, urn())),
    )
    assert response.status_code == 200, response.content
    created = body(response)["entry"][1]["resource"]
    # then both answers are the same apart from the server's own and the identifier
    for resource in (single, created):
        for own in ("id", "meta", "identifier"):
            resource.pop(own)
    assert created == single
    # the kept elements come back on read, and each create was audited as alone
    read = body(api.get(f"Patient/{body(response)['entry'][1]['resource']['id']}"))
    assert read["maritalStatus"] == KEPT["maritalStatus"]
    assert read["communication"] == KEPT["communication"]
    assert AuditEvent.objects.filter(action="patient.create").count() == 3


def test_the_first_refused_entry_answers_for_the_transaction_and_nothing_is_kept(api, facility):
    # given a CCCD already registered, sent in entry 1, and an impossible birth date in entry 2
    taken = make_patient(facility)
    cccd = PatientIdentifier.objects.create(
        patient=taken, system="cccd", value=new_patient()["identifier"][0]["value"]
    ).value
    duplicate = new_patient(identifier=[{"system": systems.CCCD, "value": cccd}])
    sent = bundle(
        "transaction",
        post_entry(new_patient()),
        post_entry(duplicate),
        post_entry(new_patient(birthDate="2999-01-01")),
    )
    before = Patient.objects.count()
    # when
    response = api.post("", sent)
    # then the answer is entry 1's, as a create of it alone answers
    alone = api.post("Patient", duplicate)
    assert response.status_code == alone.status_code == 409
    issue = outcome(response)
    assert issue["diagnostics"].startswith("Bundle.entry[1] (POST Patient): ")
    assert issue["diagnostics"].endswith(outcome(alone)["diagnostics"])
    assert Patient.objects.count() == before


def test_a_structural_error_after_good_entries_is_answered_at_its_entry(api):
    sent = bundle(
        "transaction",
        post_entry(new_patient()),
        post_entry(new_patient()),
        post_entry(new_patient(gender=5)),
    )
    before = Patient.objects.count()
    response = api.post("", sent)
    assert response.status_code == 400
    assert outcome(response)["expression"][0].startswith("Bundle.entry[2].resource.gender")
    assert Patient.objects.count() == before


def test_the_same_cccd_twice_in_a_transaction_is_refused_at_the_second_as_one_by_one(api):
    resource = new_patient()
    sent = bundle("transaction", post_entry(resource), post_entry(dict(resource)))
    before = Patient.objects.count()
    response = api.post("", sent)
    assert response.status_code == 409
    assert outcome(response)["diagnostics"].startswith("Bundle.entry[1] (POST Patient): ")
    assert Patient.objects.count() == before
