"""Encounter writes over HTTP: create (reception, admission; conditional), update (status moves
through the clinical services, If-Match), kept elements, scopes, visibility, audit."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from ehealth.core.models import AuditEvent, Role, StaffMembership
from ehealth.core.permissions import staff_groups_sync
from fhir_api import systems
from fhir_api.models import ResourceExtra
from patients.clinical_choices import EncounterKind, EncounterStatus, QueueStatus
from patients.models import Encounter, QueueTicket
from patients.services import patient_share_with_facility
from patients.validation import VN_TZ
from tests.clinical.factories import make_encounter, make_icd, make_room
from tests.core.factories import BedFactory, DepartmentFactory, WardFactory, make_staff
from tests.fhir.conftest import Api, body
from tests.patients.factories import make_patient, unique_card

pytestmark = pytest.mark.django_db


def grant(api: Api, facility, role: str) -> None:
    """Give the client's service account another role at its unit (an administrator's act)."""
    user = api.registered.client.application.user
    StaffMembership.objects.create(user=user, facility=facility, role=role)
    staff_groups_sync(user)


def issue(response) -> dict:
    data = body(response)
    assert data["resourceType"] == "OperationOutcome", data
    return data["issue"][0]


def contains(whole: Any, part: Any) -> bool:
    """Whether `part` (what a partner sent) is found in `whole` (what the server answers)."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            k in whole and contains(whole[k], v) for k, v in part.items()
        )
    if isinstance(part, list):
        return isinstance(whole, list) and all(any(contains(w, p) for w in whole) for p in part)
    return whole == part


def arrival_now() -> str:
    """An instant a few minutes ago, today (Asia/Ho_Chi_Minh), as a partner writes it."""
    now = timezone.now()
    midnight = datetime.combine(timezone.localdate(now, timezone=VN_TZ), time(0), tzinfo=VN_TZ)
    moment = max(now - timedelta(minutes=5), midnight).replace(microsecond=0)
    return timezone.localtime(moment, VN_TZ).isoformat()


@pytest.fixture
def room(facility):
    return make_room(facility, code="P01")


@pytest.fixture
def patient(facility):
    return make_patient(facility, full_name="Nguyễn Văn An")


def visit_resource(patient, room, **elements) -> dict:
    """The outpatient visit a partner registers: class AMB, arrived, at the room's department."""
    resource = {
        "resourceType": "Encounter",
        "status": "arrived",
        "class": {"system": systems.ACT_CODE_CS, "code": "AMB"},
        "subject": {"reference": f"Patient/{patient.pk}"},
        "period": {"start": arrival_now()},
        "reasonCode": [{"text": "Sốt, ho 3 ngày"}],
        "location": [{"location": {"reference": f"Location/dept-{room.department_id}"}}],
    }
    resource.update(elements)
    return resource


def created(api, resource, **headers) -> tuple[dict, Any]:
    response = api.post("Encounter", resource, **headers)
    assert response.status_code == 201, response.content
    return body(response), response


# --- create: an outpatient visit through the reception -------------------------------------------


