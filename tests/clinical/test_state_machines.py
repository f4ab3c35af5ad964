"""State machines of encounters (both kinds) and orders: every legal and illegal move.

The expected legal moves are written out by hand below, independently of
`patients.clinical_choices`, so a wrong edit of the tables fails here.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from ehealth.core.models import Role
from patients.clinical.common import EncounterLocked, local_today, move
from patients.clinical.examination import (
    diagnoses_write,
    encounter_await_results,
    encounter_conclude,
    encounter_resume_examination,
    encounter_start_examination,
    order_cancel,
)
from patients.clinical.reception import encounter_cancel
from patients.clinical.results import ResultValueInput, order_start, result_enter
from patients.clinical_choices import (
    ENCOUNTER_TRANSITIONS,
    ORDER_TRANSITIONS,
    EncounterKind,
    EncounterStatus,
    OrderStatus,
)
from patients.models import Encounter, IllegalTransition, ServiceOrder
from tests.clinical.factories import make_encounter, make_icd, make_room, make_service

S = EncounterStatus
O = OrderStatus  # noqa: E741

EXPECTED_ENCOUNTER_MOVES = {
    EncounterKind.OUTPATIENT: {
        (S.ARRIVED, S.IN_EXAMINATION),
        (S.ARRIVED, S.CANCELLED),
        (S.IN_EXAMINATION, S.AWAITING_RESULTS),
        (S.IN_EXAMINATION, S.CONCLUDED),
        (S.AWAITING_RESULTS, S.IN_EXAMINATION),
        (S.AWAITING_RESULTS, S.CONCLUDED),
    },
    EncounterKind.INPATIENT: {
        (S.ADMITTED, S.DISCHARGED),
        (S.ADMITTED, S.CANCELLED),
    },
}
EXPECTED_STATES = {
    EncounterKind.OUTPATIENT: {
        S.ARRIVED,
        S.IN_EXAMINATION,
        S.AWAITING_RESULTS,
        S.CONCLUDED,
        S.CANCELLED,
    },
    EncounterKind.INPATIENT: {S.ADMITTED, S.DISCHARGED, S.CANCELLED},
}
EXPECTED_ORDER_MOVES = {
    (O.ORDERED, O.IN_PROGRESS),
    (O.ORDERED, O.RESULTED),
    (O.ORDERED, O.CANCELLED),
    (O.IN_PROGRESS, O.RESULTED),
    (O.IN_PROGRESS, O.CANCELLED),
}


def _table_moves(kind: str) -> set[tuple[str, str]]:
    return {(a, b) for a, targets in ENCOUNTER_TRANSITIONS[kind].items() for b in targets}


@pytest.mark.parametrize("kind", list(EncounterKind))
def test_the_encounter_table_is_exactly_the_expected_one(kind):
    assert set(ENCOUNTER_TRANSITIONS[kind]) == EXPECTED_STATES[kind]
    assert _table_moves(kind) == EXPECTED_ENCOUNTER_MOVES[kind]


def test_the_order_table_is_exactly_the_expected_one():
    assert set(ORDER_TRANSITIONS) == set(OrderStatus)
    assert {(a, b) for a, t in ORDER_TRANSITIONS.items() for b in t} == EXPECTED_ORDER_MOVES


ALL_ENCOUNTER_PAIRS = [
    (kind, a, b)
    for kind in EncounterKind
    for a, b in itertools.product(sorted(EXPECTED_STATES[kind]), list(EncounterStatus))
]


@pytest.mark.parametrize(("kind", "current", "target"), ALL_ENCOUNTER_PAIRS)
def test_every_encounter_move_is_allowed_exactly_when_expected(kind, current, target):
    # given an encounter in `current` (no database needed)
    encounter = Encounter(kind=kind, status=current)
    legal = (current, target) in EXPECTED_ENCOUNTER_MOVES[kind]
    # when / then
    assert encounter.can_move_to(target) is legal
    if legal:
        encounter.move_to(target)
        assert encounter.status == target
    else:
        with pytest.raises(IllegalTransition):
            encounter.move_to(target)
        assert encounter.status == current
        with pytest.raises(ValidationError) as exc:
            move(encounter, target)
        assert "Không thể chuyển lượt khám" in exc.value.message_dict["status"][0]


@pytest.mark.parametrize(
    ("current", "target"), list(itertools.product(list(OrderStatus), list(OrderStatus)))
)
def test_every_order_move_is_allowed_exactly_when_expected(current, target):
    assert ServiceOrder(status=current).can_move_to(target) is (
        (current, target) in EXPECTED_ORDER_MOVES
    )


# --- Through the services: the outpatient moves as staff make them -----------------------

OUTPATIENT_ACTIONS = {
    S.IN_EXAMINATION: "start_or_resume",
    S.AWAITING_RESULTS: "await",
    S.CONCLUDED: "conclude",
    S.CANCELLED: "cancel",
}


def _do(action, current, encounter, doctor, receptionist, facility):
    common = {"facility": facility, "encounter": encounter, "expected_version": encounter.version}
    if action == "start_or_resume":
        service = (
            encounter_resume_examination
            if current == S.AWAITING_RESULTS
            else encounter_start_examination
        )
        return service(actor=doctor, **common)
    if action == "await":
        return encounter_await_results(actor=doctor, **common)
    if action == "conclude":
        return encounter_conclude(
            actor=doctor,
            conclusion="follow_up",
            follow_up_date=local_today() + timedelta(7),
            **common,
        )
    return encounter_cancel(actor=receptionist, reason="Bỏ về", **common)


@pytest.mark.parametrize(
    ("current", "target"),
    list(itertools.product(sorted(EXPECTED_STATES[EncounterKind.OUTPATIENT]), OUTPATIENT_ACTIONS)),
)
def test_outpatient_services_make_exactly_the_legal_moves(
    facility, doctor, receptionist, current, target
):
    # given a visit in `current`, with a main diagnosis and a pending order
    encounter = make_encounter(
        facility=facility, room=make_room(facility), status=current, with_ticket=True
    )
    make_icd("J06.9", "Nhiễm trùng hô hấp trên cấp")
    diagnoses_write(
        actor=doctor, encounter=encounter, main_code="J06.9", secondary_codes=[], phase="encounter"
    )
    ServiceOrder.objects.create(
        encounter=encounter,
        service=make_service(),
        ordered_by=doctor,
        ordered_at=encounter.started_at,
    )
    legal = (current, target) in EXPECTED_ENCOUNTER_MOVES[EncounterKind.OUTPATIENT]
    action = OUTPATIENT_ACTIONS[target]
    # when / then
    if legal:
        moved = _do(action, current, encounter, doctor, receptionist, facility)
        assert moved.status == target
        assert moved.version == encounter.version + 1
    else:
        expected = EncounterLocked if encounter.is_locked else ValidationError
        with pytest.raises(expected):
            _do(action, current, encounter, doctor, receptionist, facility)
        encounter.refresh_from_db()
        assert encounter.status == current


ORDER_ACTIONS = [O.IN_PROGRESS, O.RESULTED, O.CANCELLED]


@pytest.mark.parametrize(
    ("current", "target"), list(itertools.product(list(OrderStatus), ORDER_ACTIONS))
)
def test_order_services_make_exactly_the_legal_moves(
    facility, doctor, staff_factory, current, target
):
    # given an order in `current` of a visit under examination
    nurse = staff_factory(facility, Role.NURSE)
    encounter = make_encounter(facility=facility, status=S.IN_EXAMINATION)
    order = ServiceOrder.objects.create(
        encounter=encounter,
        service=make_service(),
        ordered_by=doctor,
        ordered_at=encounter.started_at,
        status=current,
    )
    legal = (current, target) in EXPECTED_ORDER_MOVES

    def act():
        if target == O.IN_PROGRESS:
            return order_start(actor=nurse, facility=facility, order=order)
        if target == O.RESULTED:
            return result_enter(
                actor=nurse,
                facility=facility,
                order=order,
                values=[ResultValueInput("GLU", "Glucose", "5.2", "mmol/L", "3.9", "6.4")],
                expected_version=order.version,
            )
        return order_cancel(actor=doctor, facility=facility, order=order, reason="Nhầm")

    # when / then
    if legal:
        assert act().status == target
    else:
        with pytest.raises(ValidationError):
            act()
        order.refresh_from_db()
        assert order.status == current


@pytest.mark.parametrize("status", [S.CONCLUDED, S.CANCELLED])
def test_a_closed_visit_refuses_every_state_service(facility, doctor, status):
    encounter = make_encounter(facility=facility, status=status)
    with pytest.raises(EncounterLocked):
        encounter_start_examination(
            actor=doctor, facility=facility, encounter=encounter, expected_version=1
        )
