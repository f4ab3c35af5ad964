"""Payments at the cashier's desk: taking, idempotency keys, bad amounts, shifts, voids, all or
nothing on a crash, the receipt data."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from billing import services
from billing.models import Invoice, InvoiceStatus, Payment, PaymentStatus
from billing.pdf.data import ReceiptDoc
from billing.selectors import receipt_data
from billing.services import payment_take, payment_void, shift_close, shift_open
from tests.billing.factories import billed_stay_invoice, billed_visit_invoice, cashier_at

OWED = Decimal("1000000.00")


@pytest.fixture
def desk(facility, doctor):
    """A cashier with an open shift and an invoice of 1,000,000 to collect."""
    cashier = cashier_at(facility)
    shift = shift_open(actor=cashier, facility=facility, opening_float="500000")
    invoice = billed_visit_invoice(facility, doctor=doctor, cashier=cashier)
    return cashier, shift, invoice


def _pay(facility, desk, amount=OWED, key="k-1", method="cash"):
    cashier, shift, invoice = desk
    return payment_take(
        actor=cashier,
        facility=facility,
        shift=shift,
        invoice=invoice,
        amount=amount,
        method=method,
        idempotency_key=key,
    )


@pytest.mark.django_db
def test_full_payment_settles_the_outpatient_invoice(facility, desk):
    # when
    payment = _pay(facility, desk)

    # then
    invoice = Invoice.objects.get(pk=desk[2].pk)
    assert payment.amount == OWED and payment.shift_id == desk[1].pk
    assert payment.status == PaymentStatus.COMPLETED
    assert invoice.paid_amount == OWED and invoice.status == InvoiceStatus.PAID


@pytest.mark.django_db
def test_partial_payments_add_up_to_the_invoice(facility, desk):
    # when
    _pay(facility, desk, amount="400000", key="a")
    _pay(facility, desk, amount="600000", key="b", method="card")

    # then
    invoice = Invoice.objects.get(pk=desk[2].pk)
    assert invoice.amount_due == 0 and invoice.status == InvoiceStatus.PAID


@pytest.mark.django_db
def test_retried_request_returns_the_first_payment_and_never_pays_twice(facility, desk):
    # given
    first = _pay(facility, desk, amount="300000", key="retry-1")

    # when
    again = _pay(facility, desk, amount="300000", key="retry-1")

    # then
    assert again.pk == first.pk
    assert Payment.objects.filter(invoice=desk[2]).count() == 1
    assert Invoice.objects.get(pk=desk[2].pk).paid_amount == Decimal("300000.00")


@pytest.mark.django_db
def test_key_reused_for_another_request_is_refused(facility, desk):
    # given
    _pay(facility, desk, amount="300000", key="used")

    # when / then
    with pytest.raises(ValidationError) as exc:
        _pay(facility, desk, amount="200000", key="used")
    assert "idempotency_key" in exc.value.message_dict
    assert Invoice.objects.get(pk=desk[2].pk).paid_amount == Decimal("300000.00")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "lớn hơn 0"),
        ("-1000", "lớn hơn 0"),
        ("abc", "không hợp lệ"),
        ("1000000.01", "vượt quá số còn phải trả"),
        ("5000000", "vượt quá số còn phải trả"),
    ],
)
@pytest.mark.django_db
def test_bad_amounts_are_refused_and_nothing_written(facility, desk, amount, message):
    # when
    with pytest.raises(ValidationError) as exc:
        _pay(facility, desk, amount=amount)

    # then
    assert message in " ".join(exc.value.messages)
    assert not Payment.objects.exists()
    assert Invoice.objects.get(pk=desk[2].pk).paid_amount == 0


@pytest.mark.django_db
def test_float_amount_is_a_programming_error(facility, desk):
    with pytest.raises(TypeError):
        _pay(facility, desk, amount=1000.0)


@pytest.mark.django_db
def test_second_payment_of_a_paid_invoice_is_refused_clearly(facility, desk):
    # given
    _pay(facility, desk, key="first")

    # when / then
    with pytest.raises(ValidationError) as exc:
        _pay(facility, desk, key="second")
    assert "đã được thanh toán đủ" in " ".join(exc.value.messages)
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_payment_needs_the_cashiers_own_open_shift(facility, desk):
    # given
    cashier, shift, invoice = desk
    colleague = cashier_at(facility)
    shift_open(actor=colleague, facility=facility)

    # when / then: someone else's shift
    with pytest.raises(ValidationError) as exc:
        payment_take(
            actor=colleague,
            facility=facility,
            shift=shift,
            invoice=invoice,
            amount=OWED,
            method="cash",
            idempotency_key="x",
        )
    assert "không phải ca thu ngân của bạn" in " ".join(exc.value.messages)

    # when / then: a closed shift accepts nothing more
    shift_close(actor=cashier, facility=facility, shift=shift, counted={"cash": "500000"})
    with pytest.raises(ValidationError) as exc:
        _pay(facility, desk, key="y")
    assert "Ca thu ngân đã đóng" in " ".join(exc.value.messages)
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_staff_without_the_cashier_permission_cannot_take_payments(facility, desk, doctor):
    # when / then
    with pytest.raises(PermissionDenied):
        payment_take(
            actor=doctor,
            facility=facility,
            shift=desk[1],
            invoice=desk[2],
            amount=OWED,
            method="cash",
            idempotency_key="z",
        )


@pytest.mark.django_db
def test_stay_invoices_are_paid_through_deposits_and_settlement(facility, desk):
    # given
    cashier, shift, _ = desk
    stay_invoice = billed_stay_invoice(facility, cashier=cashier)

    # when / then
    with pytest.raises(ValidationError) as exc:
        payment_take(
            actor=cashier,
            facility=facility,
            shift=shift,
            invoice=stay_invoice,
            amount="100000",
            method="cash",
            idempotency_key="stay",
        )
    assert "quyết toán" in " ".join(exc.value.messages)


@pytest.mark.django_db
def test_a_crash_after_the_payment_row_leaves_nothing(facility, desk, monkeypatch):
    # given: the audit write (after the payment row and the invoice update) fails
    def boom(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.common, "audit_record", boom)

    # when
    with pytest.raises(RuntimeError):
        _pay(facility, desk)

    # then: all or nothing
    assert not Payment.objects.exists()
    invoice = Invoice.objects.get(pk=desk[2].pk)
    assert invoice.paid_amount == 0 and invoice.status == InvoiceStatus.OPEN


@pytest.mark.django_db
def test_the_database_refuses_paying_above_what_is_owed(facility, desk):
    # given: a write that bypasses the service (the last guard against a double charge)
    from django.db import IntegrityError, transaction
    from django.db.models import F

    _pay(facility, desk)

    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=desk[2].pk).update(paid_amount=F("paid_amount") + 1)


@pytest.mark.django_db
def test_void_of_a_mistaken_payment_keeps_it_with_the_reason(facility, desk):
    # given
    cashier, _shift, invoice = desk
    payment = _pay(facility, desk)

    # when
    payment_void(actor=cashier, facility=facility, payment=payment, reason="Thu nhầm người bệnh")

    # then
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.VOIDED and payment.void_reason == "Thu nhầm người bệnh"
    assert payment.voided_by == cashier and payment.voided_at is not None
    assert invoice.paid_amount == 0 and invoice.status == InvoiceStatus.OPEN
    assert Payment.objects.filter(pk=payment.pk).exists()


@pytest.mark.django_db
def test_void_needs_a_reason_and_an_open_shift(facility, desk):
    # given
    cashier, shift, _ = desk
    payment = _pay(facility, desk)

    # when / then: no reason
    with pytest.raises(ValidationError) as exc:
        payment_void(actor=cashier, facility=facility, payment=payment, reason="  ")
    assert "reason" in exc.value.message_dict

    # when / then: the shift is closed -> a refund, not a void
    shift_close(actor=cashier, facility=facility, shift=shift, counted={"cash": "1500000"})
    with pytest.raises(ValidationError) as exc:
        payment_void(actor=cashier, facility=facility, payment=payment, reason="Thu nhầm")
    assert "hoàn tiền" in " ".join(exc.value.messages)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED


@pytest.mark.django_db
def test_receipt_data_of_a_payment(facility, desk, django_assert_max_num_queries):
    # given
    payment = _pay(facility, desk, amount="400000", key="r1")

    # when
    with django_assert_max_num_queries(5):
        doc = receipt_data(payment=payment)

    # then
    assert isinstance(doc, ReceiptDoc)
    assert doc.amount_paid == Decimal("400000.00") and doc.amount_due == Decimal("600000.00")
    assert doc.totals.hospital_amount == OWED and len(doc.lines) == 2
    assert doc.patient_name == desk[2].patient.full_name
    assert doc.method == "cash" and doc.method_label == "Tiền mặt"
    assert doc.number == payment.number and doc.invoice_number == desk[2].number


@pytest.mark.django_db
def test_receipt_of_a_payment_renders_to_pdf(facility, desk):
    # given
    from billing.pdf.receipt import render_receipt

    payment = _pay(facility, desk)

    # when
    pdf = render_receipt(receipt_data(payment=payment))

    # then
    assert pdf.startswith(b"%PDF")