def test_create_visit_checks_in_and_reads_back_with_every_element_sent(
    api, facility, room, patient
):
    # given a visit with elements the registry models and some it does not
    doctor = make_staff(facility, Role.DOCTOR)
    sent = visit_resource(
        patient,
        room,
        identifier=[{"system": "urn:his-x:visit", "value": "KB-2026-001"}],
        priority={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActPriority", "code": "R"}]},
        participant=[{"individual": {"reference": f"Practitioner/{doctor.pk}"}}],
        serviceProvider={"reference": f"Organization/{facility.pk}"},
    )  # fmt: skip
    # when created
    data, response = created(api, sent)
    # then 201 with Location and ETag of version 1, as the reception opened it
    pk = int(data["id"])
    assert response["Location"].endswith(f"/fhir/R4/Encounter/{pk}/_history/1")
    assert response["ETag"] == 'W/"1"' and response["Last-Modified"]
    encounter = Encounter.objects.get(pk=pk)
    assert encounter.status == EncounterStatus.ARRIVED
    assert encounter.kind == EncounterKind.OUTPATIENT and encounter.room == room
    assert encounter.reason == "Sốt, ho 3 ngày"
    assert encounter.started_at == datetime.fromisoformat(sent["period"]["start"])
    ticket = QueueTicket.objects.get(encounter=encounter)
    assert (ticket.room, ticket.number, ticket.status) == (room, 1, QueueStatus.WAITING)
    # and a read gives back every element sent (id and meta are the server's)
    read = api.get(f"Encounter/{pk}")
    assert read.status_code == 200 and read["ETag"] == 'W/"1"'
    again = body(read)
    assert again == data
    assert contains(again, {k: v for k, v in sent.items() if k != "period"})
    assert datetime.fromisoformat(again["period"]["start"]) == encounter.started_at
    assert contains(again["extension"], [{"url": systems.ARRIVAL_MODE_EXT}])


def test_create_is_audited_as_a_check_in_by_the_client(api, facility, room, patient):
    data, _response = created(api, visit_resource(patient, room))
    event = AuditEvent.objects.get(action="encounter.check_in", target_id=data["id"])
    assert event.actor == api.registered.client.application.user
    assert event.channel == "fhir" and event.patient_id == patient.pk
    assert event.detail["queue_number"] == 1


def test_subject_in_transaction_form_and_a_patient_found_city_wide(
    api, facility, other_facility, room
):
    # a patient registered elsewhere and shared with this unit gets a record number here
    elsewhere = make_patient(other_facility, full_name="Lê Thị Chia")
    patient_share_with_facility(
        actor=make_staff(other_facility, Role.DOCTOR),
        facility=other_facility,
        patient=elsewhere,
        target_facility=facility,
        reason="Chuyển tuyến",
    )
    data, _response = created(api, visit_resource(elsewhere, room))
    assert data["subject"] == {"reference": f"Patient/{elsewhere.pk}"}
    assert Encounter.objects.get(pk=data["id"]).facility == facility


def test_insurance_route_takes_the_card(api, facility, room, patient):
    today = timezone.localdate(timezone=VN_TZ)
    card = unique_card()
    sent = visit_resource(
        patient,
        room,
        extension=[
            {
                "url": systems.ARRIVAL_MODE_EXT,
                "valueCoding": {"system": systems.ARRIVAL_MODE_CS, "code": "registered"},
            },
            {
                "url": systems.ENCOUNTER_BHYT_CARD_EXT,
                "valueIdentifier": {
                    "system": systems.BHYT,
                    "value": card,
                    "period": {
                        "start": (today - timedelta(days=30)).isoformat(),
                        "end": (today + timedelta(days=300)).isoformat(),
                    },
                },
            },
        ],
    )
    data, _response = created(api, sent)
    encounter = Encounter.objects.get(pk=data["id"])
    assert (encounter.arrival_mode, encounter.insurance_card_code) == ("registered", card)
    assert encounter.card_check_status == "unchecked"
    assert body(api.get(f"Encounter/{data['id']}"))["extension"] == data["extension"]


def test_insurance_route_without_a_card_is_422_at_the_card(api, room, patient):
    sent = visit_resource(
        patient,
        room,
        extension=[
            {"url": systems.ARRIVAL_MODE_EXT, "valueCoding": {"code": "registered"}},
        ],
    )
    response = api.post("Encounter", sent)
    assert response.status_code == 422
    assert issue(response)["expression"] == [
        f"Encounter.extension('{systems.ENCOUNTER_BHYT_CARD_EXT}')"
    ]


def test_a_department_with_several_rooms_needs_the_room_named(api, facility, room, patient):
    make_room(facility, department=room.department, code="P02")
    ambiguous = api.post("Encounter", visit_resource(patient, room))
    assert ambiguous.status_code == 422
    problem = issue(ambiguous)
    assert problem["expression"] == ["Encounter.location"] and "P01, P02" in problem["diagnostics"]
    named = visit_resource(
        patient,
        room,
        location=[
            {"location": {"reference": f"Location/dept-{room.department_id}"}},
            {
                "location": {
                    "identifier": {
                        "system": systems.clinic_room_system(facility.code),
                        "value": "P02",
                    }
                }
            },
        ],
    )
    data, _response = created(api, named)
    assert Encounter.objects.get(pk=data["id"]).room.code == "P02"
    assert body(api.get(f"Encounter/{data['id']}"))["location"] == data["location"]
    assert len(data["location"]) == 2  # the department as rendered, the room as sent


def test_patient_of_another_unit_is_404(api, other_facility, room):
    stranger = make_patient(other_facility)
    response = api.post("Encounter", visit_resource(stranger, room))
    assert response.status_code == 404
    assert issue(response)["expression"] == ["Encounter.subject"]
    assert not Encounter.objects.filter(patient=stranger).exists()


def test_another_units_service_provider_is_refused(api, other_facility, room, patient):
    sent = visit_resource(
        patient, room, serviceProvider={"reference": f"Organization/{other_facility.pk}"}
    )
    response = api.post("Encounter", sent)
    assert response.status_code == 422
    assert issue(response)["expression"] == ["Encounter.serviceProvider"]


@pytest.mark.parametrize(
    ("elements", "status", "path"),
    [
        ({"class": {"system": systems.ACT_CODE_CS, "code": "EMER"}}, 422, "Encounter.class"),
        ({"status": "finished"}, 422, "Encounter.status"),
        ({"status": "planned"}, 422, "Encounter.status"),
        ({"status": "walking"}, 422, "Encounter.status"),
        ({"period": {"start": "yesterday"}}, 400, "Encounter.period.start"),
        ({"period": {"start": "2026-01-01"}}, 422, "Encounter.period.start"),
        ({"period": {"start": "2020-01-01T08:00:00+07:00"}}, 422, "Encounter.period.start"),
        ({"subject": {"reference": "Patient/abc"}}, 422, "Encounter.subject.reference"),
        ({"period": {"start": arrival_now(), "end": arrival_now()}}, 422, "Encounter.period.end"),
        ({"location": [{"location": {"reference": "Location/dept-999999"}}]}, 422, "Encounter.location"),
        ({"hospitalization": {"dischargeDisposition": {"coding": [{"system": systems.VISIT_CONCLUSION_CS, "code": "home"}]}}}, 422, "Encounter.hospitalization.dischargeDisposition"),
    ],
)  # fmt: skip
def test_bad_input_names_the_element(api, room, patient, elements, status, path):
    response = api.post("Encounter", visit_resource(patient, room, **elements))
    assert response.status_code == status, response.content
    assert any(path in e for e in issue(response)["expression"]), issue(response)


def test_create_needs_the_create_scope(api_for, facility, room, patient):
    reader = api_for(facility, "system/Encounter.rs system/Patient.rs")
    response = reader.post("Encounter", visit_resource(patient, room))
    assert response.status_code == 403
    assert "system/Encounter.c" in issue(response)["diagnostics"]
    assert not Encounter.objects.filter(patient=patient).exists()


def test_prefer_minimal_and_operation_outcome(api, room, patient):
    minimal = api.post("Encounter", visit_resource(patient, room), prefer="return=minimal")
    assert minimal.status_code == 201 and minimal.content == b""
    assert minimal["Location"] and minimal["ETag"] == 'W/"1"'
    outcome = api.post("Encounter", visit_resource(patient, room), prefer="return=OperationOutcome")
    assert outcome.status_code == 201
    assert body(outcome)["resourceType"] == "OperationOutcome"


def test_conditional_create_finds_the_visit_already_registered(api, room, patient):
    day = timezone.localdate(timezone=VN_TZ).isoformat()
    condition = f"patient=Patient/{patient.pk}&class=AMB&status=arrived&date=ge{day}"
    first, _response = created(api, visit_resource(patient, room), if_none_exist=condition)
    again = api.post("Encounter", visit_resource(patient, room), if_none_exist=condition)
    assert again.status_code == 200 and body(again)["id"] == first["id"]
    assert Encounter.objects.filter(patient=patient).count() == 1
    assert AuditEvent.objects.filter(action="fhir.encounter.create_matched").count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_conditional_creates_make_one_visit(facility, register_client, room, patient):
    from tests.fhir.conftest import token_for
    from tests.fhir.test_concurrency import _race

    registered = register_client(facility)
    token = token_for(registered.client_id, registered.client_secret)["access_token"]
    condition = f"patient=Patient/{patient.pk}&class=AMB&status=arrived"
    resource = visit_resource(patient, room)
    results = _race(2, lambda i: Api(token).post("Encounter", resource, if_none_exist=condition))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 201], [getattr(r, "content", r) for r in results]
    assert Encounter.objects.filter(patient=patient).count() == 1


