"""Refunds: a reason always, at once up to the threshold, a second person's approval above it
(never the requester), never above what was paid."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from billing.models import Invoice, InvoiceStatus, Refund, RefundStatus
from billing.services import (
    payment_take,
    refund_approve,
    refund_reject,
    refund_request,
    shift_open,
    shift_report,
)
from tests.billing.factories import approver_at, billed_visit_invoice, cashier_at

OWED = Decimal("1000000.00")


@pytest.fixture
def paid(facility, doctor, settings):
    """An invoice of 1,000,000 paid in cash; refunds above 500,000 need approval."""
    settings.REFUND_APPROVAL_THRESHOLD = Decimal("500000")
    cashier = cashier_at(facility)
    shift = shift_open(actor=cashier, facility=facility)
    invoice = billed_visit_invoice(facility, doctor=doctor, cashier=cashier)
    payment_take(
        actor=cashier,
        facility=facility,
        shift=shift,
        invoice=invoice,
        amount=OWED,
        method="cash",
        idempotency_key="pay",
    )
    return cashier, shift, invoice


def _request(facility, paid, amount, key="r", reason="Huỷ xét nghiệm do máy hỏng"):
    cashier, shift, invoice = paid
    return refund_request(
        actor=cashier,
        facility=facility,
        shift=shift,
        invoice=invoice,
        amount=amount,
        method="cash",
        reason=reason,
        idempotency_key=key,
    )


@pytest.mark.django_db
def test_refund_up_to_the_threshold_is_paid_at_once(facility, paid):
    # when
    refund = _request(facility, paid, "500000")

    # then
    invoice = Invoice.objects.get(pk=paid[2].pk)
    assert refund.status == RefundStatus.COMPLETED and refund.completed_at is not None
    assert invoice.paid_amount == Decimal("500000.00") and invoice.status == InvoiceStatus.OPEN
    cash = next(r for r in shift_report(shift=paid[1]).rows if r.method == "cash")
    assert cash.expected == Decimal("500000.00")  # 1,000,000 in, 500,000 out


@pytest.mark.django_db
def test_refund_above_the_threshold_waits_for_a_second_person(facility, paid):
    # given
    refund = _request(facility, paid, "800000")
    assert refund.status == RefundStatus.PENDING
    assert Invoice.objects.get(pk=paid[2].pk).paid_amount == OWED

    # when
    approved = refund_approve(actor=approver_at(facility), facility=facility, refund=refund)

    # then
    assert approved.status == RefundStatus.COMPLETED and approved.approved_by is not None
    assert Invoice.objects.get(pk=paid[2].pk).paid_amount == Decimal("200000.00")


@pytest.mark.django_db
def test_the_requester_cannot_approve_their_own_refund(facility, paid):
    # given: a cashier who also holds the approver role
    from ehealth.core.models import Role, StaffMembership
    from ehealth.core.permissions import forget_cached_permissions

    cashier = paid[0]
    StaffMembership.objects.create(user=cashier, facility=facility, role=Role.UNIT_ADMIN)
    forget_cached_permissions(cashier)
    refund = _request(facility, paid, "800000")

    # when / then
    with pytest.raises(ValidationError) as exc:
        refund_approve(actor=cashier, facility=facility, refund=refund)
    assert "khác người lập" in " ".join(exc.value.messages)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING


@pytest.mark.django_db
def test_the_database_refuses_an_approver_equal_to_the_requester(facility, paid):
    # given
    refund = _request(facility, paid, "800000")

    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.filter(pk=refund.pk).update(approved_by=refund.requested_by)


@pytest.mark.django_db
def test_a_cashier_cannot_approve_refunds(facility, paid):
    # given
    refund = _request(facility, paid, "800000")

    # when / then
    with pytest.raises(PermissionDenied):
        refund_approve(actor=cashier_at(facility), facility=facility, refund=refund)


@pytest.mark.django_db
def test_refund_above_what_was_paid_is_refused(facility, paid):
    # given: 800,000 already waiting for approval
    _request(facility, paid, "800000", key="a")

    # when / then: 300,000 more would exceed the 1,000,000 paid
    with pytest.raises(ValidationError) as exc:
        _request(facility, paid, "300000", key="b")
    assert "vượt quá số đã thu" in " ".join(exc.value.messages)
    with pytest.raises(ValidationError):
        _request(facility, paid, "1000001", key="c")
    assert Refund.objects.count() == 1


@pytest.mark.parametrize(("amount", "reason"), [("0", "Lý do"), ("-5", "Lý do"), ("1000", "")])
@pytest.mark.django_db
def test_refund_needs_a_positive_amount_and_a_reason(facility, paid, amount, reason):
    with pytest.raises(ValidationError):
        _request(facility, paid, amount, reason=reason)
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_rejected_refund_moves_no_money(facility, paid):
    # given
    refund = _request(facility, paid, "800000")

    # when
    refund_reject(actor=approver_at(facility), facility=facility, refund=refund, reason="Sai")

    # then
    refund.refresh_from_db()
    assert refund.status == RefundStatus.REJECTED and refund.rejected_reason == "Sai"
    assert Invoice.objects.get(pk=paid[2].pk).paid_amount == OWED


@pytest.mark.django_db
def test_retried_refund_request_returns_the_first(facility, paid):
    # when
    first = _request(facility, paid, "100000", key="same")
    again = _request(facility, paid, "100000", key="same")

    # then
    assert first.pk == again.pk and Refund.objects.count() == 1
    assert Invoice.objects.get(pk=paid[2].pk).paid_amount == Decimal("900000.00")
