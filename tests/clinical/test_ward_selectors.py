"""The bed board of a department: every bed, free or with its occupant; a fixed query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ehealth.core.models import AuditEvent, User
from patients.clinical.inpatient import admission_create, transfer_create
from patients.clinical.ward_selectors import bed_board, free_beds, stay_course
from tests.clinical.inpatient_factories import make_department_with_beds, nurse_at
from tests.core.factories import BedFactory, WardFactory
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


def _admit(nurse, facility, department, bed, name="Lê Văn Cường"):
    return admission_create(
        actor=nurse,
        facility=facility,
        patient=make_patient(facility, full_name=name),
        department_id=department.pk,
        bed_id=bed.pk if bed else None,
        source="emergency",
        reason="Cấp cứu",
        admitted_at=timezone.now() - timedelta(hours=5),
    )


def test_the_board_shows_every_bed_with_its_ward_occupant_and_stay(facility):
    # given a department with two wards: 3 beds in one, 1 in the other; one bed taken
    nurse = nurse_at(facility)
    department, ward_a, beds = make_department_with_beds(facility, beds=3)
    ward_b = WardFactory(department=department)
    lone_bed = BedFactory(ward=ward_b)
    stay = _admit(nurse, facility, department, beds[1], name="Phạm Thị Dung")
    # when the nurse opens the board
    board = bed_board(user=nurse, department_id=department.pk)
    # then every bed is there, by ward, the occupant named with the stay and since when
    assert {b.bed_id for b in board} == {*(b.pk for b in beds), lone_bed.pk}
    taken = next(b for b in board if b.bed_id == beds[1].pk)
    assert not taken.is_free
    assert (taken.patient_id, taken.patient_name) == (stay.patient_id, "Phạm Thị Dung")
    assert taken.encounter_id == stay.pk
    assert taken.since == stay.admitted_at
    assert (taken.ward_id, taken.ward_name) == (ward_a.pk, ward_a.name)
    free = [b for b in board if b.is_free]
    assert {b.bed_id for b in free} == {beds[0].pk, beds[2].pk, lone_bed.pk}
    assert all(b.patient_id is None and b.encounter_id is None for b in free)
    # and the free-bed list of the forms agrees
    assert {b.bed_id for b in free_beds(user=nurse, department_id=department.pk)} == {
        b.bed_id for b in free
    }
    # and showing the occupant was audited, with ids only
    event = AuditEvent.objects.get(action="bed_board.view")
    assert event.patient_id == stay.patient_id
    assert event.detail == {"department_id": department.pk}


def test_a_bed_freed_by_a_transfer_shows_free_and_the_new_one_taken(facility):
    nurse = nurse_at(facility)
    department, _ward, beds = make_department_with_beds(facility, beds=2)
    stay = _admit(nurse, facility, department, beds[0])
    transfer_create(
        actor=nurse,
        facility=facility,
        encounter=stay,
        to_department_id=department.pk,
        to_bed_id=beds[1].pk,
        reason="Đổi giường",
    )
    board = {b.bed_id: b for b in bed_board(user=nurse, department_id=department.pk)}
    assert board[beds[0].pk].is_free
    assert board[beds[1].pk].encounter_id == stay.pk


def _board_queries(facility, beds: int, occupied: int) -> int:
    nurse = nurse_at(facility)
    department, _ward, bed_list = make_department_with_beds(facility, beds=beds)
    for bed in bed_list[:occupied]:
        _admit(nurse, facility, department, bed)
    user = User.objects.get(pk=nurse.pk)  # a fresh request: nothing cached on the user
    with CaptureQueriesContext(connection) as ctx:
        board = bed_board(user=user, department_id=department.pk)
    assert len(board) == beds
    assert sum(not b.is_free for b in board) == occupied
    return len(ctx.captured_queries)


def test_the_board_takes_the_same_number_of_queries_for_5_and_40_beds(facility):
    # given a department of 5 beds (3 taken) and one of 40 beds (30 taken)
    small = _board_queries(facility, beds=5, occupied=3)
    large = _board_queries(facility, beds=40, occupied=30)
    # then the number of queries does not grow with the beds
    assert small == large
    assert large <= 6


def test_a_department_of_another_facility_answers_404(facility, other_facility):
    nurse = nurse_at(facility)
    other_department, _ward, _beds = make_department_with_beds(other_facility, beds=2)
    with pytest.raises(Http404):
        bed_board(user=nurse, department_id=other_department.pk)
    with pytest.raises(Http404):
        free_beds(user=nurse, department_id=other_department.pk)
    with pytest.raises(Http404):
        bed_board(user=nurse, department_id="not-a-number")


def test_the_course_of_a_stay_lists_beds_moves_and_is_audited(facility):
    nurse = nurse_at(facility)
    department, _ward, beds = make_department_with_beds(facility, beds=2)
    stay = _admit(nurse, facility, department, beds[0])
    transfer_create(
        actor=nurse,
        facility=facility,
        encounter=stay,
        to_department_id=department.pk,
        to_bed_id=beds[1].pk,
        reason="Đổi giường",
    )
    course = stay_course(user=nurse, encounter_id=stay.pk)
    assert [o.bed_id for o in course.occupancies] == [beds[0].pk, beds[1].pk]
    assert course.current_bed.bed_id == beds[1].pk
    assert [t.reason for t in course.transfers] == ["Đổi giường"]
    assert AuditEvent.objects.filter(
        action="stay.view", target_id=str(stay.pk), patient_id=stay.patient_id
    ).exists()
