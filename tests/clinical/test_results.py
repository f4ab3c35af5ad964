"""Results: entered by the performing department, flagged against the range, seen by the doctor."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from ehealth.core.exceptions import ConcurrentEditError
from ehealth.core.models import Role
from patients.clinical.examination import order_create
from patients.clinical.results import ResultValueInput, order_start, result_enter, result_flag
from patients.clinical.selectors import encounter_chart, orders_to_perform
from patients.clinical_choices import OrderStatus
from tests.clinical.factories import make_service, make_visit_in_examination
from tests.core.factories import DepartmentFactory


@pytest.fixture
def nurse(facility, staff_factory):
    return staff_factory(facility, Role.NURSE)


@pytest.fixture
def order(facility, doctor):
    visit = make_visit_in_examination(facility, doctor)
    return order_create(
        actor=doctor, facility=facility, encounter=visit, service_id=make_service().pk
    )


def blood_count() -> list[ResultValueInput]:
    return [
        ResultValueInput("WBC", "Bạch cầu", "12,5", "G/L", "4", "10"),
        ResultValueInput("HGB", "Huyết sắc tố", "95", "g/L", "120", "160"),
        ResultValueInput("PLT", "Tiểu cầu", "250", "G/L", "150", "400"),
        ResultValueInput("HBSAG", "HBsAg", "Âm tính"),
    ]


@pytest.mark.parametrize(
    ("value", "low", "high", "flag"),
    [
        ("3", "4", "10", "L"),
        ("11", "4", "10", "H"),
        ("4", "4", "10", "N"),
        ("10", "4", "10", "N"),
        ("5", None, "4", "H"),
        ("5", None, None, ""),
    ],
)
def test_flags_follow_the_reference_range(value, low, high, flag):
    def d(x):
        return Decimal(x) if x is not None else None

    assert result_flag(d(value), d(low), d(high)) == flag


def test_results_are_entered_flagged_and_visible_to_the_ordering_doctor(
    facility, doctor, nurse, order
):
    # given the sample is taken
    order_start(actor=nurse, facility=facility, order=order)
    order.refresh_from_db()
    # when
    result_enter(
        actor=nurse,
        facility=facility,
        order=order,
        values=blood_count(),
        conclusion="Thiếu máu nhẹ, bạch cầu tăng",
        expected_version=order.version,
    )
    # then
    chart = encounter_chart(user=doctor, pk=order.encounter_id)
    seen = chart.orders[0]
    assert seen.status == OrderStatus.RESULTED and seen.resulted_at is not None
    assert seen.performed_by == nurse
    assert [(v.code, v.flag) for v in seen.values.all()] == [
        ("WBC", "H"),
        ("HGB", "L"),
        ("PLT", "N"),
        ("HBSAG", ""),
    ]
    assert seen.values.all()[0].numeric_value == Decimal("12.5")
    assert seen.result_conclusion == "Thiếu máu nhẹ, bạch cầu tăng"


def test_an_imaging_conclusion_without_values_is_a_result(facility, nurse, order):
    result_enter(
        actor=nurse,
        facility=facility,
        order=order,
        values=[],
        conclusion="Không thấy tổn thương nhu mô phổi",
        expected_version=order.version,
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.RESULTED


def test_an_empty_result_is_refused(facility, nurse, order):
    with pytest.raises(ValidationError) as exc:
        result_enter(
            actor=nurse, facility=facility, order=order, values=[], expected_version=order.version
        )
    assert "conclusion" in exc.value.message_dict


def test_an_upside_down_range_is_a_field_error_and_nothing_is_saved(facility, nurse, order):
    with pytest.raises(ValidationError) as exc:
        result_enter(
            actor=nurse,
            facility=facility,
            order=order,
            values=[ResultValueInput("GLU", "Glucose", "5", "mmol/L", "7", "4")],
            expected_version=order.version,
        )
    assert "Dòng 1" in exc.value.message_dict["values"][0]
    order.refresh_from_db()
    assert order.status == OrderStatus.ORDERED and not order.values.exists()


def test_a_stale_result_entry_is_refused(facility, nurse, order):
    # given someone started it meanwhile
    stale = order.version
    order_start(actor=nurse, facility=facility, order=order)
    # when / then
    with pytest.raises(ConcurrentEditError):
        result_enter(
            actor=nurse,
            facility=facility,
            order=order,
            values=blood_count(),
            expected_version=stale,
        )


def test_a_resulted_order_cannot_be_resulted_again(facility, nurse, order):
    result_enter(
        actor=nurse, facility=facility, order=order, values=blood_count(), expected_version=1
    )
    order.refresh_from_db()
    with pytest.raises(ValidationError):
        result_enter(
            actor=nurse,
            facility=facility,
            order=order,
            values=blood_count(),
            expected_version=order.version,
        )


def test_results_are_entered_at_the_performing_departments_facility(
    facility, other_facility, doctor, staff_factory
):
    # given an order sent to another facility's laboratory
    lab = DepartmentFactory(facility=other_facility)
    visit = make_visit_in_examination(facility, doctor)
    order = order_create(
        actor=doctor,
        facility=facility,
        encounter=visit,
        service_id=make_service().pk,
        performing_department_id=lab.pk,
    )
    here, there = staff_factory(facility, Role.NURSE), staff_factory(other_facility, Role.NURSE)
    # when / then: the ordering facility's staff cannot enter it, the lab's staff can
    with pytest.raises(Http404):
        result_enter(
            actor=here, facility=facility, order=order, values=blood_count(), expected_version=1
        )
    assert [o.pk for o in orders_to_perform(user=there, facility=other_facility)] == [order.pk]
    result_enter(
        actor=there, facility=other_facility, order=order, values=blood_count(), expected_version=1
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.RESULTED


def test_a_receptionist_cannot_enter_results(facility, receptionist, order):
    with pytest.raises(PermissionDenied):
        result_enter(
            actor=receptionist,
            facility=facility,
            order=order,
            values=blood_count(),
            expected_version=1,
        )
