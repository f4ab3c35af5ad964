"""Transactions open their outpatient visits together (`EncounterProvider.create_many`, over
`reception.encounter_check_in_many`): the same answers, queue numbers, record numbers, kept
elements, audit and errors as one by one, in statements that do not grow with the visits."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ehealth.core.models import AuditEvent, Role, StaffMembership
from ehealth.core.permissions import staff_groups_sync
from fhir_api import systems
from patients.choices import IdentifierSystem
from patients.models import Encounter, PatientIdentifier, QueueTicket
from patients.services import patient_share_with_facility
from tests.clinical.factories import make_room
from tests.core.factories import make_staff
from tests.fhir.conftest import body
from tests.fhir.test_bundle_api import bundle, outcome, post_entry, urn
from tests.fhir.test_encounter_write_api import arrival_now, visit_resource
from tests.fhir.test_patient_api import new_patient
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db

KEPT = {"priority": {"coding": [{"system": systems.ACT_CODE_CS, "code": "R"}]}}


def visit_entry(resource: dict, full_url: str = "") -> dict:
    return post_entry(resource, full_url, url="Encounter")


def by_room(room, patient, **elements) -> dict:
    """A visit naming its room by code, as a partner's HIS does."""
    system = systems.clinic_room_system(room.department.facility.code)
    location = [{"location": {"identifier": {"system": system, "value": room.code}}}]
    return visit_resource(patient or SimpleNamespace(pk=0), room, location=location, **elements)


@pytest.fixture
def rooms(facility):
    return [make_room(facility, code=f"P0{i}") for i in range(1, 4)]


def _statements(api, facility, rooms, size: int) -> tuple[int, dict]:
    patients = [make_patient(facility) for _ in range(size)]
    sent = bundle(
        "transaction", *(visit_entry(by_room(rooms[i % 3], p)) for i, p in enumerate(patients))
    )
    with CaptureQueriesContext(connection) as ctx:
        response = api.post("", sent)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), body(response)


def test_visits_of_a_transaction_open_together_in_constant_statements(api, facility, rooms):
    _statements(api, facility, rooms, 2)  # warm: the prepared statements of token and batch
    small, _ = _statements(api, facility, rooms, 3)
    large, data = _statements(api, facility, rooms, 20)
    assert small == large
    assert [e["response"]["status"] for e in data["entry"]] == ["201 Created"] * 20
    for entry in data["entry"]:
        created = entry["resource"]
        assert entry["response"]["location"].startswith(f"Encounter/{created['id']}/_history/1")
        assert entry["response"]["etag"] == 'W/"1"'
    # queue numbers continue each room's day in Bundle order: 1 (warm-up) + 1 + 7 in room P01
    opened = [int(e["resource"]["id"]) for e in data["entry"]]
    numbers = dict(
        QueueTicket.objects.filter(encounter_id__in=opened).values_list("encounter_id", "number")
    )
    first_room = [numbers[pk] for pk in opened[0::3]]
    assert first_room == list(range(3, 3 + len(first_room)))
    assert QueueTicket.objects.filter(room=rooms[0]).count() == 2 + len(first_room)


def test_a_batched_visit_answers_and_keeps_what_a_create_alone_does(api, facility, rooms):
    alone, batched = make_patient(facility), make_patient(facility)
    same = {**KEPT, "period": {"start": arrival_now()}}
    single = body(api.post("Encounter", by_room(rooms[0], alone, **same)))
    response = api.post(
        "",
        bundle(
            "transaction",
            visit_entry(by_room(rooms[1], make_patient(facility))),
            visit_entry(by_room(rooms[0], batched, **KEPT)),
        ),
    )
    assert response.status_code == 200, response.content
    created = body(response)["entry"][1]["resource"]
    read = body(api.get(f"Encounter/{created['id']}"))
    assert read == created
    assert created["priority"] == KEPT["priority"]
    for resource in (single, created):
        for own in ("id", "meta", "subject", "identifier"):
            resource.pop(own)
    assert created == single
    # the second visit of the room's day: number 2, audited as a check-in by the client
    event = AuditEvent.objects.get(action="encounter.check_in", target_id=str(read["id"]))
    assert event.detail["queue_number"] == 2 and event.patient_id == batched.pk
    assert event.actor == api.registered.client.application.user and event.channel == "fhir"


