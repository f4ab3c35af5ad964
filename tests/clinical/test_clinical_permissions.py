"""Permission matrix of the outpatient clinical services and reads:
every role x action x (own facility / another facility / another facility the patient was shared with).

The expected roles per action are written out here, independently of ROLE_PERMISSIONS. A refusal
changes nothing: no new row, the encounter's version unchanged, no audit entry of the action.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from ehealth.core.models import AuditEvent, Role
from patients.clinical.common import local_today
from patients.clinical.examination import (
    PrescriptionItemInput,
    VitalsInput,
    addendum_add,
    allergy_record,
    diagnoses_write,
    diagnosis_set,
    encounter_conclude,
    encounter_start_examination,
    encounter_update_notes,
    order_create,
    prescription_add_item,
    vitals_record,
)
from patients.clinical.reception import CheckInInput, encounter_check_in
from patients.clinical.results import ResultValueInput, result_enter
from patients.clinical.selectors import (
    doctor_worklist,
    encounter_chart,
    encounter_get,
    patient_record,
    queue_for_room,
)
from patients.clinical_choices import ArrivalMode, EncounterStatus
from patients.models import Encounter, ServiceOrder
from patients.services import patient_share_with_facility
from tests.clinical.factories import make_drug, make_encounter, make_icd, make_room, make_service
from tests.core.factories import FacilityFactory, make_staff
from tests.patients.factories import make_patient

R = Role
VIEWERS = {R.DOCTOR, R.NURSE, R.CASHIER, R.INSURANCE_OFFICER}
PATIENT_READERS = VIEWERS | {R.RECEPTIONIST, R.UNIT_ADMIN}

# action -> (roles allowed at the encounter's facility, status the visit must be in, whether a
# share opens it to another facility)
ACTIONS: dict[str, tuple[set[str], str, bool]] = {
    "check_in": ({R.RECEPTIONIST}, EncounterStatus.ARRIVED, False),
    "start_examination": ({R.DOCTOR}, EncounterStatus.ARRIVED, False),
    "update_notes": ({R.DOCTOR}, EncounterStatus.IN_EXAMINATION, False),
    "vitals": ({R.DOCTOR, R.NURSE}, EncounterStatus.IN_EXAMINATION, False),
    "diagnosis": ({R.DOCTOR}, EncounterStatus.IN_EXAMINATION, False),
    "order": ({R.DOCTOR}, EncounterStatus.IN_EXAMINATION, False),
    "prescription": ({R.DOCTOR}, EncounterStatus.IN_EXAMINATION, False),
    "conclude": ({R.DOCTOR}, EncounterStatus.IN_EXAMINATION, False),
    "addendum": ({R.DOCTOR}, EncounterStatus.CONCLUDED, False),
    # an allergy belongs to the patient, not to a visit: a facility the chart is shared with
    # may record one
    "allergy": ({R.DOCTOR, R.NURSE}, EncounterStatus.IN_EXAMINATION, True),
    "result": ({R.DOCTOR, R.NURSE}, EncounterStatus.IN_EXAMINATION, False),
    "queue": ({R.RECEPTIONIST} | VIEWERS, EncounterStatus.ARRIVED, False),
    "worklist": (VIEWERS, EncounterStatus.ARRIVED, False),
    "encounter_get": (VIEWERS, EncounterStatus.IN_EXAMINATION, True),
    "encounter_chart": (VIEWERS, EncounterStatus.IN_EXAMINATION, True),
    "patient_record": (PATIENT_READERS, EncounterStatus.IN_EXAMINATION, True),
}
ROLES = [*Role.values, "anonymous"]
SCOPES = ["own", "other", "shared"]
READS = {"queue", "worklist", "encounter_get", "encounter_chart", "patient_record"}


def _expected(action: str, role: str, scope: str) -> bool:
    roles, _status, share_opens = ACTIONS[action]
    if role not in roles:
        return False
    return scope == "own" or (scope == "shared" and share_opens)


def _perform(action, actor, facility, w):
    e = w["encounter"]
    common = {"actor": actor, "facility": facility}
    if action == "check_in":
        data = CheckInInput(
            patient_id=w["patient"].pk, room_id=w["room"].pk, arrival_mode=ArrivalMode.EMERGENCY
        )
        return encounter_check_in(data=data, **common)
    if action == "start_examination":
        return encounter_start_examination(encounter=e, expected_version=e.version, **common)
    if action == "update_notes":
        return encounter_update_notes(
            encounter=e, expected_version=e.version, history="Ho", **common
        )
    if action == "vitals":
        return vitals_record(encounter=e, data=VitalsInput(pulse=80), **common)
    if action == "diagnosis":
        return diagnosis_set(
            encounter=e,
            main_code="J06.9",
            secondary_codes=[],
            expected_version=e.version,
            **common,
        )
    if action == "order":
        return order_create(encounter=e, service_id=w["service"].pk, **common)
    if action == "prescription":
        data = PrescriptionItemInput(w["drug"].pk, 1, "viên", "Uống", 2, 5, 10)
        return prescription_add_item(encounter=e, data=data, **common)
    if action == "conclude":
        return encounter_conclude(
            encounter=e,
            expected_version=e.version,
            conclusion="follow_up",
            follow_up_date=local_today() + timedelta(days=7),
            **common,
        )
    if action == "addendum":
        return addendum_add(encounter=e, text="Bổ sung", **common)
    if action == "allergy":
        return allergy_record(patient=w["patient"], substance="Sulfamid", **common)
    if action == "result":
        order = w["order"]
        values = [ResultValueInput("GLU", "Glucose", "5", "mmol/L", "3.9", "6.4")]
        return result_enter(order=order, values=values, expected_version=order.version, **common)
    if action == "queue":
        return queue_for_room(user=actor, room_id=w["room"].pk)
    if action == "worklist":
        return doctor_worklist(user=actor, facility=facility, room_id=w["room"].pk)
    if action == "encounter_get":
        return encounter_get(user=actor, pk=e.pk)
    if action == "encounter_chart":
        return encounter_chart(user=actor, pk=e.pk)
    return patient_record(user=actor, patient_id=w["patient"].pk)


@pytest.fixture
def world(db):
    """Facility A holds the patient and the visit; facility B is elsewhere."""
    home, elsewhere = FacilityFactory(), FacilityFactory()
    patient = make_patient(home)
    room = make_room(home)
    make_icd("J06.9", "Nhiễm trùng đường hô hấp trên cấp")
    return {"home": home, "elsewhere": elsewhere, "patient": patient, "room": room}


def _arrange(world, action, scope):
    home = world["home"]
    doctor = make_staff(home, Role.DOCTOR)
    status = ACTIONS[action][1]
    e = make_encounter(
        facility=home, patient=world["patient"], room=world["room"], status=status, with_ticket=True
    )
    diagnoses_write(
        actor=doctor, encounter=e, main_code="J06.9", secondary_codes=[], phase="encounter"
    )
    world.update(
        encounter=e,
        service=make_service(),
        drug=make_drug(),
        order=ServiceOrder.objects.create(
            encounter=e, service=make_service(), ordered_by=doctor, ordered_at=e.started_at
        ),
    )
    if scope == "shared":
        patient_share_with_facility(
            actor=doctor,
            facility=home,
            patient=world["patient"],
            target_facility=world["elsewhere"],
            reason="Chuyển tuyến",
        )


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_clinical_permission_matrix(world, action, role, scope):
    # given
    _arrange(world, action, scope)
    acting_at = world["home"] if scope == "own" else world["elsewhere"]
    actor = AnonymousUser() if role == "anonymous" else make_staff(acting_at, role)
    encounter = world["encounter"]
    before = (Encounter.objects.count(), ServiceOrder.objects.count(), AuditEvent.objects.count())
    # when / then
    if _expected(action, role, scope):
        assert _perform(action, actor, acting_at, world) is not None
        return
    refusals = (Http404,) if action in READS else (PermissionDenied, Http404, ValidationError)
    with pytest.raises(refusals):
        _perform(action, actor, acting_at, world)
    encounter_after = Encounter.objects.get(pk=encounter.pk)
    assert encounter_after.version == encounter.version
    assert encounter_after.status == encounter.status
    after = (Encounter.objects.count(), ServiceOrder.objects.count(), AuditEvent.objects.count())
    assert after == before


@pytest.mark.parametrize(
    "action", ["update_notes", "vitals", "diagnosis", "order", "conclude", "result"]
)
def test_a_doctor_of_another_facility_naming_the_encounters_facility_is_refused(world, action):
    # given a doctor who works elsewhere claims to act at the visit's facility
    _arrange(world, action, "other")
    stranger = make_staff(world["elsewhere"], Role.DOCTOR)
    # when / then
    with pytest.raises(PermissionDenied):
        _perform(action, stranger, world["home"], world)


def test_a_receptionist_sees_the_patients_record_but_no_encounter(world):
    # given
    _arrange(world, "patient_record", "own")
    receptionist = make_staff(world["home"], Role.RECEPTIONIST)
    # when
    record = patient_record(user=receptionist, patient_id=world["patient"].pk)
    # then
    assert record.encounters == [] and record.latest_results == []