def test_conditional_create_matching_several_is_412(api, facility, room, patient):
    make_encounter(facility=facility, patient=patient, room=room)
    make_encounter(facility=facility, patient=patient, room=room)
    response = api.post(
        "Encounter",
        visit_resource(patient, room),
        if_none_exist=f"patient=Patient/{patient.pk}",
    )
    assert response.status_code == 412
    assert issue(response)["expression"] == ["If-None-Exist"]


def test_conditional_create_with_an_unknown_parameter_is_400(api, room, patient):
    response = api.post("Encounter", visit_resource(patient, room), if_none_exist="colour=red")
    assert response.status_code == 400


# --- create: an inpatient stay through the admission ----------------------------------------------


@pytest.fixture
def ward_bed(facility):
    department = DepartmentFactory(facility=facility)
    return BedFactory(ward=WardFactory(department=department))


def stay_resource(patient, bed, **elements) -> dict:
    resource = {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": systems.ACT_CODE_CS, "code": "IMP"},
        "subject": {"reference": f"Patient/{patient.pk}"},
        "reasonCode": [{"text": "Đau ngực dữ dội"}],
        "location": [
            {"location": {"reference": f"Location/dept-{bed.ward.department_id}"}},
            {"location": {"reference": f"Location/bed-{bed.pk}"}},
        ],
        "hospitalization": {
            "admitSource": {"coding": [{"system": systems.ADMIT_SOURCE_CS, "code": "emd"}]}
        },
    }
    resource.update(elements)
    return resource