def test_new_patients_and_their_visits_in_one_transaction(api, facility, rooms):
    # Patients (by urn:uuid) and their visits: each patient one record number here, no second
    p1, p2 = urn(), urn()
    sent = bundle(
        "transaction",
        visit_entry(by_room(rooms[0], None, subject={"reference": p1})),
        post_entry(new_patient(), p1),
        visit_entry(by_room(rooms[0], None, subject={"reference": p2})),
        post_entry(new_patient(), p2),
    )
    response = api.post("", sent)
    assert response.status_code == 200, response.content
    entries = body(response)["entry"]
    patient_ids = [int(entries[i]["resource"]["id"]) for i in (1, 3)]
    assert [entries[i]["resource"]["subject"]["reference"] for i in (0, 2)] == [
        f"Patient/{pk}" for pk in patient_ids
    ]
    mrns = PatientIdentifier.objects.filter(
        patient_id__in=patient_ids, system=IdentifierSystem.MRN, facility=facility
    )
    assert mrns.count() == 2
    assert not AuditEvent.objects.filter(action="patient.enroll").exists()


def test_a_patient_found_city_wide_is_enrolled_once_for_two_visits(
    api, facility, other_facility, rooms
):
    elsewhere = make_patient(other_facility, full_name="Lê Thị Chia")
    patient_share_with_facility(
        actor=make_staff(other_facility, Role.DOCTOR),
        facility=other_facility,
        patient=elsewhere,
        target_facility=facility,
        reason="Chuyển tuyến",
    )
    sent = bundle(
        "transaction",
        visit_entry(by_room(rooms[0], elsewhere)),
        visit_entry(by_room(rooms[1], elsewhere)),
    )
    response = api.post("", sent)
    assert response.status_code == 200, response.content
    assert Encounter.objects.filter(patient=elsewhere, facility=facility).count() == 2
    here = PatientIdentifier.objects.filter(
        patient=elsewhere, system=IdentifierSystem.MRN, facility=facility
    )
    assert here.count() == 1
    assert AuditEvent.objects.filter(action="patient.enroll", patient_id=elsewhere.pk).count() == 1


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda room, p: by_room(room, p, status="in-progress"), id="status"),
        pytest.param(lambda room, p: by_room(room, p, arrival_mode="x"), id="unknown-element"),
        pytest.param(
            lambda room, p: {**by_room(room, p), "location": [_room_code("P99", room)]},
            id="no-such-room",
        ),
        pytest.param(lambda room, p: by_room(room, None, subject={"reference": "Patient/0"}), id="patient"),
    ],
)  # fmt: skip
def test_the_first_refused_visit_answers_for_the_transaction_as_alone(api, facility, rooms, bad):
    refused = bad(rooms[0], make_patient(facility))
    sent = bundle(
        "transaction",
        visit_entry(by_room(rooms[0], make_patient(facility))),
        visit_entry(refused),
        visit_entry(by_room(rooms[1], None, subject={"reference": "Patient/0"})),
    )
    before = (Encounter.objects.count(), QueueTicket.objects.count(), AuditEvent.objects.count())
    response = api.post("", sent)
    alone = api.post("Encounter", refused)
    assert alone.status_code >= 400
    assert response.status_code == alone.status_code
    issue = outcome(response)
    assert issue["diagnostics"].startswith("Bundle.entry[1] (POST Encounter): ")
    assert issue["diagnostics"].endswith(outcome(alone)["diagnostics"])
    assert Encounter.objects.count() == before[0] and QueueTicket.objects.count() == before[1]


def _room_code(code: str, room) -> dict:
    system = systems.clinic_room_system(room.department.facility.code)
    return {"location": {"identifier": {"system": system, "value": code}}}


def test_a_refusal_of_the_reception_names_its_entry(api, facility, rooms):
    # a referral without its paper number: the reception's own rule, at entry 1
    referral = by_room(
        rooms[0],
        make_patient(facility),
        extension=[
            {
                "url": systems.ARRIVAL_MODE_EXT,
                "valueCoding": {"system": systems.ARRIVAL_MODE_CS, "code": "referral"},
            }
        ],
    )
    sent = bundle(
        "transaction",
        visit_entry(by_room(rooms[0], make_patient(facility))),
        visit_entry(referral),
    )
    response = api.post("", sent)
    alone = api.post("Encounter", referral)
    assert response.status_code == alone.status_code == 422
    assert outcome(response)["diagnostics"].startswith("Bundle.entry[1] (POST Encounter): ")
    assert outcome(response)["diagnostics"].endswith(outcome(alone)["diagnostics"])
    assert not Encounter.objects.exists()


