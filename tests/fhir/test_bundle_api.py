"""Batch and transaction Bundles at the base: all or nothing, urn:uuid references, entry errors."""

from __future__ import annotations

import uuid

import pytest

from ehealth.core.models import AuditEvent
from patients.models import Patient
from tests.fhir.conftest import body
from tests.fhir.test_patient_api import new_patient
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def post_entry(resource: dict, full_url: str = "", **request) -> dict:
    entry = {"resource": resource, "request": {"method": "POST", "url": "Patient", **request}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def bundle(kind: str, *entries: dict) -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def outcome(response) -> dict:
    data = body(response)
    assert data["resourceType"] == "OperationOutcome", data
    return data["issue"][0]


# --- transaction ---------------------------------------------------------------------------------


def test_transaction_creates_all_and_resolves_urn_uuid_references(api):
    first, second = urn(), urn()
    sent = bundle(
        "transaction",
        # listed before the patient it refers to: the server orders the creates itself
        post_entry(new_patient(link=[{"other": {"reference": first}, "type": "seealso"}]), second),
        post_entry(new_patient(name=[{"family": "Trần", "given": ["Thị", "Bình"]}]), first),
    )
    before = Patient.objects.count()
    response = api.post("", sent)
    assert response.status_code == 200, response.content
    data = body(response)
    assert data["type"] == "transaction-response"
    assert [e["response"]["status"] for e in data["entry"]] == ["201 Created", "201 Created"]
    assert Patient.objects.count() == before + 2
    linking, linked = (e["resource"] for e in data["entry"])
    assert linked["name"][0]["family"] == "Trần"
    assert linking["link"][0]["other"]["reference"] == f"Patient/{linked['id']}"
    assert data["entry"][1]["response"]["location"].startswith(f"Patient/{linked['id']}/_history/")
    assert data["entry"][1]["response"]["etag"] == 'W/"1"'
    # what was written comes back on read, the reference resolved
    read = body(api.get(f"Patient/{linking['id']}"))
    assert read["link"][0]["other"]["reference"] == f"Patient/{linked['id']}"


def test_transaction_with_one_bad_entry_leaves_nothing(api):
    good, bad = new_patient(), new_patient(birthDate="2999-01-01")
    sent = bundle(
        "transaction", post_entry(good, urn()), post_entry(new_patient()), post_entry(bad)
    )
    before, audits = Patient.objects.count(), AuditEvent.objects.count()
    response = api.post("", sent)
    assert response.status_code == 422, response.content
    issue = outcome(response)
    assert issue["diagnostics"].startswith("Bundle.entry[2] (POST Patient): ")
    assert issue["expression"][0].startswith("Bundle.entry[2].resource")
    assert Patient.objects.count() == before
    # only the refusal itself is audited; the rolled back creates left no trace of success
    assert list(AuditEvent.objects.order_by("pk")[audits:].values_list("action", flat=True)) == [
        "fhir.refused"
    ]


def test_transaction_with_a_structurally_invalid_resource_is_400_at_its_entry(api):
    sent = bundle("transaction", post_entry(new_patient()), post_entry(new_patient(gender=5)))
    before = Patient.objects.count()
    response = api.post("", sent)
    assert response.status_code == 400
    assert outcome(response)["expression"][0].startswith("Bundle.entry[1].resource.gender")
    assert Patient.objects.count() == before


def test_transaction_reference_to_an_unknown_urn_is_400(api):
    ghost = urn()
    sent = bundle(
        "transaction",
        post_entry(new_patient(link=[{"other": {"reference": ghost}, "type": "seealso"}])),
    )
    response = api.post("", sent)
    assert response.status_code == 400
    issue = outcome(response)
    assert ghost in issue["diagnostics"]
    assert issue["expression"] == ["Bundle.entry[0].resource.link[0].other.reference"]


def test_transaction_with_a_reference_cycle_is_400(api):
    a, b = urn(), urn()
    sent = bundle(
        "transaction",
        post_entry(new_patient(link=[{"other": {"reference": b}, "type": "seealso"}]), a),
        post_entry(new_patient(link=[{"other": {"reference": a}, "type": "seealso"}]), b),
    )
    before = Patient.objects.count()
    response = api.post("", sent)
    assert response.status_code == 400
    assert "cycle" in outcome(response)["diagnostics"]
    assert Patient.objects.count() == before


def test_transaction_conditional_create_matches_instead_of_duplicating(api):
    resource = new_patient()
    cccd = resource["identifier"][0]
    condition = f"identifier={cccd['system']}|{cccd['value']}"
    first = api.post("", bundle("transaction", post_entry(resource, ifNoneExist=condition)))
    assert first.status_code == 200
    again = api.post("", bundle("transaction", post_entry(resource, ifNoneExist=condition)))
    data = body(again)
    assert data["entry"][0]["response"]["status"] == "200 OK"
    assert data["entry"][0]["resource"]["id"] == body(first)["entry"][0]["resource"]["id"]


def test_transaction_update_with_a_stale_etag_rolls_back_the_creates(api, facility):
    patient = make_patient(facility)
    current = body(api.get(f"Patient/{patient.pk}"))
    before = Patient.objects.count()
    sent = bundle(
        "transaction",
        post_entry(new_patient()),
        {
            "resource": {**current, "telecom": [{"system": "phone", "value": "0905999888"}]},
            "request": {"method": "PUT", "url": f"Patient/{patient.pk}", "ifMatch": 'W/"7"'},
        },
    )
    response = api.post("", sent)
    assert response.status_code == 412
    assert outcome(response)["expression"] == ["Bundle.entry[1].request.ifMatch"]
    assert Patient.objects.count() == before
    patient.refresh_from_db()
    assert patient.version == 1


def test_transaction_update_with_the_current_etag(api, facility):
    patient = make_patient(facility)
    current = body(api.get(f"Patient/{patient.pk}"))
    sent = bundle(
        "transaction",
        {
            "resource": {**current, "telecom": [{"system": "phone", "value": "0905999888"}]},
            "request": {"method": "PUT", "url": f"Patient/{patient.pk}", "ifMatch": 'W/"1"'},
        },
        {"request": {"method": "GET", "url": f"Patient/{patient.pk}"}},
    )
    data = body(api.post("", sent))
    assert [e["response"]["status"] for e in data["entry"]] == ["200 OK", "200 OK"]
    # GETs run after the writes of a transaction
    assert data["entry"][1]["resource"]["telecom"][0]["value"] == "0905999888"
    assert data["entry"][1]["response"]["etag"] == 'W/"2"'


def test_transaction_needs_the_scope_of_every_entry(api_for, facility):
    reader = api_for(facility, scopes="system/Patient.rs")
    before = Patient.objects.count()
    response = reader.post("", bundle("transaction", post_entry(new_patient())))
    assert response.status_code == 403
    assert "system/Patient.c" in outcome(response)["diagnostics"]
    assert Patient.objects.count() == before


# --- batch -------------------------------------------------------------------------------------


def test_batch_entries_stand_or_fail_alone(api, facility):
    patient = make_patient(facility)
    sent = bundle(
        "batch",
        post_entry(new_patient()),
        post_entry(new_patient(birthDate="2999-01-01")),
        {"request": {"method": "GET", "url": f"Patient/{patient.pk}"}},
        {"request": {"method": "GET", "url": "Patient/999999999"}},
        {"request": {"method": "GET", "url": f"Patient?_id={patient.pk}"}},
        {"request": {"method": "PATCH", "url": f"Patient/{patient.pk}"}},
    )
    before = Patient.objects.count()
    response = api.post("", sent)
    assert response.status_code == 200
    data = body(response)
    assert data["type"] == "batch-response"
    statuses = [e["response"]["status"].split()[0] for e in data["entry"]]
    assert statuses == ["201", "422", "200", "404", "200", "405"]
    assert Patient.objects.count() == before + 1
    assert data["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert data["entry"][4]["resource"]["type"] == "searchset"
    assert data["entry"][4]["resource"]["entry"][0]["resource"]["id"] == str(patient.pk)


def test_batch_entries_are_checked_against_the_scopes_one_by_one(api_for, facility):
    patient = make_patient(facility)
    reader = api_for(facility, scopes="system/Patient.rs")
    sent = bundle(
        "batch",
        {"request": {"method": "GET", "url": f"Patient/{patient.pk}"}},
        post_entry(new_patient()),
    )
    data = body(reader.post("", sent))
    assert [e["response"]["status"].split()[0] for e in data["entry"]] == ["200", "403"]


# --- the envelope --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent, where",
    [
        ({"resourceType": "Bundle", "type": "collection"}, "Bundle.type"),
        ({"resourceType": "Patient"}, "resourceType"),
        (
            bundle("transaction", {"resource": new_patient()}),
            "Bundle.entry[0].request",
        ),
        (
            bundle("transaction", {"request": {"method": "POST", "url": "Patient"}}),
            "Bundle.entry[0].resource",
        ),
        (
            bundle(
                "transaction",
                {"resource": new_patient(), "request": {"method": "POST", "url": "Encounter?x=1"}},
            ),
            "Bundle.entry[0].request.url",
        ),
        (
            bundle(
                "transaction",
                {"resource": new_patient(), "request": {"method": "POST", "url": "Organization"}},
            ),
            "Bundle.entry[0].request.method",
        ),
    ],
)
def test_malformed_bundles_say_where(api, sent, where):
    response = api.post("", sent)
    assert 400 <= response.status_code < 500
    assert outcome(response)["expression"] == [where]


def test_the_base_takes_only_post(api):
    assert api.get("").status_code == 405


def test_capability_statement_lists_transaction_and_batch(api):
    from tests.fhir.conftest import Api

    data = body(Api(None).get("metadata"))
    codes = {i["code"] for i in data["rest"][0]["interaction"]}
    assert codes == {"transaction", "batch"}
