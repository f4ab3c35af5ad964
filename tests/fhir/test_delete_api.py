"""DELETE Patient: a void of a record registered in error, through the registry's service."""

from __future__ import annotations

import pytest

from ehealth.core.models import AuditEvent, Role
from patients.choices import IdentifierSystem
from patients.models import Patient, PatientIdentifier
from patients.services import patient_share_with_facility
from tests.clinical.factories import make_encounter
from tests.core.factories import make_staff
from tests.fhir.conftest import body
from tests.fhir.test_patient_api import new_patient
from tests.patients.factories import make_patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_eager")]


@pytest.fixture
def created(api) -> dict:
    return body(api.post("Patient", new_patient()))


def issue(response) -> dict:
    return body(response)["issue"][0]


def test_delete_voids_the_record_and_read_answers_410(api, created):
    pid = created["id"]
    # when the partner deletes the patient it registered in error
    response = api.delete(f"Patient/{pid}", x_reason="Trùng hồ sơ, đăng ký nhầm")
    # then 204, the record voided as version 2 with the reason, attributed to the client
    assert response.status_code == 204 and response.content == b""
    assert response["ETag"] == 'W/"2"'
    patient = Patient.objects.get(pk=pid)
    assert patient.voided_at is not None and patient.version == 2
    assert patient.void_reason == "Trùng hồ sơ, đăng ký nhầm"
    event = AuditEvent.objects.get(action="patient.void", patient_id=pid)
    assert event.detail["version"] == 2
    # read answers 410 Gone with an OperationOutcome; search no longer finds it
    gone = api.get(f"Patient/{pid}")
    assert gone.status_code == 410
    assert issue(gone)["code"] == "deleted"
    assert "entry" not in body(api.get("Patient", {"_id": pid}))
    # the history ends with the delete; the version before it is still readable
    entries = body(api.get(f"Patient/{pid}/_history"))["entry"]
    assert entries[0]["request"] == {"method": "DELETE", "url": f"Patient/{pid}"}
    assert entries[0]["response"]["etag"] == 'W/"2"' and "resource" not in entries[0]
    assert [e["request"]["method"] for e in entries] == ["DELETE", "POST"]
    assert body(api.get(f"Patient/{pid}/_history/1"))["name"] == created["name"]
    deletion = api.get(f"Patient/{pid}/_history/2")
    assert deletion.status_code == 410 and deletion["ETag"] == 'W/"2"'
    # and the type history shows it too
    types = body(api.get("Patient/_history"))["entry"]
    assert types[0]["request"]["method"] == "DELETE"


def test_delete_without_a_reason_records_the_client(api, created):
    assert api.delete(f"Patient/{created['id']}").status_code == 204
    reason = Patient.objects.get(pk=created["id"]).void_reason
    assert reason == f"Deleted by partner system {api.registered.client_id}"


def test_delete_frees_the_citizen_id_for_a_correct_registration(api, created):
    cccd = created["identifier"][0]["value"]
    assert api.delete(f"Patient/{created['id']}").status_code == 204
    assert not PatientIdentifier.objects.filter(value=cccd, voided_at__isnull=True).exists()
    again = api.post("Patient", new_patient(identifier=created["identifier"]))
    assert again.status_code == 201


def test_delete_of_a_patient_with_encounters_is_409_and_changes_nothing(api, facility, created):
    make_encounter(facility=facility, patient=Patient.objects.get(pk=created["id"]))
    response = api.delete(f"Patient/{created['id']}")
    assert response.status_code == 409
    found = issue(response)
    assert found["code"] == "conflict" and found["expression"] == ["Patient"]
    assert "has 1 encounter(s)" in found["diagnostics"]
    patient = Patient.objects.get(pk=created["id"])
    assert patient.voided_at is None and patient.version == 1
    assert api.get(f"Patient/{created['id']}").status_code == 200


def test_delete_with_if_match(api, created):
    stale = api.delete(f"Patient/{created['id']}", if_match='W/"7"')
    assert stale.status_code == 412
    assert issue(stale)["expression"] == ["If-Match"]
    assert api.delete(f"Patient/{created['id']}", if_match="garbage").status_code == 412
    assert Patient.objects.get(pk=created["id"]).voided_at is None
    assert api.delete(f"Patient/{created['id']}", if_match='W/"1"').status_code == 204


def test_delete_twice_answers_204_again(api, created):
    assert api.delete(f"Patient/{created['id']}").status_code == 204
    again = api.delete(f"Patient/{created['id']}")
    assert again.status_code == 204 and again["ETag"] == 'W/"2"'
    assert Patient.objects.get(pk=created["id"]).version == 2


def test_delete_may_answer_an_operation_outcome(api, created):
    response = api.delete(f"Patient/{created['id']}", prefer="return=OperationOutcome")
    assert response.status_code == 200
    assert issue(response)["code"] == "deleted"


def test_delete_needs_the_delete_scope(api_for, facility, created):
    response = api_for(facility, "system/Patient.rs").delete(f"Patient/{created['id']}")
    assert response.status_code == 403
    assert "system/Patient.d" in issue(response)["diagnostics"]


def test_delete_of_a_shared_record_is_forbidden_and_unknown_is_404(
    api_for, facility, other_facility
):
    patient = make_patient(facility)
    other = api_for(other_facility)
    assert other.delete(f"Patient/{patient.pk}").status_code == 404
    patient_share_with_facility(
        actor=make_staff(facility, Role.DOCTOR),
        facility=facility,
        patient=patient,
        target_facility=other_facility,
        reason="Hội chẩn",
    )
    assert other.delete(f"Patient/{patient.pk}").status_code == 403
    assert Patient.objects.get(pk=patient.pk).voided_at is None
    assert other.delete("Patient/999999").status_code == 404


def test_a_voided_patient_is_gone_for_update_and_404_for_other_units(
    api, api_for, other_facility, created
):
    assert api.delete(f"Patient/{created['id']}").status_code == 204
    update = api.put(f"Patient/{created['id']}", created, if_match='W/"2"')
    assert update.status_code == 410
    assert api_for(other_facility).get(f"Patient/{created['id']}").status_code == 404


def test_staff_sessions_cannot_delete(client, facility, created):
    client.force_login(make_staff(facility, Role.RECEPTIONIST))
    assert client.delete(f"/fhir/R4/Patient/{created['id']}").status_code == 403
    assert Patient.objects.get(pk=created["id"]).voided_at is None


def test_delete_of_a_read_only_resource_is_still_405(api, facility):
    response = api.delete(f"Organization/{facility.pk}")
    assert response.status_code == 405
    assert "DELETE" not in response["Allow"]


def test_record_number_stays_after_delete(api, facility, created):
    assert api.delete(f"Patient/{created['id']}").status_code == 204
    assert PatientIdentifier.objects.filter(
        patient_id=created["id"], system=IdentifierSystem.MRN, voided_at__isnull=True
    ).exists()
