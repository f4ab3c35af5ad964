"""Cashier shifts: open with a float, one open shift per cashier, close with counted money per
method; the report shows expected vs counted and the differences; a closed shift takes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import CashierShift, ShiftStatus
from billing.services import (
    deposit_take,
    payment_take,
    payment_void,
    shift_close,
    shift_open,
    shift_report,
)
from tests.billing.factories import billed_stay_invoice, billed_visit_invoice, cashier_at


@pytest.mark.django_db
def test_open_a_shift_with_a_float(facility):
    # given
    cashier = cashier_at(facility)

    # when
    shift = shift_open(actor=cashier, facility=facility, opening_float="300000")

    # then
    assert shift.status == ShiftStatus.OPEN and shift.opening_float == Decimal("300000.00")
    assert shift.opened_by == cashier and shift.facility == facility


@pytest.mark.django_db
def test_one_open_shift_per_cashier(facility):
    # given
    cashier = cashier_at(facility)
    shift_open(actor=cashier, facility=facility)

    # when / then: the service refuses clearly
    with pytest.raises(ValidationError) as exc:
        shift_open(actor=cashier, facility=facility)
    assert "chưa đóng" in " ".join(exc.value.messages)
    # and the database refuses on its own
    with pytest.raises(IntegrityError), transaction.atomic():
        CashierShift.objects.create(facility=facility, opened_by=cashier, opened_at=timezone.now())
    assert CashierShift.objects.filter(opened_by=cashier).count() == 1


@pytest.mark.django_db
def test_negative_float_and_staff_without_permission_are_refused(facility, doctor):
    with pytest.raises(ValidationError):
        shift_open(actor=cashier_at(facility), facility=facility, opening_float="-1")
    with pytest.raises(PermissionDenied):
        shift_open(actor=doctor, facility=facility)
    assert not CashierShift.objects.exists()


@pytest.mark.django_db
def test_close_report_expected_vs_counted_per_method(facility, doctor):
    # given: float 200,000; cash 1,000,000 and a voided cash payment; card 250,000 deposit
    cashier = cashier_at(facility)
    shift = shift_open(actor=cashier, facility=facility, opening_float="200000")
    invoice = billed_visit_invoice(facility, doctor=doctor, cashier=cashier)
    mistaken = payment_take(
        actor=cashier,
        facility=facility,
        shift=shift,
        invoice=invoice,
        amount="1000000",
        method="transfer",
        idempotency_key="p0",
    )
    payment_void(actor=cashier, facility=facility, payment=mistaken, reason="Chọn nhầm hình thức")
    payment_take(
        actor=cashier,
        facility=facility,
        shift=shift,
        invoice=invoice,
        amount="1000000",
        method="cash",
        idempotency_key="p1",
    )
    stay_invoice = billed_stay_invoice(facility, cashier=cashier)
    deposit_take(
        actor=cashier,
        facility=facility,
        shift=shift,
        encounter=stay_invoice.encounter,
        amount="250000",
        method="card",
        idempotency_key="d1",
    )

    # when: the drawer is 50,000 short, the card terminal matches
    report = shift_close(
        actor=cashier,
        facility=facility,
        shift=shift,
        counted={"cash": "1150000", "card": "250000"},
    )

    # then
    rows = {r.method: r for r in report.rows}
    assert (rows["cash"].expected, rows["cash"].counted, rows["cash"].difference) == (
        Decimal("1200000.00"),
        Decimal("1150000.00"),
        Decimal("-50000.00"),
    )
    assert rows["card"].expected == rows["card"].counted == Decimal("250000.00")
    assert rows["card"].difference == 0
    assert rows["transfer"].expected == 0 and rows["transfer"].counted == 0
    assert report.difference_total == Decimal("-50000.00")
    assert (report.payments, report.deposits) == (1, 1)
    shift.refresh_from_db()
    assert shift.status == ShiftStatus.CLOSED and shift.closed_at is not None
    assert shift.expected["cash"] == "1200000.00" and shift.counted["cash"] == "1150000.00"
    # the report can be read again later, unchanged
    assert shift_report(shift=shift).rows == report.rows


@pytest.mark.django_db
def test_a_closed_shift_accepts_nothing_more(facility, doctor):
    # given
    cashier = cashier_at(facility)
    shift = shift_open(actor=cashier, facility=facility)
    invoice = billed_visit_invoice(facility, doctor=doctor, cashier=cashier)
    shift_close(actor=cashier, facility=facility, shift=shift, counted={"cash": "0"})

    # when / then
    with pytest.raises(ValidationError) as exc:
        payment_take(
            actor=cashier,
            facility=facility,
            shift=shift,
            invoice=invoice,
            amount="1000",
            method="cash",
            idempotency_key="late",
        )
    assert "đã đóng" in " ".join(exc.value.messages)
    with pytest.raises(ValidationError):
        shift_close(actor=cashier, facility=facility, shift=shift, counted={"cash": "0"})
    # and a new shift may be opened afterwards
    assert shift_open(actor=cashier, facility=facility).status == ShiftStatus.OPEN


@pytest.mark.django_db
def test_close_refuses_bad_counts(facility):
    # given
    cashier = cashier_at(facility)
    shift = shift_open(actor=cashier, facility=facility)

    # when / then
    for counted in ({"cash": "-1"}, {"cheque": "10"}, {"cash": "x"}):
        with pytest.raises(ValidationError):
            shift_close(actor=cashier, facility=facility, shift=shift, counted=counted)
    shift.refresh_from_db()
    assert shift.status == ShiftStatus.OPEN
