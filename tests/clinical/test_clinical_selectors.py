"""Clinical reads: encounter visibility, the worklist, the patient's record, ICD-10 search."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ehealth.core.models import Role
from patients.clinical.examination import (
    PrescriptionItemInput,
    allergy_record,
    diagnosis_set,
    encounter_update_notes,
    order_create,
    prescription_add_item,
)
from patients.clinical.results import ResultValueInput, result_enter
from patients.clinical.selectors import (
    doctor_worklist,
    encounter_get,
    icd_search,
    patient_record,
)
from patients.clinical_choices import EncounterStatus
from patients.models import Diagnosis
from patients.services import patient_share_with_facility
from tests.clinical.factories import (
    make_drug,
    make_encounter,
    make_icd,
    make_room,
    make_service,
    make_visit_in_examination,
    start_examination,
)
from tests.core.factories import make_staff
from tests.patients.factories import give_record_number, make_patient


@pytest.fixture
def icd(db):
    make_icd(
        "J06.9", "Nhiễm trùng đường hô hấp trên cấp", name_en="Acute upper respiratory infection"
    )
    make_icd("J02.9", "Viêm họng cấp", name_en="Acute pharyngitis")
    make_icd("I10", "Tăng huyết áp vô căn (nguyên phát)", name_en="Essential hypertension")
    make_icd("A00.0", "Bệnh tả cũ", valid_to=timezone.localdate() - timedelta(days=400))


# --- Visibility -------------------------------------------------------------------------


def test_an_encounter_of_another_facility_is_404_until_the_patient_is_shared(
    facility, other_facility, doctor
):
    # given a patient known at both facilities, seen at the other one
    patient = make_patient(facility)
    foreign = make_encounter(facility=other_facility, patient=patient)
    # then
    with pytest.raises(Http404):
        encounter_get(user=doctor, pk=foreign.pk)
    # when the other facility shares the chart with ours
    sharer = make_staff(other_facility, Role.DOCTOR)
    patient_share_with_facility(
        actor=sharer,
        facility=other_facility,
        patient=patient,
        target_facility=facility,
        reason="Chuyển tuyến",
    )
    # then
    assert encounter_get(user=doctor, pk=foreign.pk).pk == foreign.pk


@pytest.mark.parametrize("bad", [None, "abc", 10**9])
def test_missing_or_garbage_ids_are_404(doctor, bad):
    with pytest.raises(Http404):
        encounter_get(user=doctor, pk=bad)


def test_a_receptionist_reads_no_encounter(facility, receptionist):
    encounter = make_encounter(facility=facility)
    with pytest.raises(Http404):
        encounter_get(user=receptionist, pk=encounter.pk)


# --- Worklist ---------------------------------------------------------------------------


def test_the_worklist_shows_todays_queue_with_results_waiting(
    facility, doctor, staff_factory, midday
):
    # given a room with three patients; the second has a lab result that came back
    room = make_room(facility)
    visits = [
        make_encounter(
            facility=facility,
            room=room,
            with_ticket=True,
            started_at=timezone.now() - timedelta(minutes=30 - i),
        )
        for i in range(3)
    ]
    yesterday = make_encounter(
        facility=facility,
        room=room,
        with_ticket=True,
        started_at=timezone.now() - timedelta(days=1, hours=1),
    )
    # and a patient of another room, not on this list
    make_visit_in_examination(facility, doctor, room=make_room(facility))
    second = start_examination(visits[1], doctor, facility)
    order = order_create(
        actor=doctor, facility=facility, encounter=second, service_id=make_service().pk
    )
    order_create(actor=doctor, facility=facility, encounter=second, service_id=make_service().pk)
    nurse = staff_factory(facility, Role.NURSE)
    result_enter(
        actor=nurse,
        facility=facility,
        order=order,
        values=[ResultValueInput("GLU", "Glucose", "9", "mmol/L", "3.9", "6.4")],
        expected_version=order.version,
    )
    # when
    worklist = doctor_worklist(user=doctor, facility=facility, room_id=room.pk)
    # then
    assert [e.encounter_id for e in worklist] == [v.pk for v in visits]
    assert yesterday.pk not in {e.encounter_id for e in worklist}
    flagged = worklist[1]
    assert flagged.encounter_status == EncounterStatus.IN_EXAMINATION
    assert (flagged.pending_orders, flagged.resulted_orders) == (1, 1)
    assert flagged.results_waiting and flagged.abnormal_results == 1
    assert not worklist[0].results_waiting
    # and once the doctor saves the visit, the result is no longer new
    encounter_update_notes(
        actor=doctor,
        facility=facility,
        encounter=second,
        expected_version=second.version,
        examination_findings="Đã xem kết quả",
    )
    again = doctor_worklist(user=doctor, facility=facility, room_id=room.pk)
    assert not again[1].results_waiting


def _queue(facility, room, n):
    for _ in range(n):
        make_encounter(facility=facility, room=room, with_ticket=True)


def test_the_worklist_runs_a_fixed_number_of_queries(facility, doctor):
    # given
    room_small, room_big = make_room(facility), make_room(facility)
    _queue(facility, room_small, 2)
    _queue(facility, room_big, 20)
    doctor_worklist(user=doctor, facility=facility, room_id=room_small.pk)  # warm caches
    # when
    with CaptureQueriesContext(connection) as small:
        doctor_worklist(user=doctor, facility=facility, room_id=room_small.pk)
    with CaptureQueriesContext(connection) as big:
        assert len(doctor_worklist(user=doctor, facility=facility, room_id=room_big.pk)) == 20
    # then
    assert len(big) == len(small)


def test_the_worklist_of_another_facility_is_404(other_facility, doctor):
    with pytest.raises(Http404):
        doctor_worklist(user=doctor, facility=other_facility)


# --- The patient's record ---------------------------------------------------------------


def _rich_history(patient, facility, doctor, n):
    """`n` concluded-looking visits with diagnoses, results, prescriptions."""
    nurse = make_staff(facility, Role.NURSE)
    drug = make_drug()
    for i in range(n):
        visit = make_visit_in_examination(facility, doctor, patient=patient)
        visit.refresh_from_db()
        diagnosis_set(
            actor=doctor,
            facility=facility,
            encounter=visit,
            main_code="J06.9",
            secondary_codes=["I10"],
            expected_version=visit.version,
        )
        order = order_create(
            actor=doctor, facility=facility, encounter=visit, service_id=make_service().pk
        )
        result_enter(
            actor=nurse,
            facility=facility,
            order=order,
            values=[ResultValueInput("WBC", "Bạch cầu", str(5 + i), "G/L", "4", "10")],
            expected_version=order.version,
        )
        prescription_add_item(
            actor=doctor,
            facility=facility,
            encounter=visit,
            data=PrescriptionItemInput(drug.pk, 1, "viên", "Uống", 2, 5, 10),
        )


def test_the_record_shows_every_visible_encounter_newest_first_with_its_content(
    facility, other_facility, doctor, icd
):
    # given visits here, a visit at a facility that shared the chart, one at a facility that did not
    patient = make_patient(facility)
    give_record_number(patient, other_facility)
    _rich_history(patient, facility, doctor, 2)
    allergy_record(actor=doctor, facility=facility, patient=patient, substance="Penicilin")
    shared_visit = make_encounter(
        facility=other_facility, patient=patient, started_at=timezone.now() + timedelta(minutes=5)
    )
    from tests.core.factories import FacilityFactory

    third = FacilityFactory()
    hidden = make_encounter(facility=third, patient=patient)
    patient_share_with_facility(
        actor=make_staff(other_facility, Role.DOCTOR),
        facility=other_facility,
        patient=patient,
        target_facility=facility,
        reason="Hội chẩn",
    )
    # when
    record = patient_record(user=doctor, patient_id=patient.pk)
    # then
    ids = [e.pk for e in record.encounters]
    assert ids[0] == shared_visit.pk  # newest first
    assert hidden.pk in ids  # the share covers the patient's encounters everywhere
    assert [e.started_at for e in record.encounters] == sorted(
        (e.started_at for e in record.encounters), reverse=True
    )
    with_dx = [e for e in record.encounters if e.facility_id == facility.pk]
    assert all([d.icd_code for d in e.diagnoses.all()] == ["J06.9", "I10"] for e in with_dx)
    assert [a.substance for a in record.allergies] == ["Penicilin"]
    assert len(record.active_prescriptions) == 2
    assert len(record.latest_results) == 2
    assert record.latest_results[0].resulted_at >= record.latest_results[1].resulted_at


def test_the_record_hides_encounters_of_facilities_that_did_not_share(
    facility, other_facility, doctor
):
    # given
    patient = make_patient(facility)
    mine = make_encounter(facility=facility, patient=patient)
    theirs = make_encounter(facility=other_facility, patient=patient)
    # when
    record = patient_record(user=doctor, patient_id=patient.pk)
    # then
    assert [e.pk for e in record.encounters] == [mine.pk]
    assert theirs.pk not in [e.pk for e in record.encounters]


@pytest.mark.parametrize("n", [3, 30])
def test_the_record_query_count_does_not_grow_with_encounters(
    facility, doctor, icd, n, django_assert_max_num_queries
):
    # given n visits with diagnoses, results and prescriptions
    patient = make_patient(facility)
    _rich_history(patient, facility, doctor, n)
    patient_record(user=doctor, patient_id=patient.pk)  # warm the permission caches
    # when / then: the same ceiling for 3 and for 30 encounters
    with django_assert_max_num_queries(12):
        record = patient_record(user=doctor, patient_id=patient.pk)
        assert len(record.encounters) == n
        assert all(len(e.diagnoses.all()) == 2 for e in record.encounters)
        assert all(len(o.values.all()) == 1 for o in record.latest_results)
        assert all(len(rx.items.all()) == 1 for rx in record.active_prescriptions)


def test_diagnoses_in_the_record_are_only_the_active_ones(facility, doctor, icd):
    patient = make_patient(facility)
    _rich_history(patient, facility, doctor, 1)
    visit = patient.encounters.get()
    visit.refresh_from_db()
    diagnosis_set(
        actor=doctor,
        facility=facility,
        encounter=visit,
        main_code="J02.9",
        secondary_codes=[],
        expected_version=visit.version,
    )
    record = patient_record(user=doctor, patient_id=patient.pk)
    assert [d.icd_code for d in record.encounters[0].diagnoses.all()] == ["J02.9"]
    assert Diagnosis.objects.filter(voided_at__isnull=False).count() == 2


# --- ICD-10 search ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ("J0", ["J02.9", "J06.9"]),
        ("j069", ["J06.9"]),
        ("viem hong", ["J02.9"]),
        ("tăng huyết", ["I10"]),
        ("HUYET AP", ["I10"]),
        ("pharyngitis", ["J02.9"]),
        ("bệnh tả", []),  # retired code
        ("", []),
    ],
)
def test_icd_search_by_code_prefix_or_name_without_diacritics(icd, query, codes):
    assert [c.code for c in icd_search(query=query)] == codes


def test_results_are_new_on_the_worklist_until_the_doctor_opens_the_visit(
    client, facility, doctor, staff_factory
):
    # given a visit in examination whose lab result came back
    from django.urls import reverse

    room = make_room(facility)
    visit = make_visit_in_examination(facility, doctor, room=room)
    order = order_create(
        actor=doctor, facility=facility, encounter=visit, service_id=make_service().pk
    )
    result_enter(
        actor=staff_factory(facility, Role.NURSE),
        facility=facility,
        order=order,
        values=[ResultValueInput("GLU", "Glucose", "5", "mmol/L", "3.9", "6.4")],
        expected_version=order.version,
    )
    version = type(visit).objects.get(pk=visit.pk).version
    assert doctor_worklist(user=doctor, facility=facility, room_id=room.pk)[0].results_waiting
    # when the doctor opens the visit page
    client.force_login(doctor)
    assert client.get(reverse("clinic:visit", args=[visit.pk])).status_code == 200
    # then the result is no longer new, and nobody's open form became stale
    assert not doctor_worklist(user=doctor, facility=facility, room_id=room.pk)[0].results_waiting
    visit.refresh_from_db()
    assert visit.last_reviewed_at is not None and visit.version == version