def test_without_the_check_in_permission_the_first_visit_is_refused(api, facility, rooms):
    # the client's account holds only the nurse role: it may not check visits in
    user = api.registered.client.application.user
    StaffMembership.objects.filter(user=user).update(role=Role.NURSE)
    staff_groups_sync(user)
    patients = [make_patient(facility) for _ in range(2)]
    response = api.post(
        "", bundle("transaction", *(visit_entry(by_room(rooms[0], p)) for p in patients))
    )
    alone = api.post("Encounter", by_room(rooms[0], patients[0]))
    assert response.status_code == alone.status_code == 403
    assert outcome(response)["diagnostics"].startswith("Bundle.entry[0] (POST Encounter): ")
    assert outcome(response)["diagnostics"].endswith(outcome(alone)["diagnostics"])
    assert not Encounter.objects.exists()


def test_a_stay_in_the_batch_sends_the_visits_one_by_one(api, facility, rooms):
    # an admission among the visits: they all run through `create`, the stay refused as alone
    stay = by_room(
        rooms[0],
        make_patient(facility),
        **{"class": {"system": systems.ACT_CODE_CS, "code": "IMP"}},
    )
    sent = bundle(
        "transaction", visit_entry(by_room(rooms[0], make_patient(facility))), visit_entry(stay)
    )
    response = api.post("", sent)
    alone = api.post("Encounter", stay)
    assert response.status_code == alone.status_code
    assert outcome(response)["diagnostics"].endswith(outcome(alone)["diagnostics"])
    assert not Encounter.objects.exists()


def _statement_index(queries, *needles: str) -> int:
    return next(i for i, q in enumerate(queries) if all(n in q["sql"] for n in needles))


def test_record_and_queue_numbers_are_given_last_in_a_transaction(api, facility, rooms):
    # a Bundle of new patients, their visits and diagnoses-to-be: the unit's record-number
    # counter and the rooms' rows (shared by every registration and check-in of the unit) are
    # locked only after every entry's rows are written, so concurrent Bundles wait on each other
    # for the commit only
    groups = []
    for room in rooms:
        ref = urn()
        groups += [
            post_entry(new_patient(), ref),
            visit_entry(by_room(room, None, subject={"reference": ref})),
        ]
    with CaptureQueriesContext(connection) as ctx:
        response = api.post("", bundle("transaction", *groups))
    assert response.status_code == 200, response.content
    queries = ctx.captured_queries
    visits = _statement_index(queries, 'INSERT INTO "patients_encounter"')
    counter = _statement_index(queries, "patients_recordnumbercounter")
    room_lock = _statement_index(queries, 'FROM "core_clinicroom"', "FOR NO KEY UPDATE")
    assert visits < counter < room_lock
    # and the answers carry the numbers given: consecutive record numbers, one per patient
    entries = body(response)["entry"]
    patient_ids = [int(e["resource"]["id"]) for e in entries[0::2]]
    stored = dict(
        PatientIdentifier.objects.filter(
            patient_id__in=patient_ids, system=IdentifierSystem.MRN, facility=facility
        ).values_list("patient_id", "value")
    )
    answered = {
        int(e["resource"]["id"]): [
            i["value"]
            for i in e["resource"]["identifier"]
            if i["value"] == stored[int(e["resource"]["id"])]
        ]
        for e in entries[0::2]
    }
    assert all(len(found) == 1 for found in answered.values())
    serials = sorted(int(stored[pk].rsplit("-", 1)[1]) for pk in patient_ids)
    assert serials == list(range(serials[0], serials[0] + len(rooms)))
    assert all(stored[pk].startswith(f"{facility.code}-") for pk in patient_ids)
    # each visit its room's first number of the day, audited with it
    for entry in entries[1::2]:
        ticket = QueueTicket.objects.get(encounter_id=entry["resource"]["id"])
        assert ticket.number == 1
        event = AuditEvent.objects.get(
            action="encounter.check_in", target_id=entry["resource"]["id"]
        )
        assert event.detail["queue_number"] == 1


def test_a_transaction_refused_after_its_patients_uses_no_record_number(api, facility, rooms):
    # the second visit names no room of the unit: nothing is kept, no serial is spent
    first, second = urn(), urn()
    sent = bundle(
        "transaction",
        post_entry(new_patient(), first),
        post_entry(new_patient(), second),
        visit_entry(by_room(rooms[0], None, subject={"reference": first})),
        visit_entry(
            {
                **by_room(rooms[0], None, subject={"reference": second}),
                "location": [_room_code("P99", rooms[0])],
            }
        ),
    )
    assert api.post("", sent).status_code == 422
    ok = api.post("", bundle("transaction", post_entry(new_patient(), urn())))
    created = body(ok)["entry"][0]["resource"]["id"]
    mrn = PatientIdentifier.objects.get(patient_id=created, system=IdentifierSystem.MRN)
    assert mrn.value == f"{facility.code}-000001"
