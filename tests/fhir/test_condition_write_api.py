"""Condition writes over HTTP: create (one ICD-10 diagnosis on an open encounter of the client's
unit; conditional), delete (a void that stays readable as entered-in-error), kept elements,
scopes, visibility, audit, and a transaction that registers a visit with its diagnosis."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ehealth.core.models import AuditEvent, Role
from fhir_api import systems
from fhir_api.mappers.condition import RANK_PATH
from patients.clinical_choices import DiagnosisPhase, EncounterKind, EncounterStatus
from patients.models import Diagnosis, Encounter
from patients.services import patient_share_with_facility
from tests.clinical.factories import make_encounter, make_icd, make_room
from tests.core.factories import make_staff
from tests.fhir.conftest import Api, body
from tests.fhir.test_encounter_write_api import contains, grant, issue, visit_resource
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def icd(db):
    make_icd("J06.9", "Nhiễm trùng đường hô hấp trên cấp")
    make_icd("I10", "Tăng huyết áp vô căn")
    make_icd("E11", "Đái tháo đường typ 2 (nhóm)", billable=False)


@pytest.fixture
def doctor_api(api, facility):
    grant(api, facility, Role.DOCTOR)
    return api


@pytest.fixture
def visit(facility):
    """A visit of the unit, in examination."""
    return make_encounter(
        facility=facility,
        patient=make_patient(facility, full_name="Nguyễn Văn An"),
        status=EncounterStatus.IN_EXAMINATION,
    )


def condition(on: Encounter, icd_code: str = "J06.9", **elements: Any) -> dict:
    resource = {
        "resourceType": "Condition",
        "code": {"coding": [{"system": systems.ICD_10, "code": icd_code}]},
        "subject": {"reference": f"Patient/{on.patient_id}"},
        "encounter": {"reference": f"Encounter/{on.pk}"},
    }
    resource.update(elements)
    return resource


def rank(n: int) -> dict:
    return {"url": systems.DIAGNOSIS_RANK_EXT, "valuePositiveInt": n}


# --- create ---------------------------------------------------------------------------------------


def test_create_records_the_diagnosis_and_reads_back_every_element_sent(doctor_api, visit, icd):
    # given a diagnosis with elements the registry models and some it does not
    sent = condition(
        visit,
        code={
            "coding": [
                {"system": systems.ICD_10, "code": "J06.9"},
                {"system": "http://snomed.info/sct", "code": "54150009"},
            ]
        },
        extension=[rank(1)],
        verificationStatus={
            "coding": [{"system": systems.CONDITION_VER_STATUS_CS, "code": "confirmed"}]
        },
        severity={"coding": [{"system": "http://snomed.info/sct", "code": "255604002"}]},
        note=[{"text": "Khởi phát sau đi mưa"}],
    )
    # when created
    response = doctor_api.post("Condition", sent)
    # then 201, Location and ETag of version 1; the registry holds the main diagnosis
    assert response.status_code == 201, response.content
    data = body(response)
    assert response["Location"].endswith(f"/fhir/R4/Condition/{data['id']}/_history/1")
    assert response["ETag"] == 'W/"1"'
    diagnosis = Diagnosis.objects.get(pk=data["id"])
    assert (diagnosis.icd_code, diagnosis.rank, diagnosis.phase) == ("J06.9", 0, "encounter")
    assert diagnosis.text == "Nhiễm trùng đường hô hấp trên cấp"
    assert diagnosis.recorded_by == doctor_api.registered.client.application.user
    # and a read gives back the same, with every element sent
    read = doctor_api.get(f"Condition/{data['id']}")
    assert read["ETag"] == 'W/"1"'
    again = body(read)
    assert again == data
    assert contains(again, sent)
    assert again["clinicalStatus"]["coding"][0]["code"] == "active"


def test_onset_and_recorded_date_are_the_servers(doctor_api, visit, icd):
    sent = condition(
        visit,
        onsetPeriod={"start": "2026-01-01T08:00:00+07:00"},
        recordedDate="2026-01-02T08:00:00+07:00",
    )
    data = body(doctor_api.post("Condition", sent))
    assert "onsetPeriod" not in data and data["onsetDateTime"] != sent["onsetPeriod"]["start"]
    assert data["recordedDate"] != sent["recordedDate"]
    assert body(doctor_api.get(f"Condition/{data['id']}")) == data


def test_create_is_audited_and_moves_the_encounters_version(doctor_api, visit, icd):
    data = body(doctor_api.post("Condition", condition(visit)))
    event = AuditEvent.objects.get(action="diagnosis.add")
    assert event.detail["diagnosis_id"] == int(data["id"]) and event.channel == "fhir"
    assert event.actor == doctor_api.registered.client.application.user
    visit.refresh_from_db()
    assert visit.version == 2
    assert doctor_api.get(f"Encounter/{visit.pk}")["ETag"] == 'W/"2"'


def test_secondary_diagnoses_follow_the_main_one(doctor_api, visit, icd):
    doctor_api.post("Condition", condition(visit))
    second = body(doctor_api.post("Condition", condition(visit, "I10")))
    ranks = [e for e in second["extension"] if e["url"] == systems.DIAGNOSIS_RANK_EXT]
    assert ranks == [rank(2)]
    taken = doctor_api.post("Condition", condition(visit, "I10", extension=[rank(1)]))
    assert taken.status_code == 422
    assert issue(taken)["expression"] == ["Condition.code"]  # I10 is already there


def test_main_place_taken_is_422_at_the_rank(doctor_api, visit, icd):
    doctor_api.post("Condition", condition(visit))
    make_icd("E11.9", "Đái tháo đường typ 2")
    response = doctor_api.post("Condition", condition(visit, "E11.9", extension=[rank(1)]))
    assert response.status_code == 422 and issue(response)["expression"] == [RANK_PATH]


def test_admission_diagnosis_is_provisional(doctor_api, facility, icd):
    stay = make_encounter(facility=facility, kind=EncounterKind.INPATIENT)
    sent = condition(
        stay,
        "I10",
        verificationStatus={
            "coding": [{"system": systems.CONDITION_VER_STATUS_CS, "code": "provisional"}]
        },
    )
    data = body(doctor_api.post("Condition", sent))
    assert Diagnosis.objects.get(pk=data["id"]).phase == DiagnosisPhase.ADMISSION
    assert data["verificationStatus"]["coding"][0]["code"] == "provisional"


@pytest.mark.parametrize(
    ("code", "fragment"), [("Z99.99", "không có trong danh mục"), ("E11", "chi tiết hơn")]
)
def test_a_code_not_in_the_catalog_is_422_at_the_code(doctor_api, visit, icd, code, fragment):
    response = doctor_api.post("Condition", condition(visit, code))
    assert response.status_code == 422
    problem = issue(response)
    assert problem["expression"] == ["Condition.code"] and fragment in problem["diagnostics"]
    assert not Diagnosis.objects.filter(encounter=visit).exists()


@pytest.mark.parametrize(
    ("elements", "status", "path"),
    [
        ({"code": {"text": "Viêm họng"}}, 422, "Condition.code"),
        ({"clinicalStatus": {"coding": [{"system": systems.CONDITION_CLINICAL_CS, "code": "resolved"}]}}, 422, "Condition.clinicalStatus"),
        ({"encounter": {"reference": "Encounter/x"}}, 422, "Condition.encounter.reference"),
        ({"subject": None}, 400, "Condition.subject"),
        ({"onsetDateTime": "tomorrow"}, 400, "Condition.onsetDateTime"),
    ],
)  # fmt: skip
def test_bad_input_names_the_element(doctor_api, visit, icd, elements, status, path):
    sent = {k: v for k, v in condition(visit, **elements).items() if v is not None}
    response = doctor_api.post("Condition", sent)
    assert response.status_code == status, response.content
    assert any(path in e for e in issue(response)["expression"]), issue(response)


def test_subject_other_than_the_encounters_patient_is_422(doctor_api, facility, visit, icd):
    other = make_patient(facility)
    sent = condition(visit, subject={"reference": f"Patient/{other.pk}"})
    response = doctor_api.post("Condition", sent)
    assert response.status_code == 422 and issue(response)["expression"] == ["Condition.subject"]


def test_encounter_of_another_units_patient_is_404(doctor_api, other_facility, icd):
    elsewhere = make_encounter(facility=other_facility, status=EncounterStatus.IN_EXAMINATION)
    response = doctor_api.post("Condition", condition(elsewhere))
    assert response.status_code == 404
    assert issue(response)["expression"] == ["Condition.encounter"]


def test_encounter_of_another_unit_seen_through_a_share_is_403(
    doctor_api, facility, other_facility, icd
):
    shared = make_patient(other_facility)
    elsewhere = make_encounter(
        facility=other_facility, patient=shared, status=EncounterStatus.IN_EXAMINATION
    )
    patient_share_with_facility(
        actor=make_staff(other_facility, Role.DOCTOR),
        facility=other_facility,
        patient=shared,
        target_facility=facility,
        reason="Hội chẩn",
    )
    assert doctor_api.post("Condition", condition(elsewhere)).status_code == 403


def test_a_concluded_encounter_is_422_business_rule(doctor_api, facility, icd):
    done = make_encounter(facility=facility, status=EncounterStatus.CONCLUDED)
    response = doctor_api.post("Condition", condition(done))
    assert response.status_code == 422
    problem = issue(response)
    assert problem["code"] == "business-rule" and problem["expression"] == ["Condition.encounter"]


def test_recording_a_diagnosis_needs_the_doctors_role(api, visit, icd):
    response = api.post("Condition", condition(visit))
    assert response.status_code == 403
    assert not Diagnosis.objects.filter(encounter=visit).exists()


def test_create_needs_the_create_scope(api_for, facility, visit, icd):
    reader = api_for(facility, "system/Condition.rs")
    grant(reader, facility, Role.DOCTOR)
    response = reader.post("Condition", condition(visit))
    assert response.status_code == 403
    assert "system/Condition.c" in issue(response)["diagnostics"]


def test_conditional_create_finds_the_diagnosis_already_recorded(doctor_api, visit, icd):
    header = f"encounter=Encounter/{visit.pk}&code={systems.ICD_10}|J06.9"
    first = doctor_api.post("Condition", condition(visit), if_none_exist=header)
    again = doctor_api.post("Condition", condition(visit), if_none_exist=header)
    assert (first.status_code, again.status_code) == (201, 200)
    assert body(again)["id"] == body(first)["id"]
    assert Diagnosis.objects.filter(encounter=visit).count() == 1


# --- delete ---------------------------------------------------------------------------------------


@pytest.fixture
def recorded(doctor_api, visit, icd) -> dict:
    response = doctor_api.post("Condition", condition(visit, note=[{"text": "Ghi chú"}]))
    assert response.status_code == 201
    return body(response)


def test_delete_voids_with_the_reason_and_the_condition_reads_entered_in_error(
    doctor_api, visit, recorded
):
    path = f"Condition/{recorded['id']}"
    reason = "Nhập nhầm bệnh nhân"
    response = doctor_api.delete(path, x_reason=reason.encode().decode("latin-1"))
    assert response.status_code == 204 and response["ETag"] == 'W/"2"'
    diagnosis = Diagnosis.objects.get(pk=recorded["id"])
    assert diagnosis.voided_at is not None and diagnosis.void_reason == reason
    # still readable (not 410): withdrawn, with what was kept
    read = doctor_api.get(path)
    assert read.status_code == 200 and read["ETag"] == 'W/"2"'
    data = body(read)
    assert data["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in data and data["note"] == [{"text": "Ghi chú"}]
    # never in a search
    found = body(doctor_api.get("Condition", {"encounter": f"Encounter/{visit.pk}"}))
    assert "entry" not in found
    event = AuditEvent.objects.get(action="diagnosis.void")
    assert event.detail["diagnosis_id"] == int(recorded["id"]) and event.channel == "fhir"


def test_delete_without_a_reason_names_the_client_and_again_is_204(doctor_api, recorded):
    path = f"Condition/{recorded['id']}"
    assert doctor_api.delete(path).status_code == 204
    reason = Diagnosis.objects.get(pk=recorded["id"]).void_reason
    assert doctor_api.registered.client_id in reason
    again = doctor_api.delete(path)
    assert again.status_code == 204
    assert AuditEvent.objects.filter(action="diagnosis.void").count() == 1
    assert AuditEvent.objects.filter(action="fhir.condition.delete_repeated").count() == 1


def test_delete_with_a_stale_if_match_is_412(doctor_api, recorded):
    response = doctor_api.delete(f"Condition/{recorded['id']}", if_match='W/"2"')
    assert response.status_code == 412
    assert Diagnosis.objects.get(pk=recorded["id"]).voided_at is None
    assert doctor_api.delete(f"Condition/{recorded['id']}", if_match='W/"1"').status_code == 204


def test_delete_prefer_operation_outcome(doctor_api, recorded):
    response = doctor_api.delete(f"Condition/{recorded['id']}", prefer="return=OperationOutcome")
    assert response.status_code == 200
    assert body(response)["issue"][0]["code"] == "deleted"


def test_delete_needs_the_delete_scope(api_for, facility, recorded):
    other = api_for(facility, "system/Condition.crus")
    grant(other, facility, Role.DOCTOR)
    assert other.delete(f"Condition/{recorded['id']}").status_code == 403


def test_delete_on_a_concluded_visit_is_422(doctor_api, visit, recorded):
    Encounter.objects.filter(pk=visit.pk).update(status=EncounterStatus.CONCLUDED)
    response = doctor_api.delete(f"Condition/{recorded['id']}")
    assert response.status_code == 422 and issue(response)["code"] == "business-rule"
    assert Diagnosis.objects.get(pk=recorded["id"]).voided_at is None


def test_delete_of_a_condition_not_visible_is_404(doctor_api, other_facility, icd):
    elsewhere = make_encounter(facility=other_facility)
    diagnosis = Diagnosis.objects.create(
        encounter=elsewhere,
        icd_code="I10",
        text="Tăng huyết áp",
        rank=0,
        recorded_by=make_staff(other_facility, Role.DOCTOR),
        recorded_at=elsewhere.started_at,
    )
    assert doctor_api.delete(f"Condition/{diagnosis.pk}").status_code == 404


def test_update_is_not_offered(doctor_api, recorded):
    response = doctor_api.put(f"Condition/{recorded['id']}", recorded, if_match='W/"1"')
    assert response.status_code == 405
    data = body(Api(None).get("metadata"))
    (cond,) = [r for r in data["rest"][0]["resource"] if r["type"] == "Condition"]
    codes = {i["code"] for i in cond["interaction"]}
    assert {"create", "delete", "read", "vread", "search-type"} <= codes
    assert "update" not in codes and cond.get("conditionalCreate") is True


# --- a transaction: the visit and its diagnosis together -----------------------------------------


def test_transaction_registers_a_visit_with_its_diagnosis(doctor_api, facility, icd):
    room = make_room(facility)
    patient = make_patient(facility)
    visit_urn = f"urn:uuid:{uuid.uuid4()}"
    diagnosis = {
        "resourceType": "Condition",
        "code": {"coding": [{"system": systems.ICD_10, "code": "J06.9"}]},
        "subject": {"reference": f"Patient/{patient.pk}"},
        "encounter": {"reference": visit_urn},
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": diagnosis, "request": {"method": "POST", "url": "Condition"}},
            {
                "fullUrl": visit_urn,
                "resource": visit_resource(patient, room),
                "request": {"method": "POST", "url": "Encounter"},
            },
        ],
    }
    response = doctor_api.post("", bundle)
    assert response.status_code == 200, response.content
    data = body(response)
    statuses = [e["response"]["status"] for e in data["entry"]]
    assert statuses == ["201 Created", "201 Created"]
    cond, enc = (e["resource"] for e in data["entry"])
    assert cond["encounter"] == {"reference": f"Encounter/{enc['id']}"}
    assert Diagnosis.objects.get(pk=cond["id"]).encounter_id == int(enc["id"])


def test_transaction_with_a_bad_diagnosis_leaves_no_visit(doctor_api, facility, icd):
    room = make_room(facility)
    patient = make_patient(facility)
    visit_urn = f"urn:uuid:{uuid.uuid4()}"
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": visit_urn,
                "resource": visit_resource(patient, room),
                "request": {"method": "POST", "url": "Encounter"},
            },
            {
                "resource": {
                    "resourceType": "Condition",
                    "code": {"coding": [{"system": systems.ICD_10, "code": "Z99.99"}]},
                    "subject": {"reference": f"Patient/{patient.pk}"},
                    "encounter": {"reference": visit_urn},
                },
                "request": {"method": "POST", "url": "Condition"},
            },
        ],
    }
    response = doctor_api.post("", bundle)
    assert response.status_code == 422
    assert issue(response)["expression"] == ["Bundle.entry[1].resource.code"]
    assert not Encounter.objects.filter(patient=patient).exists()
