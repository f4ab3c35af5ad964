"""Interoperability: an independent client library (fhirpy) against a live server.

The partner gets a token by OAuth2 client credentials, registers a patient and a visit by a
transaction Bundle, finds the patient by name typed without diacritics, reads their encounters,
updates the patient with If-Match, and hits a conflict with the stale ETag.
"""

from __future__ import annotations

import uuid

import pytest
import requests
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import MultipleResourcesFound

from fhir_api import systems
from patients.choices import Sex
from tests.clinical.factories import make_room
from tests.patients.factories import unique_cccd

pytestmark = pytest.mark.django_db(transaction=True)


def _token(base: str, client_id: str, secret: str) -> str:
    answer = requests.post(
        f"{base}/o/token/",
        data={"grant_type": "client_credentials", "scope": "system/*.cruds"},
        auth=(client_id, secret),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"
    return answer.json()["access_token"]


def test_partner_flow_with_fhirpy(live_server, facility, register_client):
    make_room(facility)  # the unit's one clinic room: where a new visit waits
    registered = register_client(facility, "system/*.cruds")
    token = _token(live_server.url, registered.client_id, registered.client_secret)
    base = f"{live_server.url}/fhir/R4"
    client = SyncFHIRClient(base, authorization=f"Bearer {token}")

    # 1. a transaction registers the patient and their visit, the visit referring to the patient
    patient_urn = f"urn:uuid:{uuid.uuid4()}"
    cccd = unique_cccd(sex=Sex.FEMALE, birth_year=1990)
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "Encounter",
                    "status": "arrived",
                    "class": {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                        "code": "AMB",
                    },
                    "subject": {"reference": patient_urn},
                    "reasonCode": [{"text": "Ho, sốt ba ngày"}],
                },
                "request": {"method": "POST", "url": "Encounter"},
            },
            {
                "fullUrl": patient_urn,
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": systems.CCCD, "value": cccd}],
                    "name": [{"family": "Nguyễn", "given": ["Thị", "Ánh", "Tuyết"]}],
                    "gender": "female",
                    "birthDate": "1990-02-14",
                },
                "request": {
                    "method": "POST",
                    "url": "Patient",
                    "ifNoneExist": f"identifier={systems.CCCD}|{cccd}",
                },
            },
        ],
    }
    answer = client.execute("", method="post", data=transaction)
    assert answer["type"] == "transaction-response"
    assert [e["response"]["status"] for e in answer["entry"]] == ["201 Created", "201 Created"]
    patient_ref = answer["entry"][1]["response"]["location"].split("/_history")[0]
    patient_id = patient_ref.split("/")[1]

    # 2. search by name without diacritics (and case)
    found = client.resources("Patient").search(name="nguyen anh tuyet").fetch()
    assert [p.id for p in found] == [patient_id]

    # 3. the patient's encounters
    encounters = client.resources("Encounter").search(patient=patient_id).fetch()
    assert len(encounters) == 1
    assert encounters[0]["subject"]["reference"] == f"Patient/{patient_id}"

    # 4. read, then update with If-Match
    patient = client.reference("Patient", patient_id).to_resource()
    version = patient["meta"]["versionId"]
    patient["telecom"] = [{"system": "phone", "value": "0905111222"}]
    writer = SyncFHIRClient(
        base, authorization=f"Bearer {token}", extra_headers={"If-Match": f'W/"{version}"'}
    )
    updated = writer.resource("Patient", **patient.serialize())
    updated.save()
    again = client.reference("Patient", patient_id).to_resource()
    assert again["telecom"][0]["value"] == "0905111222"
    assert int(again["meta"]["versionId"]) == int(version) + 1

    # 5. the same update with the now stale ETag is refused with 412 (fhirpy names it so)
    stale = writer.resource("Patient", **patient.serialize())
    stale["telecom"] = [{"system": "phone", "value": "0905333444"}]
    with pytest.raises(MultipleResourcesFound) as refused:
        stale.save()
    assert "OperationOutcome" in str(refused.value)
    assert "If-Match" in str(refused.value)
    assert client.reference("Patient", patient_id).to_resource()["telecom"][0]["value"] == (
        "0905111222"
    )
