"""Deposits of a stay and the settlement at discharge: collect the rest or give back the surplus."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from billing.models import (
    Deposit,
    DepositStatus,
    InvoiceStatus,
    Payment,
    Refund,
    RefundKind,
    RefundStatus,
)
from billing.services import deposit_take, deposit_void, shift_open, shift_report, stay_settle
from patients.clinical_choices import EncounterStatus
from tests.billing.factories import billed_stay_invoice, billed_visit_invoice, cashier_at

STAY_TOTAL = Decimal("900000.00")  # 3 bed-days at 300,000


@pytest.fixture
def desk(facility):
    cashier = cashier_at(facility)
    return cashier, shift_open(actor=cashier, facility=facility)


def _deposit(facility, desk, encounter, amount, key, method="cash"):
    cashier, shift = desk
    return deposit_take(
        actor=cashier,
        facility=facility,
        shift=shift,
        encounter=encounter,
        amount=amount,
        method=method,
        idempotency_key=key,
    )


def _settle(facility, desk, invoice, key="settle"):
    cashier, shift = desk
    return stay_settle(
        actor=cashier,
        facility=facility,
        shift=shift,
        invoice=invoice,
        method="cash",
        idempotency_key=key,
    )


@pytest.mark.django_db
def test_several_deposits_then_settlement_gives_back_the_surplus(facility, desk):
    # given
    invoice = billed_stay_invoice(facility, cashier=desk[0])
    assert invoice.patient_amount == STAY_TOTAL
    _deposit(facility, desk, invoice.encounter, "500000", "d1")
    _deposit(facility, desk, invoice.encounter, "700000", "d2", method="transfer")

    # when
    result = _settle(facility, desk, invoice)

    # then
    invoice.refresh_from_db()
    assert result.deposits_total == Decimal("1200000.00")
    assert result.payment is None and result.returned == Decimal("300000.00")
    assert result.refund.kind == RefundKind.DEPOSIT_SURPLUS
    assert result.refund.status == RefundStatus.COMPLETED
    assert invoice.status == InvoiceStatus.SETTLED and invoice.paid_amount == STAY_TOTAL
    assert invoice.deposits_applied == Decimal("1200000.00")
    assert set(Deposit.objects.values_list("status", flat=True)) == {DepositStatus.APPLIED}
    cash = next(r for r in shift_report(shift=desk[1]).rows if r.method == "cash")
    assert cash.expected == Decimal("200000.00")  # 500,000 in, 300,000 back


@pytest.mark.django_db
def test_settlement_collects_the_rest_when_deposits_fall_short(facility, desk):
    # given
    invoice = billed_stay_invoice(facility, cashier=desk[0])
    _deposit(facility, desk, invoice.encounter, "600000", "d1")

    # when
    result = _settle(facility, desk, invoice)

    # then
    assert result.refund is None and result.collected == Decimal("300000.00")
    assert result.payment.is_settlement and result.payment.shift_id == desk[1].pk
    invoice.refresh_from_db()
    assert invoice.amount_due == 0 and invoice.status == InvoiceStatus.SETTLED


@pytest.mark.django_db
def test_deposits_matching_the_bill_settle_with_no_money_moving(facility, desk):
    # given
    invoice = billed_stay_invoice(facility, cashier=desk[0])
    _deposit(facility, desk, invoice.encounter, "900000", "d1")

    # when
    result = _settle(facility, desk, invoice)

    # then
    assert result.payment is None and result.refund is None
    assert not Payment.objects.exists() and not Refund.objects.exists()


@pytest.mark.django_db
def test_settling_twice_with_the_same_key_returns_the_first_and_another_key_is_refused(
    facility, desk
):
    # given
    invoice = billed_stay_invoice(facility, cashier=desk[0])
    _deposit(facility, desk, invoice.encounter, "100000", "d1")
    first = _settle(facility, desk, invoice, key="s1")

    # when
    again = _settle(facility, desk, invoice, key="s1")

    # then
    assert again.payment.pk == first.payment.pk and Payment.objects.count() == 1
    with pytest.raises(ValidationError) as exc:
        _settle(facility, desk, invoice, key="s2")
    assert "đã được quyết toán" in " ".join(exc.value.messages)


@pytest.mark.django_db
def test_no_settlement_before_discharge_and_no_deposit_after(facility, desk):
    # given
    invoice = billed_stay_invoice(facility, cashier=desk[0])
    stay = invoice.encounter
    stay.status = EncounterStatus.ADMITTED
    stay.save()

    # when / then
    with pytest.raises(ValidationError) as exc:
        _settle(facility, desk, invoice)
    assert "chưa ra viện" in " ".join(exc.value.messages)

    stay.status = EncounterStatus.DISCHARGED
    stay.save()
    _settle(facility, desk, invoice)
    with pytest.raises(ValidationError) as exc:
        _deposit(facility, desk, stay, "100000", "late")
    assert "đã quyết toán" in " ".join(exc.value.messages)


@pytest.mark.django_db
def test_deposits_only_for_inpatients_and_positive(facility, desk, doctor):
    # given
    outpatient = billed_visit_invoice(facility, doctor=doctor, cashier=desk[0]).encounter
    stay = billed_stay_invoice(facility, cashier=desk[0]).encounter

    # when / then
    with pytest.raises(ValidationError) as exc:
        _deposit(facility, desk, outpatient, "100000", "o1")
    assert "nội trú" in " ".join(exc.value.messages)
    for amount in ("0", "-100"):
        with pytest.raises(ValidationError):
            _deposit(facility, desk, stay, amount, f"bad{amount}")
    assert not Deposit.objects.exists()


@pytest.mark.django_db
def test_retried_deposit_returns_the_first(facility, desk):
    # given
    stay = billed_stay_invoice(facility, cashier=desk[0]).encounter

    # when
    first = _deposit(facility, desk, stay, "200000", "same")
    again = _deposit(facility, desk, stay, "200000", "same")

    # then
    assert first.pk == again.pk and Deposit.objects.count() == 1


@pytest.mark.django_db
def test_voided_deposit_is_not_set_against_the_bill(facility, desk):
    # given
    invoice = billed_stay_invoice(facility, cashier=desk[0])
    wrong = _deposit(facility, desk, invoice.encounter, "5000000", "d1")
    deposit_void(actor=desk[0], facility=facility, deposit=wrong, reason="Gõ thừa số 0")
    _deposit(facility, desk, invoice.encounter, "500000", "d2")

    # when
    result = _settle(facility, desk, invoice)

    # then
    wrong.refresh_from_db()
    assert wrong.status == DepositStatus.VOIDED and wrong.void_reason == "Gõ thừa số 0"
    assert result.deposits_total == Decimal("500000.00")
    assert result.collected == Decimal("400000.00")