def test_create_stay_admits_to_the_department_and_bed(api, facility, patient, ward_bed):
    grant(api, facility, Role.NURSE)
    data, _response = created(api, stay_resource(patient, ward_bed))
    stay = Encounter.objects.get(pk=data["id"])
    assert (stay.kind, stay.status, stay.arrival_mode) == ("inpatient", "admitted", "emergency")
    assert stay.department_id == ward_bed.ward.department_id
    places = [p["location"]["reference"] for p in data["location"]]
    assert places == [f"Location/dept-{stay.department_id}", f"Location/bed-{ward_bed.pk}"]
    assert data["hospitalization"]["admitSource"]["coding"][0]["code"] == "emd"
    assert AuditEvent.objects.filter(action="admission.create", target_id=data["id"]).exists()


def test_create_stay_needs_the_admission_permission(api, patient, ward_bed):
    response = api.post("Encounter", stay_resource(patient, ward_bed))
    assert response.status_code == 403
    assert not Encounter.objects.filter(patient=patient).exists()


def test_stay_without_a_source_is_422(api, facility, patient, ward_bed):
    grant(api, facility, Role.NURSE)
    response = api.post("Encounter", stay_resource(patient, ward_bed, hospitalization={}))
    assert response.status_code == 422
    assert issue(response)["expression"] == ["Encounter.hospitalization.admitSource"]


# --- update ---------------------------------------------------------------------------------------


@pytest.fixture
def visit(api, room, patient) -> dict:
    data, _response = created(api, visit_resource(patient, room))
    return data


def test_update_moves_arrived_to_in_progress_through_the_examination(api, facility, visit):
    grant(api, facility, Role.DOCTOR)
    sent = {**visit, "status": "in-progress"}
    response = api.put(f"Encounter/{visit['id']}", sent, if_match='W/"1"')
    assert response.status_code == 200, response.content
    assert response["ETag"] == 'W/"2"'
    assert response["Content-Location"].endswith(f"Encounter/{visit['id']}/_history/2")
    encounter = Encounter.objects.get(pk=visit["id"])
    assert encounter.status == EncounterStatus.IN_EXAMINATION
    assert encounter.attending == api.registered.client.application.user
    assert AuditEvent.objects.filter(
        action="encounter.start_examination", target_id=visit["id"], channel="fhir"
    ).exists()
    assert body(api.get(f"Encounter/{visit['id']}"))["status"] == "in-progress"


def test_update_without_the_doctors_permission_is_403(api, visit):
    response = api.put(
        f"Encounter/{visit['id']}", {**visit, "status": "in-progress"}, if_match='W/"1"'
    )
    assert response.status_code == 403
    assert Encounter.objects.get(pk=visit["id"]).status == EncounterStatus.ARRIVED


def test_update_needs_if_match_and_refuses_a_stale_one(api, facility, visit):
    grant(api, facility, Role.DOCTOR)
    sent = {**visit, "status": "in-progress"}
    missing = api.put(f"Encounter/{visit['id']}", sent)
    assert missing.status_code == 412 and issue(missing)["expression"] == ["If-Match"]
    stale = api.put(f"Encounter/{visit['id']}", sent, if_match='W/"7"')
    assert stale.status_code == 412 and issue(stale)["expression"] == ["If-Match"]
    assert Encounter.objects.get(pk=visit["id"]).status == EncounterStatus.ARRIVED


def test_a_web_change_makes_the_etag_stale(api, facility, visit):
    grant(api, facility, Role.DOCTOR)
    from patients.clinical.examination import encounter_update_notes

    encounter = Encounter.objects.get(pk=visit["id"])
    encounter_update_notes(
        actor=make_staff(facility, Role.DOCTOR),
        facility=facility,
        encounter=encounter,
        expected_version=encounter.version,
        history="Ho khan",
    )
    response = api.put(
        f"Encounter/{visit['id']}", {**visit, "status": "in-progress"}, if_match='W/"1"'
    )
    assert response.status_code == 412


def test_finishing_needs_a_main_diagnosis_then_concludes(api, facility, visit):
    grant(api, facility, Role.DOCTOR)
    make_icd("J06.9", "Nhiễm trùng hô hấp trên cấp")
    path = f"Encounter/{visit['id']}"
    started = api.put(path, {**visit, "status": "in-progress"}, if_match='W/"1"')
    current = body(started)
    home = {"coding": [{"system": systems.VISIT_CONCLUSION_CS, "code": "home"}]}
    finishing = {**current, "status": "finished", "hospitalization": {"dischargeDisposition": home}}
    # without a main diagnosis the domain refuses to conclude
    refused = api.put(path, finishing, if_match=started["ETag"])
    assert refused.status_code == 422
    assert issue(refused)["expression"] == ["Encounter.status"]
    # with one (a Condition), the visit is concluded and locked
    condition = {
        "resourceType": "Condition",
        "code": {"coding": [{"system": systems.ICD_10, "code": "J06.9"}]},
        "subject": visit["subject"],
        "encounter": {"reference": path},
    }
    assert api.post("Condition", condition).status_code == 201
    etag = api.get(path)["ETag"]
    done = api.put(path, {**finishing}, if_match=etag)
    assert done.status_code == 200, done.content
    data = body(done)
    assert data["status"] == "finished" and data["period"]["end"]
    assert data["hospitalization"]["dischargeDisposition"]["coding"][0]["code"] == "home"
    encounter = Encounter.objects.get(pk=visit["id"])
    assert (encounter.status, encounter.conclusion) == (EncounterStatus.CONCLUDED, "home")
    # and a finished visit does not go back
    back = api.put(path, {**data, "status": "in-progress"}, if_match=done["ETag"])
    assert back.status_code == 422
    problem = issue(back)
    assert problem["code"] == "business-rule" and problem["expression"] == ["Encounter.status"]


def test_finishing_without_a_conclusion_is_422(api, facility, visit):
    grant(api, facility, Role.DOCTOR)
    response = api.put(
        f"Encounter/{visit['id']}", {**visit, "status": "finished"}, if_match='W/"1"'
    )
    assert response.status_code == 422
    assert issue(response)["expression"] == ["Encounter.hospitalization.dischargeDisposition"]


def test_cancel_takes_the_reason_from_x_reason(api, visit):
    # the receptionist's own permission: a patient who left before being seen
    response = api.put(
        f"Encounter/{visit['id']}",
        {**visit, "status": "cancelled"},
        if_match='W/"1"',
        x_reason="Bệnh nhân bỏ về".encode().decode("latin-1"),
    )
    assert response.status_code == 200, response.content
    encounter = Encounter.objects.get(pk=visit["id"])
    assert encounter.status == EncounterStatus.CANCELLED
    assert encounter.void_reason == "Bệnh nhân bỏ về"
    assert encounter.queue_ticket.status == QueueStatus.LEFT


def test_cancel_without_a_reason_names_the_client(api, visit):
    response = api.put(
        f"Encounter/{visit['id']}", {**visit, "status": "cancelled"}, if_match='W/"1"'
    )
    assert response.status_code == 200
    reason = Encounter.objects.get(pk=visit["id"]).void_reason
    assert api.registered.client_id in reason


def test_a_change_of_kept_elements_only_makes_a_new_version(api, visit):
    path = f"Encounter/{visit['id']}"
    sent = {**visit, "priority": {"coding": [{"system": "urn:his-x:priority", "code": "urgent"}]}}
    response = api.put(path, sent, if_match='W/"1"')
    assert response.status_code == 200 and response["ETag"] == 'W/"2"'
    read = api.get(path)
    assert read["ETag"] == 'W/"2"' and body(read)["priority"] == sent["priority"]
    assert body(read)["meta"]["versionId"] == "2"
    assert (
        ResourceExtra.objects.get(resource_type="Encounter", resource_id=visit["id"]).revision == 1
    )
    assert AuditEvent.objects.filter(action="fhir.encounter.update", target_id=visit["id"]).exists()
    # the version read before is now stale, and vread serves the current one only
    assert api.put(path, sent, if_match='W/"1"').status_code == 412
    assert api.get(f"{path}/_history/2").status_code == 200
    assert api.get(f"{path}/_history/1").status_code == 404
    # the same body again changes nothing
    same = api.put(path, {**body(read)}, if_match='W/"2"')
    assert same.status_code == 200 and same["ETag"] == 'W/"2"'


def test_an_end_sent_for_an_open_visit_is_not_kept(api, visit):
    sent = {**visit, "period": {**visit["period"], "end": visit["period"]["start"]}}
    response = api.put(f"Encounter/{visit['id']}", sent, if_match='W/"1"')
    assert response.status_code == 200 and response["ETag"] == 'W/"1"'
    assert "end" not in body(api.get(f"Encounter/{visit['id']}"))["period"]


def test_reason_change_goes_through_the_visit_notes(api, facility, visit):
    grant(api, facility, Role.DOCTOR)
    sent = {**visit, "reasonCode": [{"text": "Sốt cao, khó thở"}]}
    response = api.put(f"Encounter/{visit['id']}", sent, if_match='W/"1"')
    assert response.status_code == 200 and response["ETag"] == 'W/"2"'
    assert Encounter.objects.get(pk=visit["id"]).reason == "Sốt cao, khó thở"
    assert AuditEvent.objects.filter(
        action="encounter.update_notes", target_id=visit["id"]
    ).exists()


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"class": {"system": systems.ACT_CODE_CS, "code": "IMP"}}, "Encounter.class"),
        ({"period": {"start": "2026-01-01T08:00:00+07:00"}}, "Encounter.period.start"),
        ({"location": [{"location": {"reference": "Location/dept-1"}}]}, "Encounter.location"),
        ({"extension": [{"url": systems.ARRIVAL_MODE_EXT, "valueCoding": {"code": "emergency"}}]}, f"Encounter.extension('{systems.ARRIVAL_MODE_EXT}')"),
    ],
)  # fmt: skip
def test_what_an_update_may_not_change_is_422(api, visit, change, path):
    response = api.put(f"Encounter/{visit['id']}", {**visit, **change}, if_match='W/"1"')
    assert response.status_code == 422
    assert issue(response)["expression"] == [path]


def test_subject_change_is_422(api, facility, visit):
    other = make_patient(facility)
    sent = {**visit, "subject": {"reference": f"Patient/{other.pk}"}}
    response = api.put(f"Encounter/{visit['id']}", sent, if_match='W/"1"')
    assert response.status_code == 422 and issue(response)["expression"] == ["Encounter.subject"]


def test_update_with_another_id_is_400(api, visit):
    response = api.put(f"Encounter/{visit['id']}", {**visit, "id": "1"}, if_match='W/"1"')
    assert response.status_code == 400


def test_update_of_another_units_encounter_seen_through_a_share_is_403(
    api, facility, other_facility
):
    shared = make_patient(other_facility)
    elsewhere = make_encounter(facility=other_facility, patient=shared)
    patient_share_with_facility(
        actor=make_staff(other_facility, Role.DOCTOR),
        facility=other_facility,
        patient=shared,
        target_facility=facility,
        reason="Hội chẩn",
    )
    current = body(api.get(f"Encounter/{elsewhere.pk}"))
    response = api.put(
        f"Encounter/{elsewhere.pk}", {**current, "status": "cancelled"}, if_match='W/"1"'
    )
    assert response.status_code == 403


def test_update_of_an_encounter_not_visible_is_404(api, other_facility):
    elsewhere = make_encounter(facility=other_facility)
    sent = {
        "resourceType": "Encounter",
        "id": str(elsewhere.pk),
        "status": "cancelled",
        "class": {"system": systems.ACT_CODE_CS, "code": "AMB"},
        "subject": {"reference": f"Patient/{elsewhere.patient_id}"},
    }
    response = api.put(f"Encounter/{elsewhere.pk}", sent, if_match='W/"1"')
    assert response.status_code == 404


def test_update_needs_the_update_scope(api_for, facility, visit):
    reader = api_for(facility, "system/Encounter.crs")
    response = reader.put(
        f"Encounter/{visit['id']}", {**visit, "status": "cancelled"}, if_match='W/"1"'
    )
    assert response.status_code == 403


def test_capability_statement_lists_the_encounter_writes():
    data = body(Api(None).get("metadata"))
    (enc,) = [r for r in data["rest"][0]["resource"] if r["type"] == "Encounter"]
    assert {"create", "update", "vread"} <= {i["code"] for i in enc["interaction"]}
    assert "delete" not in {i["code"] for i in enc["interaction"]}
    assert enc.get("conditionalCreate") is True
